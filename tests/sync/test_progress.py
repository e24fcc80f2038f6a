"""The progress model and its displays: real percentages that never go back, throttled updates."""

from __future__ import annotations

import io

from mmtakeout.cli.export import ProgressDisplay
from mmtakeout.sync.progress import ProgressSnapshot, ProgressTracker


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_percent_follows_expected_posts_and_never_goes_back() -> None:
    clock = FakeClock()
    seen: list[ProgressSnapshot] = []
    tracker = ProgressTracker(seen.append, include_files=True, min_interval_s=0, clock=clock)
    tracker.set_phase("listing")
    tracker.add_channel("big", 900)
    tracker.add_channel("small", 99)
    tracker.set_phase("messages")
    clock.now += 2
    tracker.channel_posts("big", 450)
    half_of_big = seen[-1].percent
    assert 30 < half_of_big < 45, "half of 90% of the posts, in the 73% message share"
    tracker.files_found(10)
    tracker.file_done(1000)
    tracker.files_found(1000)
    assert seen[-1].percent >= half_of_big, "newly found work does not move the bar backwards"
    tracker.channel_done("big")
    tracker.channel_done("small")
    for _ in range(1009):
        tracker.file_done(10)
    tracker.set_phase("users")
    tracker.users_step(5, 10)
    tracker.set_phase("finishing")
    assert seen[-1].percent < 100
    tracker.set_phase("done")
    percents = [s.percent for s in seen]
    assert percents == sorted(percents)
    last = seen[-1]
    assert (last.percent, last.eta_s, last.channels_done, last.channels_total) == (100.0, 0.0, 2, 2)
    assert (last.posts_expected, last.posts_saved, last.files_total, last.files_done) == (
        999,
        450,
        1010,
        1010,
    )
    assert last.bytes_saved == 1000 + 1009 * 10


def test_eta_appears_once_there_is_something_to_extrapolate() -> None:
    clock = FakeClock()
    tracker = ProgressTracker(None, include_files=False, clock=clock)
    tracker.set_phase("messages")
    tracker.add_channel("c", 100)
    assert tracker.snapshot().eta_s is None
    clock.now += 10
    tracker.channel_posts("c", 50)
    snapshot = tracker.snapshot()
    assert snapshot.eta_s is not None and 5 < snapshot.eta_s < 20


def test_updates_are_throttled_but_phase_changes_always_reported() -> None:
    clock = FakeClock()
    seen: list[ProgressSnapshot] = []
    tracker = ProgressTracker(seen.append, include_files=True, min_interval_s=1.0, clock=clock)
    tracker.set_phase("listing")
    tracker.add_channel("c", 1000)
    for _ in range(100):
        tracker.channel_posts("c", 1)
    assert len(seen) == 1
    tracker.set_phase("messages")
    assert [s.phase for s in seen] == ["listing", "messages"]


def snapshot(**changes: object) -> ProgressSnapshot:
    values: dict[str, object] = {
        "phase": "messages",
        "channels_total": 12,
        "channels_done": 3,
        "posts_expected": 5000,
        "posts_saved": 1234,
        "files_total": 9,
        "files_done": 2,
        "bytes_saved": 3 * 1024 * 1024,
        "elapsed_s": 10.0,
        "eta_s": 75.0,
        "percent": 24.5,
        "current": "Town Square",
    }
    values.update(changes)
    return ProgressSnapshot(**values)  # type: ignore[arg-type]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_display_rewrites_one_line() -> None:
    stream = Terminal()
    display = ProgressDisplay(stream, quiet=False)
    display(snapshot())
    display(snapshot(percent=30.0, posts_saved=2000))
    display.close()
    text = stream.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1
    assert "30.0%" in text and "channels 3/12" in text and "posts 2,000/5,000" in text
    assert "ETA 1m15s" in text and "Town Square" in text and "3.0 MB" in text


def test_plain_display_prints_whole_lines_per_phase() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, quiet=False)
    display(snapshot())
    display(snapshot(percent=25.0))
    display(snapshot(phase="files", percent=80.0))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in stream.getvalue()
    assert lines[1].startswith(" 80.0%  files")


def test_quiet_display_prints_nothing() -> None:
    stream = Terminal()
    display = ProgressDisplay(stream, quiet=True)
    display(snapshot())
    display.close()
    assert stream.getvalue() == ""
