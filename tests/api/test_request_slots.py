"""Request slots: never more in flight than the size, and a waiting API read goes before a download."""

from __future__ import annotations

import asyncio

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


async def test_a_waiting_read_goes_before_waiting_downloads() -> None:
    slots = RequestSlots(1)
    order: list[str] = []
    release = asyncio.Event()

    async def request(name: str, urgent: bool) -> None:
        async with slots.slot(urgent=urgent):
            order.append(name)
            if name == "first":
                await release.wait()

    first = asyncio.ensure_future(request("first", urgent=True))
    await asyncio.sleep(0)
    downloads = [asyncio.ensure_future(request(f"download {n}", urgent=False)) for n in range(3)]
    await asyncio.sleep(0)
    read = asyncio.ensure_future(request("page", urgent=True))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, read, *downloads)
    assert order == ["first", "page", "download 0", "download 1", "download 2"]


async def test_a_new_download_does_not_jump_the_queue() -> None:
    slots = RequestSlots(1)
    order: list[str] = []
    hold = asyncio.Event()

    async def request(name: str, urgent: bool) -> None:
        async with slots.slot(urgent=urgent):
            order.append(name)
            await hold.wait()

    tasks = [asyncio.ensure_future(request("read", urgent=True))]
    await asyncio.sleep(0)
    tasks.append(asyncio.ensure_future(request("waiting read", urgent=True)))
    await asyncio.sleep(0)
    hold.set()
    tasks.append(asyncio.ensure_future(request("download", urgent=False)))
    await asyncio.gather(*tasks)
    assert order == ["read", "waiting read", "download"]


async def test_cancelled_waiters_give_their_slot_back() -> None:
    slots = RequestSlots(1)
    hold = asyncio.Event()

    async def holder() -> None:
        async with slots.slot(urgent=True):
            await hold.wait()

    async def waiter(urgent: bool) -> None:
        async with slots.slot(urgent=urgent):
            pytest.fail("a cancelled waiter must not run")

    first = asyncio.ensure_future(holder())
    await asyncio.sleep(0)
    cancelled = [asyncio.ensure_future(waiter(urgent)) for urgent in (True, False)]
    await asyncio.sleep(0)
    for task in cancelled:
        task.cancel()
    hold.set()
    await first
    await asyncio.gather(*cancelled, return_exceptions=True)
    assert slots.free == 1
    async with slots.slot(urgent=False):
        assert slots.free == 0


async def test_a_slot_handed_to_a_task_cancelled_before_it_ran_is_not_lost() -> None:
    slots = RequestSlots(1)
    hold = asyncio.Event()

    async def holder() -> None:
        async with slots.slot(urgent=True):
            await hold.wait()

    async def waiter() -> None:
        async with slots.slot(urgent=True):
            pytest.fail("cancelled before it could run")

    first = asyncio.ensure_future(holder())
    await asyncio.sleep(0)
    second = asyncio.ensure_future(waiter())
    await asyncio.sleep(0)
    hold.set()
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

    async def read() -> None:
        async with slots.slot(urgent=True):
            await reads_done.wait()

    async def download() -> None:
        nonlocal downloads_running, peak_downloads
        async with slots.slot(urgent=False):
            downloads_running += 1
            peak_downloads = max(peak_downloads, downloads_running)
            await asyncio.sleep(0.002)
            downloads_running -= 1

    reader = asyncio.ensure_future(read())
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
