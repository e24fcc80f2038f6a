"""The client's request slots: a fixed number in flight, where a waiting API read goes before a waiting
download.

A channel's history is a chain of page reads (and the largest channel is the export's long pole),
while file downloads can go whenever a slot is free. Served first come, first served, the downloads
took most slots and the walks waited behind them; with this order the walks keep their pace and the
downloads fill every slot the walks leave free.
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
        self._free = size
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._background: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def slot(self, *, urgent: bool) -> AsyncIterator[None]:
        """Hold one slot for the body of the `async with`; `urgent=False` for downloads."""
        await self._acquire(urgent)
        try:
            yield
        finally:
            self._release()

    @property
    def free(self) -> int:
        return self._free

    async def _acquire(self, urgent: bool) -> None:
        if self._free > 0 and not self._urgent and (urgent or not self._background):
            self._free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._background).append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()
            raise

    def _release(self) -> None:
        """Hand the slot straight to the next waiter (urgent ones first), else mark it free."""
        for queue in (self._urgent, self._background):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._free += 1
