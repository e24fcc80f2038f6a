"""Live cookie databases read in memory: the write-ahead log applied, locks ignored, nothing copied."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mmtakeout.credentials.sqlite_snapshot import SnapshotError, apply_wal, open_snapshot


def _writer(path: Path) -> sqlite3.Connection:
    """A connection like Firefox's: WAL mode, no automatic checkpoint, so new rows stay in the log."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA wal_autocheckpoint=0")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT)")
    return db


def _texts(image: bytes) -> list[str]:
    """Open a database image in memory the plain way (marked as rollback-journal, as memory requires)."""
    writable = bytearray(image)
    writable[18:20] = b"\x01\x01"
    db = sqlite3.connect(":memory:")
    db.deserialize(writable)
    return [row[0] for row in db.execute("SELECT text FROM t ORDER BY id")]


def test_rows_only_in_the_log_are_seen(tmp_path: Path) -> None:
    path = tmp_path / "cookies.sqlite"
    writer = _writer(path)
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    writer.executemany("INSERT INTO t (text) VALUES (?)", [(f"row {n}" * 50,) for n in range(200)])
    assert (tmp_path / "cookies.sqlite-wal").stat().st_size > 0
    assert _texts(path.read_bytes()) == []

    snapshot = open_snapshot(path)
    expected = writer.execute("SELECT id, text FROM t ORDER BY id").fetchall()
    assert len(expected) == 200
    assert snapshot.execute("SELECT id, text FROM t ORDER BY id").fetchall() == expected
    writer.close()


def test_a_torn_last_transaction_is_ignored_like_sqlite_does(tmp_path: Path) -> None:
    path = tmp_path / "cookies.sqlite"
    writer = _writer(path)
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    writer.execute("INSERT INTO t (text) VALUES ('first')")
    writer.execute("INSERT INTO t (text) VALUES ('second')")
    wal = (tmp_path / "cookies.sqlite-wal").read_bytes()
    database = path.read_bytes()
    assert _texts(apply_wal(database, wal)) == ["first", "second"]

    torn = bytearray(wal)
    torn[-10] ^= 0xFF  # the last frame (the second commit) fails its checksum
    assert _texts(apply_wal(database, bytes(torn))) == ["first"]
    writer.close()


def test_an_exclusively_locked_database_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "cookies.sqlite"
    writer = _writer(path)
    writer.execute("PRAGMA locking_mode=EXCLUSIVE")
    writer.execute("INSERT INTO t (text) VALUES ('held')")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=0).execute("SELECT * FROM t").fetchall()
    assert open_snapshot(path).execute("SELECT text FROM t").fetchall() == [("held",)]
    writer.close()


def test_the_snapshot_is_read_only(tmp_path: Path) -> None:
    path = tmp_path / "cookies.sqlite"
    _writer(path).close()
    snapshot = open_snapshot(path)
    with pytest.raises(sqlite3.OperationalError):
        snapshot.execute("INSERT INTO t (text) VALUES ('x')")


@pytest.mark.parametrize("content", [b"", b"not a database at all", b"SQLite format 3\x00" + b"\xff" * 200])
def test_garbage_is_refused_with_the_file_name(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "Cookies"
    path.write_bytes(content)
    with pytest.raises(SnapshotError, match="Cookies"):
        open_snapshot(path)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError, match="could not be read"):
        open_snapshot(tmp_path / "absent.sqlite")
