"""The server's clock, estimated from `Date` headers (the export's `since` cursors depend on it)."""

from __future__ import annotations

import email.utils

import pytest

from mmtakeout.api.server_clock import ServerClock

LOCAL_MS = 1_760_000_000_000


def date_header(epoch_ms: int) -> str:
    return email.utils.formatdate(epoch_ms / 1000, usegmt=True)


def test_without_a_date_the_local_clock_stands_in() -> None:
    clock = ServerClock(lambda: LOCAL_MS)
    clock.observe(None)
    assert clock.now_ms() == LOCAL_MS


@pytest.mark.parametrize("skew_ms", [-600_000, 0, 3_600_000])
def test_a_date_header_sets_the_offset(skew_ms: int) -> None:
    clock = ServerClock(lambda: LOCAL_MS)
    clock.observe(date_header(LOCAL_MS + skew_ms))
    assert clock.now_ms() == LOCAL_MS + skew_ms


def test_the_offset_follows_the_local_clock_as_it_moves_on() -> None:
    local = [LOCAL_MS]
    clock = ServerClock(lambda: local[0])
    clock.observe(date_header(LOCAL_MS - 600_000))
    local[0] += 42_000
    assert clock.now_ms() == LOCAL_MS - 600_000 + 42_000


@pytest.mark.parametrize(
    "header",
    ["", "yesterday", "Mon, 99 Foo 2026 99:99:99 GMT", "Sun, 22 Nov 2026 06:00:00 -0000", "x" * 5000],
)
def test_unreadable_or_zoneless_dates_keep_the_last_estimate(header: str) -> None:
    clock = ServerClock(lambda: LOCAL_MS)
    clock.observe(date_header(LOCAL_MS + 5_000))
    clock.observe(header)
    assert clock.now_ms() == LOCAL_MS + 5_000
