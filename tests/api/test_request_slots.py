"""Request slots: never more in flight than the size, and a waiting API read goes before a download."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import pytest

from mmtakeout.api.slots import RequestSlots


async def test_never_more_in_flight_than_the_slots() -> None:
    slots = RequestSlots(3)
    in_flight = peak = 0

    async def request(urgent: bool) -> None:
        nonlocal in_flight, peak
        async with slots.slot(urgent=urgent):
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.001)
            in_flight -= 1

    await asyncio.gather(*(request(urgent=n % 2 == 0) for n in range(40)))
    assert peak == 3
    assert slots.free == 3


async def _hold(slots: RequestSlots, until: asyncio.Event, *, urgent: bool = True) -> None:
    async with slots.slot(urgent=urgent):
        await until.wait()


async def _record(slots: RequestSlots, order: list[str], name: str, *, urgent: bool) -> None:
    async with slots.slot(urgent=urgent):
        order.append(name)


async def _must_not_run(slots: RequestSlots, *, urgent: bool) -> None:
    async with slots.slot(urgent=urgent):
        pytest.fail("a cancelled waiter must not run")


def _start(work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    return asyncio.ensure_future(work)


async def test_a_waiting_read_goes_before_waiting_downloads() -> None:
    slots = RequestSlots(1)
    order: list[str] = []
    release = asyncio.Event()
    first = _start(_hold(slots, release))
    await asyncio.sleep(0)
    downloads = [_start(_record(slots, order, f"download {n}", urgent=False)) for n in range(3)]
    await asyncio.sleep(0)
    read = _start(_record(slots, order, "page", urgent=True))
    await asyncio.sleep(0)
    assert slots.free == 0 and order == [], "everyone waits for the first request"
    release.set()
    await asyncio.gather(first, read, *downloads)
    assert order == ["page", "download 0", "download 1", "download 2"]


async def test_a_new_download_does_not_jump_the_queue() -> None:
    slots = RequestSlots(1)
    order: list[str] = []
    release = asyncio.Event()
    first = _start(_hold(slots, release))
    await asyncio.sleep(0)
    waiting_read = _start(_record(slots, order, "waiting read", urgent=True))
    await asyncio.sleep(0)
    assert slots.free == 0 and order == [], "the read waits for the first request"
    release.set()
    download = _start(_record(slots, order, "download", urgent=False))
    await asyncio.gather(first, waiting_read, download)
    assert order == ["waiting read", "download"]


async def test_cancelled_waiters_give_their_slot_back() -> None:
    slots = RequestSlots(1)
    release = asyncio.Event()
    first = _start(_hold(slots, release))
    await asyncio.sleep(0)
    cancelled = [_start(_must_not_run(slots, urgent=urgent)) for urgent in (True, False)]
    await asyncio.sleep(0)
    for task in cancelled:
        task.cancel()
    release.set()
    await first
    await asyncio.gather(*cancelled, return_exceptions=True)
    assert slots.free == 1
    async with slots.slot(urgent=False):
        assert slots.free == 0


async def test_a_slot_handed_to_a_task_cancelled_before_it_ran_is_not_lost() -> None:
    slots = RequestSlots(1)
    release = asyncio.Event()
    first = _start(_hold(slots, release))
    await asyncio.sleep(0)
    second = _start(_must_not_run(slots, urgent=True))
    await asyncio.sleep(0)
    release.set()
    await first
    second.cancel()
    await asyncio.gather(second, return_exceptions=True)
    assert slots.free == 1


def test_at_least_one_slot() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RequestSlots(0)


async def test_downloads_leave_a_quarter_of_the_slots_while_reads_are_under_way() -> None:
    slots = RequestSlots(8)
    downloads_running = peak_downloads = 0
    reads_done = asyncio.Event()

    async def download() -> None:
        nonlocal downloads_running, peak_downloads
        async with slots.slot(urgent=False):
            downloads_running += 1
            peak_downloads = max(peak_downloads, downloads_running)
            await asyncio.sleep(0.002)
            downloads_running -= 1

    reader = _start(_hold(slots, reads_done))
    await asyncio.sleep(0)
    downloads = [asyncio.ensure_future(download()) for _ in range(30)]
    await asyncio.sleep(0.02)
    assert peak_downloads == 6, "8 slots, a quarter kept for reads"
    reads_done.set()
    await reader
    await asyncio.gather(*downloads)
    more = [asyncio.ensure_future(download()) for _ in range(30)]
    await asyncio.gather(*more)
    assert peak_downloads == 8, "with no read under way, downloads use every slot"
    assert slots.free == 8
