"""What the last render wrote, so the next one rewrites only what changed.

A small SQLite file (`site/.render-state.sqlite`) rather than JSON: it holds the page of every post
(for the `?post=ID` resolver), which for a million-post archive must not be loaded into memory.
It is a cache: deleting it (or `--force`) makes the next render start over.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

_STATE_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS conversations (
    channel_id TEXT PRIMARY KEY, dir TEXT NOT NULL, fingerprint TEXT NOT NULL, parts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS parts (
    channel_id TEXT NOT NULL, part INTEGER NOT NULL, fingerprint TEXT NOT NULL,
    post_count INTEGER NOT NULL, first_at INTEGER NOT NULL, last_at INTEGER NOT NULL,
    PRIMARY KEY (channel_id, part)
);
CREATE TABLE IF NOT EXISTS post_location (
    post_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, channel_id TEXT NOT NULL, part INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS post_location_by_bucket ON post_location (bucket);
CREATE INDEX IF NOT EXISTS post_location_by_channel ON post_location (channel_id);
CREATE TABLE IF NOT EXISTS names (
    kind TEXT NOT NULL, id TEXT NOT NULL, digest TEXT NOT NULL, PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS exports (
    format TEXT NOT NULL, channel_id TEXT NOT NULL, fingerprint TEXT NOT NULL, path TEXT NOT NULL,
    PRIMARY KEY (format, channel_id)
);
"""
_BUCKET = re.compile(r"[a-z0-9]{2}")


def map_bucket(post_id: str) -> str:
    """The post→page map chunk of a post: its id's first two characters (odd ids share `_`)."""
    prefix = post_id[:2]
    return prefix if _BUCKET.fullmatch(prefix) else "_"


@dataclass(frozen=True, slots=True)
class PartRecord:
    part: int
    fingerprint: str
    post_count: int
    first_at: int
    last_at: int


class RenderState:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.executescript(_STATE_SCHEMA)

    def close(self) -> None:
        self._db.commit()
        self._db.close()

    def commit(self) -> None:
        self._db.commit()

    def reset(self) -> None:
        for table in ("meta", "conversations", "parts", "post_location", "names", "exports"):
            self._db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def conversation(self, channel_id: str) -> tuple[str, str, int] | None:
        row = self._db.execute(
            "SELECT dir, fingerprint, parts FROM conversations WHERE channel_id = ?", (channel_id,)
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]), int(row[2]))

    def conversation_ids(self) -> dict[str, str]:
        return {
            str(row[0]): str(row[1]) for row in self._db.execute("SELECT channel_id, dir FROM conversations")
        }

    def save_conversation(self, channel_id: str, directory: str, fingerprint: str, parts: int) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO conversations (channel_id, dir, fingerprint, parts) VALUES (?, ?, ?, ?)",
            (channel_id, directory, fingerprint, parts),
        )

    def forget_conversation(self, channel_id: str) -> set[str]:
        """Drops a conversation; returns the map buckets that lost posts."""
        buckets = {
            str(row[0])
            for row in self._db.execute(
                "SELECT DISTINCT bucket FROM post_location WHERE channel_id = ?", (channel_id,)
            )
        }
        for table in ("conversations", "parts", "post_location", "exports"):
            self._db.execute(f"DELETE FROM {table} WHERE channel_id = ?", (channel_id,))  # noqa: S608
        return buckets

    def parts(self, channel_id: str) -> dict[int, PartRecord]:
        rows = self._db.execute(
            "SELECT part, fingerprint, post_count, first_at, last_at FROM parts WHERE channel_id = ?",
            (channel_id,),
        )
        return {
            int(row[0]): PartRecord(int(row[0]), str(row[1]), int(row[2]), int(row[3]), int(row[4]))
            for row in rows
        }

    def all_parts(self) -> list[tuple[str, PartRecord]]:
        rows = self._db.execute(
            "SELECT channel_id, part, fingerprint, post_count, first_at, last_at FROM parts ORDER "
            "BY channel_id, part"
        )
        return [
            (str(row[0]), PartRecord(int(row[1]), str(row[2]), int(row[3]), int(row[4]), int(row[5])))
            for row in rows
        ]

    def replace_parts(self, channel_id: str, records: Iterable[PartRecord]) -> None:
        self._db.execute("DELETE FROM parts WHERE channel_id = ?", (channel_id,))
        self._db.executemany(
            "INSERT INTO parts (channel_id, part, fingerprint, post_count, first_at, last_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(channel_id, r.part, r.fingerprint, r.post_count, r.first_at, r.last_at) for r in records],
        )

    def replace_locations(self, channel_id: str, locations: Iterable[tuple[str, int]]) -> set[str]:
        """Stores where each post of a conversation is; returns the map buckets whose content changed."""
        self._db.execute("DROP TABLE IF EXISTS temp.new_location")
        self._db.execute(
            "CREATE TEMP TABLE new_location (post_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, part "
            "INTEGER NOT NULL)"
        )
        self._db.executemany(
            "INSERT OR REPLACE INTO temp.new_location (post_id, bucket, part) VALUES (?, ?, ?)",
            ((post_id, map_bucket(post_id), part) for post_id, part in locations),
        )
        changed = {
            str(row[0])
            for row in self._db.execute(
                "SELECT DISTINCT n.bucket FROM temp.new_location n LEFT JOIN post_location p ON "
                "p.post_id = n.post_id "
                "WHERE p.post_id IS NULL OR p.part <> n.part OR p.channel_id <> ?",
                (channel_id,),
            )
        }
        changed |= {
            str(row[0])
            for row in self._db.execute(
                "SELECT DISTINCT p.bucket FROM post_location p LEFT JOIN temp.new_location n ON "
                "n.post_id = p.post_id "
                "WHERE p.channel_id = ? AND n.post_id IS NULL",
                (channel_id,),
            )
        }
        if changed:
            self._db.execute("DELETE FROM post_location WHERE channel_id = ?", (channel_id,))
            self._db.execute(
                "INSERT OR REPLACE INTO post_location (post_id, bucket, channel_id, part) "
                "SELECT post_id, bucket, ?, part FROM temp.new_location",
                (channel_id,),
            )
        self._db.execute("DROP TABLE temp.new_location")
        return changed

    def locations(self, post_ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        wanted = list(dict.fromkeys(post_ids))
        found: dict[str, tuple[str, int]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(
                f"SELECT post_id, channel_id, part FROM post_location WHERE post_id IN ({marks})",  # noqa: S608 - only column names and '?' placeholders are interpolated
                chunk,
            ):
                found[str(row[0])] = (str(row[1]), int(row[2]))
        return found

    def bucket_entries(self, bucket: str) -> list[tuple[str, str, int]]:
        rows = self._db.execute(
            "SELECT post_id, channel_id, part FROM post_location WHERE bucket = ? ORDER BY post_id", (bucket,)
        )
        return [(str(row[0]), str(row[1]), int(row[2])) for row in rows]

    def update_names(self, kind: str, digests: dict[str, str]) -> bool:
        """Stores name digests; True when a name seen before changed or disappeared (new ones don't count).

        Pages show people and channels by name, but a newly archived person or channel cannot appear
        in pages already written, so only changes to known ones force a full re-render.
        """
        old = {
            str(row[0]): str(row[1])
            for row in self._db.execute("SELECT id, digest FROM names WHERE kind = ?", (kind,))
        }
        changed = any(digests.get(key) != digest for key, digest in old.items())
        if changed or len(old) != len(digests):
            self._db.execute("DELETE FROM names WHERE kind = ?", (kind,))
            self._db.executemany(
                "INSERT INTO names (kind, id, digest) VALUES (?, ?, ?)",
                [(kind, key, digest) for key, digest in digests.items()],
            )
        return changed

    def export_record(self, fmt: str, channel_id: str) -> tuple[str, str] | None:
        row = self._db.execute(
            "SELECT fingerprint, path FROM exports WHERE format = ? AND channel_id = ?", (fmt, channel_id)
        ).fetchone()
        return None if row is None else (str(row[0]), str(row[1]))

    def export_records(self, fmt: str) -> dict[str, str]:
        return {
            str(row[0]): str(row[1])
            for row in self._db.execute("SELECT channel_id, path FROM exports WHERE format = ?", (fmt,))
        }

    def save_export(self, fmt: str, channel_id: str, fingerprint: str, path: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO exports (format, channel_id, fingerprint, path) VALUES (?, ?, ?, ?)",
            (fmt, channel_id, fingerprint, path),
        )

    def forget_export(self, fmt: str, channel_id: str) -> None:
        self._db.execute("DELETE FROM exports WHERE format = ? AND channel_id = ?", (fmt, channel_id))
