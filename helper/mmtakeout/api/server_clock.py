"""The server's idea of now, read from its `Date` headers.

`since` compares against the server's own `update_at` times, so "everything that changed since this
walk began" must name the server's time, not this machine's: a laptop clock ten minutes fast would
otherwise ask for changes after a moment the server has not reached yet, and miss them.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable


def local_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class ServerClock:
    """Keeps the offset between this machine's clock and the last `Date` a server sent.

    `Date` has whole seconds and arrives after the network's delay, so the estimate is good to about
    a second, far inside the margins the exporter keeps around its cursors. Until a usable header
    arrives, the local clock stands in."""

    def __init__(self, local_ms: Callable[[], int] = local_clock_ms) -> None:
        self._local_ms = local_ms
        self._offset_ms = 0
        self._last_header: str | None = None

    def observe(self, date_header: str | None) -> None:
        """Learn from a response's `Date` (ignored when absent or unreadable)."""
        if not date_header or date_header == self._last_header:
            return
        self._last_header = date_header
        try:
            moment = email.utils.parsedate_to_datetime(date_header[:100])
        except (TypeError, ValueError, IndexError, OverflowError):
            return
        if moment.tzinfo is None:
            return
        self._offset_ms = int(moment.timestamp() * 1000) - self._local_ms()

    def now_ms(self) -> int:
        return self._local_ms() + self._offset_ms
