"""Mattermost times (ms since the epoch, UTC) shown in one time zone for a whole render."""

from __future__ import annotations

import functools
from datetime import datetime, tzinfo

from mmtakeout.render.model import as_int


class Clock:
    """Converts times for display; `zone=None` means the local zone of the machine rendering."""

    def __init__(self, zone: tzinfo | None = None) -> None:
        self.zone = zone
        # A post's time is shown several ways (day, time, title, ISO): convert each time once.
        self._moment = functools.lru_cache(maxsize=4096)(self._convert)

    @property
    def iana_name(self) -> str | None:
        """The zone's IANA name (for the browser's Intl API), None for the machine's local zone."""
        key = getattr(self.zone, "key", None)
        return key if isinstance(key, str) else None

    @property
    def zone_name(self) -> str:
        if self.zone is not None:
            return str(getattr(self.zone, "key", None) or self.zone)
        return datetime.now().astimezone().tzname() or "local time"

    def at(self, millis: int) -> datetime:
        return self._moment(as_int(millis))

    def _convert(self, millis: int) -> datetime:
        seconds = max(min(millis, 253_402_300_799_000), 0) / 1000
        if self.zone is None:
            return datetime.fromtimestamp(seconds).astimezone()
        return datetime.fromtimestamp(seconds, self.zone)

    def day_key(self, millis: int) -> str:
        return self.at(millis).strftime("%Y-%m-%d")

    def day_label(self, millis: int) -> str:
        moment = self.at(millis)
        return f"{moment:%A}, {moment.day} {moment:%B %Y}"

    def short_date(self, millis: int) -> str:
        moment = self.at(millis)
        return f"{moment.day} {moment:%b %Y}"

    def time_of_day(self, millis: int) -> str:
        return self.at(millis).strftime("%H:%M")

    def full(self, millis: int) -> str:
        return self.at(millis).strftime("%Y-%m-%d %H:%M:%S %Z").strip()

    def iso(self, millis: int) -> str:
        return self.at(millis).isoformat(timespec="seconds")
