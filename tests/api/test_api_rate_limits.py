"""Rate limits: 429 handling, client-wide pauses and adaptive pacing."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate

import pytest
from api_scripted_server import (
    ScriptedServer,
    TokenBucket,
    assert_token_hidden,
    bucket_limited,
    json_reply,
    rate_limited,
)

from mmtakeout.api import MattermostClient, RateLimited
from mmtakeout.api.pacing import Pacer, RateLimitInfo

ME = {"id": "q1b6tyn3cfgw8mx4b5nhbzn1xe", "username": "alice"}
ClientFactory = Callable[..., MattermostClient]


# -- header parsing ---------------------------------------------------------------------------------


def test_rate_limit_headers_are_delta_seconds() -> None:
    info = RateLimitInfo.from_headers(
        {
            "X-RateLimit-Limit": "101",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": "11",
            "Retry-After": "1",
        }
    )
    assert (info.limit, info.remaining, info.reset, info.retry_after) == (101, 0, 11.0, 1.0)
    assert info.refill_rate_estimate() == pytest.approx(101 / 11)


def test_retry_after_may_be_an_http_date() -> None:
    now = 1_700_000_000.0
    info = RateLimitInfo.from_headers({"Retry-After": formatdate(now + 30, usegmt=True)}, now_wall=now)
    assert info.retry_after == pytest.approx(30, abs=1)


@pytest.mark.parametrize("value", ["soon", "-5", "nan", "inf", ""])
def test_unreadable_values_are_ignored(value: str) -> None:
    info = RateLimitInfo.from_headers({"Retry-After": value, "X-RateLimit-Remaining": value})
    assert info.remaining is None
    assert info.retry_after in (None, 0.0)


def test_absurd_retry_after_is_capped() -> None:
    assert RateLimitInfo.from_headers({"Retry-After": "99999999"}).retry_after == 3600.0


# -- the controller, in virtual time ---------------------------------------------------------------


@dataclass(order=True)
class _Event:
    at: float
    order: int
    kind: str = field(compare=False)
    sent_at: float = field(default=0.0, compare=False)
    headers: dict[str, str] = field(default_factory=dict, compare=False)


def simulate(rate: float, burst: int, *, seconds: float, send_headers: bool = True) -> tuple[int, int]:
    """Eight workers request as fast as the Pacer lets them against a token bucket, in virtual time.

    Returns (successful requests, 429 answers).
    """
    clock = [0.0]
    pacer = Pacer(concurrency=8, clock=lambda: clock[0])
    bucket = TokenBucket(rate, burst)
    latency = random.Random(7)
    counter = itertools.count()
    events: list[_Event] = [_Event(0.0, next(counter), "reserve") for _ in range(8)]
    successes = refused = 0
    while events:
        event = heapq.heappop(events)
        if event.at > seconds:
            break
        clock[0] = event.at
        held_back = event.kind == "start" and pacer.blocked_until > event.at + 1e-9
        if event.kind == "reserve" or held_back:
            heapq.heappush(events, _Event(pacer.reserve(), next(counter), "start"))
        elif event.kind == "start":
            pacer.started(event.at)
            round_trip = 0.02 * latency.uniform(0.7, 1.3)
            allowed, headers = bucket.take(event.at + round_trip / 2)
            if not send_headers:
                headers = {key: value for key, value in headers.items() if key == "Retry-After"}
            kind = "answer" if allowed else "refused"
            heapq.heappush(events, _Event(event.at + round_trip, next(counter), kind, event.at, headers))
        else:
            pacer.answered()
            info = RateLimitInfo.from_headers(event.headers)
            if event.kind == "refused":
                refused += 1
                pacer.observe_rate_limited(info, event.sent_at, backoff=1.0)
            else:
                successes += 1
                pacer.observe(info)
            heapq.heappush(events, _Event(event.at, next(counter), "reserve"))
    return successes, refused


def test_pacing_reaches_the_allowed_rate_of_mattermosts_default_limiter() -> None:
    """10 requests/s with a burst of 100 (Mattermost's defaults) over a 2-minute export."""
    successes, refused = simulate(10, 100, seconds=120)
    allowed = 101 + 10 * 120
    assert successes >= 0.95 * allowed
    assert successes <= allowed
    assert refused <= 2


def test_pacing_adapts_to_a_small_fast_bucket() -> None:
    successes, refused = simulate(100, 20, seconds=30)
    assert successes >= 0.9 * (21 + 100 * 30)
    assert refused <= 5


def test_pacing_without_remaining_headers_still_reaches_most_of_the_rate() -> None:
    """A proxy limiter that only says 429 + Retry-After: slow down on each, speed up in between."""
    successes, refused = simulate(10, 100, seconds=300, send_headers=False)
    assert successes >= 0.9 * (101 + 10 * 300)
    assert refused <= 0.03 * successes


def test_unpaced_client_would_hammer_the_same_limiter() -> None:
    """The control experiment: without a pacer the same load produces a 429 storm."""
    bucket = TokenBucket(10, 100)
    outcomes = [bucket.take(step * 0.0025)[0] for step in range(int(10 / 0.0025))]
    assert outcomes.count(False) > 3000


# -- 429 over real HTTP -----------------------------------------------------------------------------


async def test_429_retry_after_is_honoured(server: ScriptedServer, make_client: ClientFactory) -> None:
    server.script("/api/v4/users/me", rate_limited("1"))
    server.always("/api/v4/users/me", json_reply(ME))
    async with make_client(max_retries=0) as client:
        await client.get_me()
    first, second = server.requests_to("/api/v4/users/me")
    assert second.at - first.at >= 0.95
    assert client.stats.rate_limited == 1


async def test_429_slows_down_the_whole_client(server: ScriptedServer, make_client: ClientFactory) -> None:
    limiter_headers = {"X_RateLimit_Limit": "101", "X_RateLimit_Remaining": "0", "X_RateLimit_Reset": "1"}
    server.script("/api/v4/users/me", rate_limited("1", **limiter_headers))
    server.always("/api/v4/users/me", json_reply(ME))
    server.always("/api/v4/users/me/teams", json_reply([]))
    async with make_client() as client:
        limited = asyncio.create_task(client.get_me())
        await asyncio.sleep(0.2)
        assert server.requests_to("/api/v4/users/me")
        await asyncio.gather(*(client.get_my_teams() for _ in range(3)))
        await limited
    refused_at = server.requests_to("/api/v4/users/me")[0].at
    others = server.requests_to("/api/v4/users/me/teams")
    assert len(others) == 3
    assert all(seen.at - refused_at >= 0.95 for seen in others)
    assert max(seen.at for seen in others) - refused_at < 1.5


async def test_429s_do_not_use_up_the_fault_retries(
    server: ScriptedServer, make_client: ClientFactory
) -> None:
    limiter_headers = {"X_RateLimit_Limit": "100", "X_RateLimit_Remaining": "0", "X_RateLimit_Reset": "1"}
    server.script("/api/v4/users/me", *[rate_limited("0", **limiter_headers) for _ in range(5)])
    server.always("/api/v4/users/me", json_reply(ME))
    async with make_client(max_retries=0) as client:
        assert (await client.get_me()).username == "alice"
    assert client.stats.rate_limited == 5


async def test_429_without_any_header_backs_off(server: ScriptedServer, make_client: ClientFactory) -> None:
    server.script("/api/v4/users/me", rate_limited(None))
    server.always("/api/v4/users/me", json_reply(ME))
    async with make_client() as client:
        await client.get_me()
    first, second = server.requests_to("/api/v4/users/me")
    assert second.at - first.at >= 0.45


async def test_rate_limit_wait_budget_ends_in_rate_limited(
    server: ScriptedServer, make_client: ClientFactory
) -> None:
    server.always("/api/v4/users/me", rate_limited("30"))
    started = time.monotonic()
    async with make_client(max_rate_limit_wait=5) as client:
        with pytest.raises(RateLimited) as caught:
            await client.get_me()
    assert time.monotonic() - started < 2
    assert caught.value.status == 429
    assert_token_hidden(caught.value)


async def test_exhausted_remaining_pauses_before_the_next_request(
    server: ScriptedServer, make_client: ClientFactory
) -> None:
    exhausted = {"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"}
    server.always("/api/v4/users/me", json_reply(ME, headers=exhausted))
    async with make_client() as client:
        await client.get_me()
        await client.get_me()
    first, second = server.requests_to("/api/v4/users/me")
    assert second.at - first.at >= 0.18


async def test_export_against_a_token_bucket_uses_most_of_the_allowance(
    server: ScriptedServer, make_client: ClientFactory
) -> None:
    """Real HTTP, real clock: 40 requests/s, burst 40, eight workers for four seconds."""
    bucket = TokenBucket(40, 40)
    server.always("/api/v4/users/me", bucket_limited(bucket, ME))
    async with make_client() as client:
        started = time.monotonic()

        async def worker() -> None:
            while time.monotonic() - started < 4:
                await client.get_me()

        await asyncio.gather(*(worker() for _ in range(8)))
        elapsed = time.monotonic() - started
    allowed = 41 + 40 * elapsed
    succeeded = client.stats.requests - client.stats.rate_limited
    assert succeeded >= 0.85 * allowed
    assert client.stats.rate_limited <= 3
