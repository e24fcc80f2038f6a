"""The client's request slots: a fixed number in flight, where a waiting API read goes before a waiting
download.

A channel's history is a chain of page reads (and the largest channel is the export's long pole),
while file downloads can go whenever a slot is free. Served first come, first served, the downloads
took most slots and the walks waited behind them; with this order the walks keep their pace and the
downloads fill the slots the walks leave free. While API reads are under way, downloads leave a
quarter of the slots to them, so a run of large files cannot hold every slot for seconds.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class RequestSlots:
    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("there must be at least one request slot")
        self._size = size
        self._free = size
        self._busy = {True: 0, False: 0}
        self._waiting: dict[bool, deque[asyncio.Future[None]]] = {True: deque(), False: deque()}

    @asynccontextmanager
    async def slot(self, *, urgent: bool) -> AsyncIterator[None]:
        """Hold one slot for the body of the `async with`; `urgent=False` for downloads."""
        await self._acquire(urgent)
        try:
            yield
        finally:
            self._release(urgent)

    @property
    def free(self) -> int:
        return self._free

    def _may_start(self, urgent: bool) -> bool:
        if self._free == 0:
            return False
        return urgent or not self._busy[True] or self._busy[False] < self._size - self._size // 4

    def _take(self, urgent: bool) -> None:
        self._free -= 1
        self._busy[urgent] += 1

    async def _acquire(self, urgent: bool) -> None:
        if not self._waiting[True] and (urgent or not self._waiting[False]) and self._may_start(urgent):
            self._take(urgent)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[urgent].append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release(urgent)
            raise

    def _release(self, urgent: bool) -> None:
        self._free += 1
        self._busy[urgent] -= 1
        self._hand_out()

    def _hand_out(self) -> None:
        """Give free slots to waiters, urgent ones first; a slot is taken on the waiter's behalf."""
        for urgent in (True, False):
            queue = self._waiting[urgent]
            while queue and self._may_start(urgent):
                waiter = queue.popleft()
                if not waiter.done():
                    self._take(urgent)
                    waiter.set_result(None)
