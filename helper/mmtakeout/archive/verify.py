"""Checks that an archive folder is whole: the database is sound and every saved file is intact.

Read-only: nothing in the folder is changed. Reports every saved attachment, avatar and emoji image
whose bytes are missing or differ from the recorded sha256 (and size), files on disk the database
does not know (orphans), paths that would leave the folder, and SQLite's own `integrity_check`.
`*.part` files of an interrupted download are listed but are not damage.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from mmtakeout.archive.folder import byte_files
from mmtakeout.archive.paths import TEMP_SUFFIX, UnsafePathError, resolve_inside
from mmtakeout.archive.store import DATABASE_NAME, ArchiveError, ArchiveStore

_READ_BLOCK = 1024 * 1024


@dataclass
class VerifyReport:
    """`ok` is True when nothing is wrong; `issues` says what is, one line each."""

    folder: Path
    files_checked: int = 0
    bytes_checked: int = 0
    issues: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)
    """`*.part` files of an interrupted download: not damage, the next export finishes or removes them."""
    database_ok: bool = True

    @property
    def ok(self) -> bool:
        return not self.issues


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(_READ_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def verify_archive(folder: Path) -> VerifyReport:
    folder = Path(folder)
    report = VerifyReport(folder)
    try:
        store = ArchiveStore.open_readonly(folder)
    except ArchiveError as error:
        report.database_ok = False
        report.issues.append(str(error))
        return report
    try:
        _check_database(store, report)
        if not report.database_ok:
            return report
        known: set[str] = set()
        for file_id, path, sha256, size, thumbnail, preview in store.saved_files():
            _check_bytes(report, f"file {file_id}", path, sha256, size, known)
            for extra in (thumbnail, preview):
                if extra:
                    _check_bytes(report, f"file {file_id}", extra, None, None, known)
        for user_id, path, sha256 in store.saved_avatars():
            _check_bytes(report, f"avatar of user {user_id}", path, sha256, None, known)
        for emoji_id, path, sha256 in store.saved_emoji():
            _check_bytes(report, f"emoji {emoji_id}", path, sha256, None, known)
        _find_orphans(report, known)
    finally:
        store.close()
    return report


def _check_database(store: ArchiveStore, report: VerifyReport) -> None:
    try:
        result = store.integrity_check()
    except sqlite3.DatabaseError as error:
        result = [str(error)]
    if result != ["ok"]:
        report.database_ok = False
        report.issues.append(f"{DATABASE_NAME}: SQLite integrity check failed: {'; '.join(result[:5])}")


def _check_bytes(
    report: VerifyReport,
    what: str,
    relative: str | None,
    sha256: str | None,
    size: int | None,
    known: set[str],
) -> None:
    if not relative:
        report.issues.append(f"{what}: recorded as saved but has no path")
        return
    try:
        path = resolve_inside(report.folder, relative)
    except UnsafePathError:
        report.issues.append(f"{what}: its path {relative!r} points outside the archive folder")
        return
    known.add(relative)
    if not path.is_file():
        report.missing.append(relative)
        report.issues.append(f"{what}: {relative} is missing")
        return
    actual_sha, actual_size = _sha256(path)
    report.files_checked += 1
    report.bytes_checked += actual_size
    if size is not None and actual_size != size:
        report.corrupt.append(relative)
        report.issues.append(f"{what}: {relative} has {actual_size} bytes, the archive recorded {size}")
    elif sha256 and actual_sha != sha256:
        report.corrupt.append(relative)
        report.issues.append(f"{what}: {relative} does not match its recorded sha256")


def _find_orphans(report: VerifyReport, known: set[str]) -> None:
    for relative in byte_files(report.folder):
        if relative.endswith(TEMP_SUFFIX):
            report.interrupted.append(relative)
        elif relative not in known:
            report.orphans.append(relative)
            report.issues.append(f"{relative}: not recorded in the archive (left over or added by hand)")
