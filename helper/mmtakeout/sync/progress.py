"""Progress of an export run: counters the engine bumps, and snapshots front ends display.

The percentage is real work done, not time: the message phase is weighted by each channel's
expected number of posts (from the server's message counts), files by their count. It never goes
backwards (newly discovered work slows it down instead) and reaches 100 only when the run ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

PHASES = ("connecting", "listing", "messages", "files", "users", "finishing", "done")

# Shares of the bar; the file share goes to messages when files are not fetched.
_LISTING_SHARE = 2.0
_MESSAGES_SHARE = 73.0
_FILES_SHARE = 20.0
_USERS_SHARE = 4.0


@dataclass(frozen=True)
class ProgressSnapshot:
    phase: str
    channels_total: int
    channels_done: int
    posts_expected: int
    posts_saved: int
    files_total: int
    files_done: int
    bytes_saved: int
    elapsed_s: float
    eta_s: float | None
    percent: float
    current: str


@dataclass
class _ChannelWork:
    expected: int
    saved: int = 0
    done: bool = False

    @property
    def weight(self) -> int:
        return self.expected + 1

    @property
    def fraction(self) -> float:
        if self.done:
            return 1.0
        return min(self.saved / self.expected, 0.99) if self.expected else 0.0


class ProgressTracker:
    """Mutable counters owned by one export run; `emit` hands a snapshot to the listener."""

    def __init__(
        self,
        listener: Callable[[ProgressSnapshot], None] | None,
        *,
        include_files: bool,
        min_interval_s: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._listener = listener
        self._include_files = include_files
        self._min_interval = min_interval_s
        self._clock = clock
        self._started = clock()
        self._last_emit = float("-inf")
        self._percent = 0.0
        self._channels: dict[str, _ChannelWork] = {}
        self.phase = "connecting"
        self.current = ""
        self.posts_saved = 0
        self.files_total = 0
        self.files_done = 0
        self.bytes_saved = 0
        self.users_total = 0
        self.users_done = 0

    # -------------------------------------------------------------- updates from the engine

    def set_phase(self, phase: str) -> None:
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}")
        if PHASES.index(phase) > PHASES.index(self.phase):
            self.phase = phase
            self.emit(force=True)

    def add_channel(self, channel_id: str, expected_posts: int) -> None:
        self._channels[channel_id] = _ChannelWork(max(expected_posts, 0))

    def channel_posts(self, channel_id: str, saved: int) -> None:
        self.posts_saved += saved
        work = self._channels.get(channel_id)
        if work is not None:
            work.saved += saved
        self.emit()

    def channel_done(self, channel_id: str) -> None:
        work = self._channels.get(channel_id)
        if work is not None:
            work.done = True
        self.emit()

    def files_found(self, count: int) -> None:
        self.files_total += count
        self.emit()

    def file_done(self, size: int) -> None:
        self.files_done += 1
        self.bytes_saved += size
        self.emit()

    def users_step(self, done: int, total: int) -> None:
        self.users_done, self.users_total = done, total
        self.emit()

    def set_current(self, label: str) -> None:
        self.current = label

    # -------------------------------------------------------------- snapshots

    @property
    def channels_total(self) -> int:
        return len(self._channels)

    @property
    def channels_done(self) -> int:
        return sum(1 for work in self._channels.values() if work.done)

    def _raw_percent(self) -> float:
        if self.phase == "done":
            return 100.0
        if self.phase == "connecting":
            return 0.0
        messages_share = _MESSAGES_SHARE + (0.0 if self._include_files else _FILES_SHARE)
        total_weight = sum(work.weight for work in self._channels.values())
        messages = (
            sum(work.weight * work.fraction for work in self._channels.values()) / total_weight
            if total_weight
            else (1.0 if PHASES.index(self.phase) > PHASES.index("messages") else 0.0)
        )
        files = 0.0
        if self._include_files:
            files = self.files_done / self.files_total if self.files_total else 0.0
            if PHASES.index(self.phase) >= PHASES.index("finishing"):
                files = 1.0
        users = self.users_done / self.users_total if self.users_total else 0.0
        if PHASES.index(self.phase) >= PHASES.index("finishing"):
            users = 1.0
        percent = _LISTING_SHARE if self.phase != "listing" else 0.0
        percent += messages_share * messages
        percent += (_FILES_SHARE if self._include_files else 0.0) * files
        percent += _USERS_SHARE * users
        return min(percent, 99.9)

    def snapshot(self) -> ProgressSnapshot:
        self._percent = max(self._percent, self._raw_percent())
        elapsed = self._clock() - self._started
        eta: float | None = None
        if self.phase == "done":
            eta = 0.0
        elif self._percent >= 1.0 and elapsed >= 1.0:
            eta = elapsed * (100.0 - self._percent) / self._percent
        return ProgressSnapshot(
            phase=self.phase,
            channels_total=self.channels_total,
            channels_done=self.channels_done,
            posts_expected=sum(work.expected for work in self._channels.values()),
            posts_saved=self.posts_saved,
            files_total=self.files_total,
            files_done=self.files_done,
            bytes_saved=self.bytes_saved,
            elapsed_s=elapsed,
            eta_s=eta,
            percent=round(self._percent, 2),
            current=self.current,
        )

    def emit(self, *, force: bool = False) -> None:
        if self._listener is None:
            return
        now = self._clock()
        if not force and now - self._last_emit < self._min_interval:
            return
        self._last_emit = now
        self._listener(self.snapshot())
