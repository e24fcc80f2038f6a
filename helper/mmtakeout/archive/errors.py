"""Failures of the archive folder itself (as opposed to the server)."""

from __future__ import annotations

import errno
import sqlite3


class DiskFullError(OSError):
    """The disk holding the archive is full. What was saved is consistent; free space and run again."""

    def __init__(self, folder: object) -> None:
        super().__init__(
            errno.ENOSPC,
            f"The disk holding {folder} is full. What was saved so far is kept and consistent: "
            "free some space, then run the same command again to resume.",
        )

    def __str__(self) -> str:
        return str(self.strerror)


def is_disk_full(error: BaseException) -> bool:
    """True for the ways Python and SQLite say "no space left on device"."""
    if isinstance(error, DiskFullError):
        return True
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(error, sqlite3.OperationalError) and "disk is full" in str(error).lower()
