"""Read a browser's live cookie database in memory, without copying it to disk and without its lock.

Browsers keep their cookie databases open (Firefox with an exclusive lock and a write-ahead log that
holds the newest cookies until a checkpoint). Copying the file to a temporary folder would put the
cookies (plain text in Firefox) on disk a second time and would miss whatever is still in the log.
Instead the database file and its log are read into memory, the log's committed pages are applied to
the image the way SQLite itself would, and the image is opened as an in-memory database.
"""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

WAL_MAGIC_LITTLE_ENDIAN = 0x377F0682
WAL_MAGIC_BIG_ENDIAN = 0x377F0683
WAL_HEADER_SIZE = 32
WAL_FRAME_HEADER_SIZE = 24
SQLITE_HEADER = b"SQLite format 3\x00"
MAX_DATABASE_BYTES = 512 * 1024 * 1024


class SnapshotError(Exception):
    """The file is not a readable SQLite database."""


def _wal_checksum(data: bytes, big_endian: bool, s0: int, s1: int) -> tuple[int, int]:
    """SQLite's WAL checksum: a Fletcher-like sum over pairs of 32-bit words, continued from (s0, s1)."""
    words = iter(struct.unpack((">" if big_endian else "<") + f"{len(data) // 4}I", data))
    for first, second in zip(words, words, strict=True):
        s0 = (s0 + first + s1) & 0xFFFFFFFF
        s1 = (s1 + second + s0) & 0xFFFFFFFF
    return s0, s1


def apply_wal(database: bytes, wal: bytes) -> bytes:
    """Return the database image as SQLite would see it: the pages of every committed log frame applied.

    Frames after the last valid commit, frames from an older log generation (other salts) and frames
    with a wrong checksum are ignored, exactly the rule SQLite uses when it recovers a log.
    """
    if len(wal) < WAL_HEADER_SIZE:
        return database
    magic, _version, page_size, _checkpoint, salt1, salt2, check1, check2 = struct.unpack(
        ">8I", wal[:WAL_HEADER_SIZE]
    )
    if magic not in (WAL_MAGIC_LITTLE_ENDIAN, WAL_MAGIC_BIG_ENDIAN):
        return database
    if page_size < 512 or page_size > 65536 or page_size & (page_size - 1):
        return database
    big_endian = magic == WAL_MAGIC_BIG_ENDIAN
    s0, s1 = _wal_checksum(wal[:24], big_endian, 0, 0)
    if (s0, s1) != (check1, check2):
        return database

    committed: dict[int, bytes] = {}
    pending: dict[int, bytes] = {}
    committed_pages = 0
    frame_size = WAL_FRAME_HEADER_SIZE + page_size
    offset = WAL_HEADER_SIZE
    while offset + frame_size <= len(wal):
        header = wal[offset : offset + WAL_FRAME_HEADER_SIZE]
        page_number, pages_after_commit, frame_salt1, frame_salt2, frame_check1, frame_check2 = struct.unpack(
            ">6I", header
        )
        if (frame_salt1, frame_salt2) != (salt1, salt2) or page_number == 0:
            break
        page = wal[offset + WAL_FRAME_HEADER_SIZE : offset + frame_size]
        s0, s1 = _wal_checksum(header[:8], big_endian, s0, s1)
        s0, s1 = _wal_checksum(page, big_endian, s0, s1)
        if (s0, s1) != (frame_check1, frame_check2):
            break
        pending[page_number] = page
        if pages_after_commit:
            committed.update(pending)
            pending.clear()
            committed_pages = pages_after_commit
        offset += frame_size

    if not committed:
        return database
    image = bytearray(database[: committed_pages * page_size])
    image.extend(bytes(committed_pages * page_size - len(image)))
    for page_number, page in committed.items():
        if page_number <= committed_pages:
            start = (page_number - 1) * page_size
            image[start : start + page_size] = page
    return bytes(image)


def open_snapshot(path: Path) -> sqlite3.Connection:
    """An in-memory, read-only copy of the database at `path` (with its `-wal` log applied)."""
    try:
        size = path.stat().st_size
        if size > MAX_DATABASE_BYTES:
            raise SnapshotError(f"{path} is larger than {MAX_DATABASE_BYTES // (1024 * 1024)} MB.")
        database = path.read_bytes()
        wal_path = path.with_name(path.name + "-wal")
        wal = wal_path.read_bytes() if wal_path.is_file() else b""
    except OSError as error:
        raise SnapshotError(f"{path} could not be read ({error.strerror or type(error).__name__}).") from None
    if len(wal) > MAX_DATABASE_BYTES:
        wal = b""
    image = bytearray(apply_wal(database, wal))
    if not image.startswith(SQLITE_HEADER):
        raise SnapshotError(f"{path} is not an SQLite database.")
    # The image lives in memory now, where SQLite cannot keep a log: mark it as a rollback-journal database.
    image[18:20] = b"\x01\x01"
    connection = sqlite3.connect(":memory:")
    try:
        connection.deserialize(bytes(image))
        connection.execute("PRAGMA query_only = ON")
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as error:
        connection.close()
        raise SnapshotError(f"{path} is not a readable SQLite database ({error}).") from None
    return connection
