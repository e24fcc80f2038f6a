"""Files next to the database: the plain-text problem report, and tidying after interrupted writes."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from mmtakeout.archive.paths import BYTE_DIRS, TEMP_SUFFIX
from mmtakeout.archive.store import ArchiveError, ProblemRow

REPORT_NAME = "report.txt"
LOCK_NAME = ".export.lock"


class ArchiveBusyError(ArchiveError):
    """Another export is updating this archive right now."""


@contextlib.contextmanager
def export_lock(folder: Path) -> Iterator[None]:
    """Hold the archive's writer lock: two exports into one folder would write the same files.
    The operating system releases it when the process ends, however it ends."""
    folder.mkdir(parents=True, exist_ok=True)
    handle = (folder / LOCK_NAME).open("a+b")
    try:
        try:
            _lock(handle.fileno())
        except OSError as error:
            raise ArchiveBusyError(
                f"Another export is updating {folder} right now. Wait for it to finish, then try again."
            ) from error
        yield
    finally:
        handle.close()


def _lock(descriptor: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)


def write_report(folder: Path, problems: Sequence[ProblemRow], *, server_url: str) -> None:
    """Write `report.txt` listing what could not be fetched, or remove it when nothing failed."""
    report = folder / REPORT_NAME
    if not problems:
        report.unlink(missing_ok=True)
        return
    lines = [
        f"Mattermost Takeout: {len(problems)} item(s) of {server_url} could not be fetched",
        f"in the run that ended {time.strftime('%Y-%m-%d %H:%M:%S %Z')}.",
        "Run the same export again to retry them; everything else is in the archive.",
        "",
    ]
    lines += [f"{p.kind}\t{p.item_id}\t{_one_line(p.message)}" for p in problems]
    temp = report.with_name(REPORT_NAME + TEMP_SUFFIX)
    temp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(temp, report)


def _one_line(text: str) -> str:
    return "".join(ch if ch.isprintable() else " " for ch in text)


def byte_files(folder: Path) -> Iterator[str]:
    """Relative paths of every file under the folders that hold bytes (files, avatars, emoji)."""
    for name in BYTE_DIRS:
        root = folder / name
        if not root.is_dir() or root.is_symlink():
            continue
        for directory, _, files in os.walk(root):
            for file_name in files:
                yield Path(directory, file_name).relative_to(folder).as_posix()


def tidy_folder(folder: Path, referenced: set[str]) -> int:
    """Remove what interrupted runs left: `*.part` files, and bytes renamed into place whose database
    row was never updated (the row is still `pending`, so they will be fetched again). Returns how many."""
    removed = 0
    for relative in list(byte_files(folder)):
        if relative.endswith(TEMP_SUFFIX) or relative not in referenced:
            with contextlib.suppress(FileNotFoundError):
                (folder / relative).unlink()
                removed += 1
    (folder / (REPORT_NAME + TEMP_SUFFIX)).unlink(missing_ok=True)
    return removed
