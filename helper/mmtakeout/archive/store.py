"""The archive's SQLite store: the only code that writes `archive.sqlite`.

Writers pass server objects as the JSON dicts the server sent (`raw`); the store extracts the
normalised columns defensively (a wrong type becomes 0 or ''), keeps `raw` verbatim, and applies the
archive's rules: a backup never forgets (a post deleted on the server keeps its archived text, an edit
keeps the earlier text in `post_history`), reactions mirror the server's current state, files are
recorded as `pending` until their bytes are saved. Every public write runs in one transaction.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar, cast

from mmtakeout import jsoncodec
from mmtakeout.archive.paths import is_safe_id

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
DATABASE_NAME = "archive.sqlite"
CACHE_KIB = 32 * 1024
"""SQLite page cache of a writer: enough for the indexes of a few million posts to stay warm."""
WAL_CHECKPOINT_PAGES = 10_000
"""The write-ahead log is folded into the database every 40 MB instead of SQLite's 4 MB: fewer syncs."""

Raw = Mapping[str, Any]

# Columns added to version 1 after its first release; an older version-1 archive gets them on open.
_ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("users", "avatar_etag", "TEXT"),
    ("users", "avatar_sha256", "TEXT"),
    ("emoji", "sha256", "TEXT"),
    ("sync_channels", "backfill_started_at", "INTEGER NOT NULL DEFAULT 0"),
)

_INSERT_POST = (
    "INSERT OR REPLACE INTO posts (id, channel_id, root_id, user_id, create_at, update_at, edit_at, "
    "delete_at, message, type, is_pinned, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_REACTION = (
    "INSERT OR REPLACE INTO reactions (post_id, user_id, emoji_name, create_at) VALUES (?, ?, ?, ?)"
)

# User ids that system posts carry in `props` (added to / removed from a channel, and so on).
_USER_ID_PROPS = ("addedUserId", "userId", "removedUserId")


class ArchiveError(Exception):
    """The folder is not an archive this version can use; the message says why in plain words."""


def connect_readonly(folder: Path) -> sqlite3.Connection:
    """Open an archive's database for a reader (the viewer, the converters) without any way to change it.

    Refuses a folder that holds no archive and an archive of another format version, in plain words,
    so every reader of the public format answers the same way.
    """
    database = folder / DATABASE_NAME
    if not database.is_file():
        raise ArchiveError(f"{folder} is not an archive: {DATABASE_NAME} is missing.")
    try:
        connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
        version = connection.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as error:
        raise ArchiveError(f"Cannot read {database}: {error}.") from error
    if version != FORMAT_VERSION:
        connection.close()
        raise ArchiveError(
            f"{folder} has archive format version {version}; this mmtakeout reads version "
            f"{FORMAT_VERSION}. Update mmtakeout."
        )
    connection.row_factory = sqlite3.Row
    return connection


class ArchiveMismatchError(ArchiveError):
    """The archive belongs to another server or another person."""


F = TypeVar("F", bound=Callable[..., Any])


def _serialized(method: F) -> F:
    """One thread at a time uses the connection: the export may write pages from a worker thread."""

    @functools.wraps(method)
    def locked(self: ArchiveStore, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return cast(F, locked)


def now_ms() -> int:
    return int(time.time() * 1000)


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 2**62:
        return int(value)
    return 0


def _optional_int(value: Any) -> int | None:
    return _int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _json(raw: Raw) -> str:
    return jsoncodec.compact(raw)


@dataclass(frozen=True)
class SyncState:
    """Per-channel exporter state (`sync_channels`)."""

    channel_id: str
    history_complete: bool = False
    backfill_anchor: str | None = None
    backfill_page: int = 0
    since_cursor: int = 0
    synced_at: int = 0
    backfill_started_at: int = 0


@dataclass
class PostBatchOutcome:
    """What one batch of posts changed in the archive."""

    new_posts: int = 0
    changed_posts: int = 0
    history_rows: int = 0
    new_files: int = 0
    max_update_at: int = 0
    ids: list[str] = field(default_factory=list)
    file_ids_without_info: list[tuple[str, str]] = field(default_factory=list)

    @property
    def saved(self) -> int:
        return self.new_posts + self.changed_posts


@dataclass(frozen=True)
class FileRow:
    id: str
    post_id: str
    channel_id: str
    name: str
    extension: str
    size: int
    mime_type: str
    status: str
    has_preview_image: bool
    path: str | None
    thumbnail_path: str | None
    preview_path: str | None


@dataclass(frozen=True)
class UserAvatarRow:
    id: str
    last_picture_update: int
    avatar_path: str | None
    avatar_etag: str | None


@dataclass(frozen=True)
class EmojiRow:
    id: str
    name: str
    update_at: int
    path: str | None


@dataclass(frozen=True)
class ProblemRow:
    kind: str
    item_id: str
    message: str
    first_at: int
    last_at: int


def _schema_sql() -> str:
    return resources.files("mmtakeout.archive").joinpath("schema.sql").read_text(encoding="utf-8")


class ArchiveStore:
    """One open archive. Not thread-safe: use it from one thread (the export's event loop)."""

    def __init__(self, folder: Path, connection: sqlite3.Connection, *, readonly: bool) -> None:
        self.folder = folder
        self._db = connection
        self.readonly = readonly
        self._group_commit_s: float | None = None
        self._batch_started = 0.0
        self._depth = 0
        self._lock = threading.RLock()

    # ----------------------------------------------------------------- opening

    @classmethod
    def open(cls, folder: Path) -> ArchiveStore:
        """Open the archive in `folder` for writing. A new archive is only started in a new or empty
        folder: the exporter owns the folders it writes (and tidies), so it must not adopt someone's
        documents."""
        folder.mkdir(parents=True, exist_ok=True)
        if not (folder / DATABASE_NAME).exists() and any(
            not entry.name.startswith(".") for entry in folder.iterdir()
        ):
            raise ArchiveError(
                f"{folder} is not empty and holds no archive. Choose a new or empty folder, or the folder "
                "of an existing archive."
            )
        connection = sqlite3.connect(
            folder / DATABASE_NAME, isolation_level=None, timeout=30, check_same_thread=False
        )
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA temp_store=MEMORY")
            connection.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            connection.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
            store = cls(folder, connection, readonly=False)
            store._migrate()
        except sqlite3.DatabaseError as error:
            connection.close()
            raise ArchiveError(
                f"{folder / DATABASE_NAME} is not a usable archive database: {error}"
            ) from error
        except BaseException:
            connection.close()
            raise
        return store

    @classmethod
    def open_readonly(cls, folder: Path) -> ArchiveStore:
        database = folder / DATABASE_NAME
        if not database.is_file():
            raise ArchiveError(f"{folder} holds no {DATABASE_NAME}: it is not a Mattermost Takeout archive.")
        connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
        store = cls(folder, connection, readonly=True)
        version = store.format_version()
        if version > FORMAT_VERSION:
            connection.close()
            raise ArchiveError(
                f"{folder} uses archive format {version}; this mmtakeout reads up to {FORMAT_VERSION}."
            )
        return store

    def close(self) -> None:
        """Commit what is complete, then close. If the commit fails (a full disk), the uncommitted
        units are dropped, the database stays as of the last commit, and no error hides the first one."""
        with self._lock:
            try:
                self.flush()
            except sqlite3.Error as error:
                log.warning("the last changes could not be saved: %s", error)
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            finally:
                self._db.close()

    def __enter__(self) -> ArchiveStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def format_version(self) -> int:
        row = self._db.execute("PRAGMA user_version").fetchone()
        return int(row[0])

    def _migrate(self) -> None:
        version = self.format_version()
        if version > FORMAT_VERSION:
            raise ArchiveError(
                f"{self.folder} uses archive format {version}; this mmtakeout "
                f"writes format {FORMAT_VERSION}. "
                "Update mmtakeout."
            )
        with self.transaction():
            for statement in _split_sql(_schema_sql()):
                self._db.execute(statement)
            for table, column, ddl in _ADDED_COLUMNS:
                columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
                if column not in columns:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}")
            if version == 0:
                self._db.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
                self._set_meta("format_version", str(FORMAT_VERSION))
                self._set_meta("created_at", str(now_ms()))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of writes: all of it is kept, or none. Nested use is a savepoint of the
        outer unit. With `group_commit` on, finished units are committed together every so often
        (a crash loses at most that interval of finished work, never part of a unit)."""
        with self._lock, self._unit() as connection:
            yield connection

    @contextmanager
    def _unit(self) -> Iterator[sqlite3.Connection]:
        if self._depth:
            name = f"unit{self._depth}"
            self._db.execute(f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield self._db
            except BaseException:
                self._undo(name)
                raise
            finally:
                self._depth -= 1
            self._db.execute(f"RELEASE {name}")
            return
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")
            self._batch_started = time.monotonic()
        self._db.execute("SAVEPOINT unit0")
        self._depth = 1
        try:
            yield self._db
        except BaseException:
            self._undo("unit0")
            if self._group_commit_s is None and self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        finally:
            self._depth = 0
        self._db.execute("RELEASE unit0")
        if self._group_commit_s is None or time.monotonic() - self._batch_started >= self._group_commit_s:
            self.flush()

    @_serialized
    def _undo(self, savepoint: str) -> None:
        """Forget a failed unit. After some errors (a full disk) SQLite has already rolled back the
        whole transaction, savepoints included: then there is nothing left to undo."""
        if self._db.in_transaction:
            self._db.execute(f"ROLLBACK TO {savepoint}")
            self._db.execute(f"RELEASE {savepoint}")

    def group_commit(self, seconds: float | None) -> None:
        """Commit finished units together at most every `seconds` (None: each one at once)."""
        self._group_commit_s = seconds
        if seconds is None:
            self.flush()

    @_serialized
    def flush(self) -> None:
        """Make every finished unit durable now."""
        if self._depth == 0 and self._db.in_transaction:
            self._db.execute("COMMIT")

    @_serialized
    def flush_if_due(self) -> None:
        if (
            self._group_commit_s is not None
            and self._db.in_transaction
            and time.monotonic() - self._batch_started >= self._group_commit_s
        ):
            self.flush()

    @_serialized
    def integrity_check(self) -> list[str]:
        return [str(row[0]) for row in self._db.execute("PRAGMA integrity_check")]

    # ----------------------------------------------------------------- meta

    @_serialized
    def meta(self) -> dict[str, str]:
        return {str(key): str(value) for key, value in self._db.execute("SELECT key, value FROM meta")}

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO "
            "UPDATE SET value = excluded.value",
            (key, value),
        )

    @_serialized
    def set_meta(self, values: Mapping[str, str]) -> None:
        with self.transaction():
            for key, value in values.items():
                self._set_meta(key, value)

    @_serialized
    def claim_owner(self, server_url: str, user_id: str, username: str) -> None:
        """Bind a new archive to one server and person; refuse to mix in another's data."""
        meta = self.meta()
        known_server = meta.get("server_url")
        known_user = meta.get("user_id")
        if known_server is not None and known_server != server_url:
            raise ArchiveMismatchError(
                f"{self.folder} is an archive of {known_server}, not of {server_url}. Choose another folder."
            )
        if known_user is not None and known_user != user_id:
            raise ArchiveMismatchError(
                f"{self.folder} is the archive of another person ({meta.get('username', known_user)}), "
                f"not of {username}. Choose another folder."
            )
        self.set_meta({"server_url": server_url, "user_id": user_id, "username": username})

    # ----------------------------------------------------------------- teams, channels, members

    @_serialized
    def save_teams(self, teams: Iterable[Raw]) -> int:
        rows = [
            (
                _str(t.get("id")),
                _str(t.get("name")),
                _str(t.get("display_name")),
                _int(t.get("delete_at")),
                _json(t),
            )
            for t in teams
            if _str(t.get("id"))
        ]
        with self.transaction():
            self._db.executemany(
                "INSERT INTO teams (id, name, display_name, delete_at, raw) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name, display_name = excluded.display_name, "
                "delete_at = excluded.delete_at, raw = excluded.raw",
                rows,
            )
        return len(rows)

    @_serialized
    def save_channels(self, channels: Iterable[Raw]) -> int:
        rows = [
            (
                _str(c.get("id")),
                _str(c.get("team_id")),
                _str(c.get("type")),
                _str(c.get("name")),
                _str(c.get("display_name")),
                _str(c.get("header")),
                _str(c.get("purpose")),
                _int(c.get("create_at")),
                _int(c.get("delete_at")),
                _int(c.get("last_post_at")),
                _int(c.get("total_msg_count")),
                _json(c),
            )
            for c in channels
            if _str(c.get("id"))
        ]
        with self.transaction():
            self._db.executemany(
                "INSERT INTO channels (id, team_id, type, name, display_name, header, purpose, create_at, "
                "delete_at, last_post_at, total_msg_count, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET team_id = excluded.team_id, type = excluded.type, "
                "name = excluded.name, display_name = excluded.display_name, header = excluded.header, "
                "purpose = excluded.purpose, create_at = excluded.create_at, delete_at = excluded.delete_at, "
                "last_post_at = excluded.last_post_at, total_msg_count = excluded.total_msg_count, "
                "raw = excluded.raw",
                rows,
            )
        return len(rows)

    @_serialized
    def set_favorites(self, channel_ids: Iterable[str]) -> None:
        favorites = sorted(set(channel_ids))
        with self.transaction():
            self._db.execute("UPDATE channels SET is_favorite = 0 WHERE is_favorite <> 0")
            self._db.executemany(
                "UPDATE channels SET is_favorite = 1 WHERE id = ?", [(cid,) for cid in favorites]
            )

    @_serialized
    def add_channel_members(self, channel_id: str, user_ids: Iterable[str]) -> None:
        ids = sorted({uid for uid in user_ids if uid})
        with self.transaction():
            self._db.executemany(
                "INSERT OR IGNORE INTO channel_members (channel_id, user_id) VALUES (?, ?)",
                [(channel_id, uid) for uid in ids],
            )
            self._add_pending_users(ids)

    @_serialized
    def channel_member_ids(self, channel_id: str) -> set[str]:
        return {
            str(row[0])
            for row in self._db.execute(
                "SELECT user_id FROM channel_members WHERE channel_id = ?", (channel_id,)
            )
        }

    @_serialized
    def channel_ids(self) -> set[str]:
        return {str(row[0]) for row in self._db.execute("SELECT id FROM channels")}

    # ----------------------------------------------------------------- posts

    @_serialized
    def save_posts(
        self,
        posts: Sequence[Raw],
        *,
        sync: Mapping[str, Any] | None = None,
        sync_channel_id: str = "",
    ) -> PostBatchOutcome:
        """Merge one page of posts (and, atomically with it, the channel's sync state)."""
        outcome = PostBatchOutcome()
        with self.transaction():
            history_copies: list[Raw] = []
            live: list[Raw] = []
            for post in posts:
                if _is_history_copy(post):
                    history_copies.append(post)
                elif _str(post.get("id")):
                    live.append(post)
            for copy in history_copies:
                outcome.max_update_at = max(outcome.max_update_at, _int(copy.get("update_at")))
                if self._save_history_copy(copy):
                    outcome.history_rows += 1
            existing = self._existing_posts([_str(p.get("id")) for p in live])
            referenced_users: set[str] = set()
            new_rows: list[tuple[Any, ...]] = []
            new_reactions: list[tuple[str, str, str, int]] = []
            for post in live:
                post_id = _str(post.get("id"))
                outcome.max_update_at = max(outcome.max_update_at, _int(post.get("update_at")))
                archived = existing.get(post_id)
                if archived is None:
                    new_rows.append(_post_row(post))
                    if _int(post.get("delete_at")) == 0:
                        new_reactions.extend(_reaction_rows(post))
                    outcome.new_posts += 1
                elif not self._merge_post(post, archived, outcome):
                    continue
                outcome.ids.append(post_id)
                _collect_user_ids(post, referenced_users)
                if _int(post.get("delete_at")) == 0 and (
                    post.get("file_ids") or _dict(post.get("metadata")).get("files")
                ):
                    self._save_post_attachments(post, outcome)
            self._db.executemany(
                _INSERT_POST,
                new_rows,
            )
            self._db.executemany(
                _INSERT_REACTION,
                new_reactions,
            )
            self._add_pending_users(referenced_users)
            if sync is not None:
                self._update_sync(sync_channel_id, sync)
        return outcome

    def _existing_posts(self, ids: Sequence[str]) -> dict[str, sqlite3.Row]:
        found: dict[str, sqlite3.Row] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            cursor = self._db.execute(
                "SELECT id, update_at, edit_at, delete_at, message, raw FROM posts "  # noqa: S608 - placeholders only
                f"WHERE id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            cursor.row_factory = sqlite3.Row
            for row in cursor:
                found[row["id"]] = row
        return found

    def _merge_post(self, post: Raw, archived: sqlite3.Row, outcome: PostBatchOutcome) -> bool:
        """Apply a newer copy of an archived post; returns whether anything changed."""
        post_id = _str(post.get("id"))
        update_at = _int(post.get("update_at"))
        delete_at = _int(post.get("delete_at"))
        if delete_at > 0:
            if archived["delete_at"]:
                return False
            # Never forget: keep the archived text and raw, only record that it is gone.
            self._db.execute(
                "UPDATE posts SET delete_at = ?, update_at = max(update_at, ?) WHERE id = ?",
                (delete_at, update_at, post_id),
            )
            outcome.changed_posts += 1
            return True
        if update_at <= archived["update_at"]:
            return False
        message = _str(post.get("message"))
        edit_at = _int(post.get("edit_at"))
        if archived["message"] != message and archived["edit_at"] != edit_at:
            self._keep_archived_text(post_id, archived, replaced_at=edit_at or update_at)
            outcome.history_rows += 1
        self._db.execute("DELETE FROM posts WHERE id = ?", (post_id,))
        self._db.execute(
            _INSERT_POST,
            _post_row(post),
        )
        if isinstance(post.get("metadata"), Mapping):
            self._db.execute("DELETE FROM reactions WHERE post_id = ?", (post_id,))
            self._db.executemany(
                _INSERT_REACTION,
                _reaction_rows(post),
            )
        outcome.changed_posts += 1
        return True

    def _keep_archived_text(self, post_id: str, archived: sqlite3.Row, *, replaced_at: int) -> None:
        known = self._db.execute(
            "SELECT 1 FROM post_history WHERE post_id = ? AND edit_at = ?", (post_id, archived["edit_at"])
        ).fetchone()
        if known is None:
            self._db.execute(
                "INSERT OR IGNORE INTO post_history (id, post_id, message, edit_at, replaced_at, raw) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    f"{post_id}@{replaced_at}",
                    post_id,
                    archived["message"],
                    archived["edit_at"],
                    replaced_at,
                    archived["raw"],
                ),
            )

    def _save_history_copy(self, copy: Raw) -> bool:
        """An edit-history copy from `since`: the server's own record of an earlier text. Servers blank
        the text of deleted rows, copies included; a blank copy tells nothing and is not kept."""
        if not _str(copy.get("message")):
            return False
        post_id = _str(copy.get("original_id"))
        edit_at = _int(copy.get("edit_at"))
        known = self._db.execute(
            "SELECT 1 FROM post_history WHERE id = ? OR (post_id = ? AND edit_at = ?)",
            (_str(copy.get("id")), post_id, edit_at),
        ).fetchone()
        if known is not None:
            return False
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO post_history (id, post_id, message, edit_at, replaced_at, raw) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                _str(copy.get("id")),
                post_id,
                _str(copy.get("message")),
                edit_at,
                _int(copy.get("delete_at")) or _int(copy.get("update_at")),
                _json(copy),
            ),
        )
        return cursor.rowcount > 0

    def _save_post_attachments(self, post: Raw, outcome: PostBatchOutcome) -> None:
        post_id = _str(post.get("id"))
        infos = [_dict(info) for info in _list(_dict(post.get("metadata")).get("files"))]
        described = set()
        for info in infos:
            file_id = _str(info.get("id"))
            if not file_id:
                continue
            described.add(file_id)
            if self._save_file_info(info, post_id=post_id, channel_id=_str(post.get("channel_id"))):
                outcome.new_files += 1
        for file_id in _list(post.get("file_ids")):
            if (
                isinstance(file_id, str)
                and file_id
                and file_id not in described
                and not self._has_file(file_id)
            ):
                outcome.file_ids_without_info.append((post_id, file_id))

    def _has_file(self, file_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM files WHERE id = ?", (file_id,)).fetchone() is not None

    @_serialized
    def post_exists(self, post_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM posts WHERE id = ?", (post_id,)).fetchone() is not None

    @_serialized
    def missing_root_ids(self, channel_id: str) -> list[str]:
        """Thread roots that replies in the channel point to but the archive lacks."""
        return [
            str(row[0])
            for row in self._db.execute(
                "SELECT DISTINCT r.root_id FROM posts r WHERE r.channel_id = ? AND r.root_id <> '' "
                "AND NOT EXISTS (SELECT 1 FROM posts p WHERE p.id = r.root_id)",
                (channel_id,),
            )
        ]

    @_serialized
    def count_posts(self, channel_id: str | None = None) -> int:
        if channel_id is None:
            return int(self._db.execute("SELECT count(*) FROM posts").fetchone()[0])
        return int(
            self._db.execute("SELECT count(*) FROM posts WHERE channel_id = ?", (channel_id,)).fetchone()[0]
        )

    @_serialized
    def posts_created_between(self, channel_id: str, older_than: int, newer_than: int) -> int:
        """How many live posts of the channel were created strictly between two times."""
        row = self._db.execute(
            "SELECT count(*) FROM posts WHERE channel_id = ? AND create_at < ? AND "
            "create_at > ? AND delete_at = 0",
            (channel_id, older_than, newer_than),
        ).fetchone()
        return int(row[0])

    @_serialized
    def post_create_at(self, post_id: str) -> int | None:
        row = self._db.execute("SELECT create_at FROM posts WHERE id = ?", (post_id,)).fetchone()
        return None if row is None else int(row[0])

    # ----------------------------------------------------------------- sync state

    @_serialized
    def sync_state(self, channel_id: str) -> SyncState:
        row = self._db.execute(
            "SELECT history_complete, backfill_anchor, backfill_page, since_cursor, "
            "synced_at, backfill_started_at "
            "FROM sync_channels WHERE channel_id = ?",
            (channel_id,),
        ).fetchone()
        if row is None:
            return SyncState(channel_id)
        return SyncState(channel_id, bool(row[0]), row[1], int(row[2]), int(row[3]), int(row[4]), int(row[5]))

    _SYNC_COLUMNS = frozenset(
        {
            "history_complete",
            "backfill_anchor",
            "backfill_page",
            "since_cursor",
            "synced_at",
            "backfill_started_at",
        }
    )

    def _update_sync(self, channel_id: str, fields: Mapping[str, Any]) -> None:
        unknown = set(fields) - self._SYNC_COLUMNS
        if unknown:
            raise ValueError(f"unknown sync_channels columns: {sorted(unknown)}")
        self._db.execute("INSERT OR IGNORE INTO sync_channels (channel_id) VALUES (?)", (channel_id,))
        if fields:
            assignments = ", ".join(f"{name} = ?" for name in fields)
            self._db.execute(
                f"UPDATE sync_channels SET {assignments} WHERE channel_id = ?",  # noqa: S608 - checked names
                (*fields.values(), channel_id),
            )

    @_serialized
    def update_sync(self, channel_id: str, **fields: Any) -> None:
        with self.transaction():
            self._update_sync(channel_id, fields)

    # ----------------------------------------------------------------- files

    @_serialized
    def save_file_info(self, info: Raw, *, post_id: str = "", channel_id: str = "") -> bool:
        """Record a FileInfo; returns True when the file is new to the archive."""
        with self.transaction():
            return self._save_file_info(info, post_id=post_id, channel_id=channel_id)

    def _save_file_info(self, info: Raw, *, post_id: str, channel_id: str) -> bool:
        file_id = _str(info.get("id"))
        if not file_id:
            return False
        values = (
            _str(info.get("post_id")) or post_id,
            _str(info.get("channel_id")) or channel_id,
            _str(info.get("user_id")),
            _str(info.get("name")),
            _str(info.get("extension")),
            _int(info.get("size")),
            _str(info.get("mime_type")),
            _optional_int(info.get("width")),
            _optional_int(info.get("height")),
            _int(info.get("create_at")),
            _int(info.get("delete_at")),
            _json(info),
        )
        status = "unavailable" if info.get("archived") is True else "pending"
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO files (post_id, channel_id, user_id, name, "
            "extension, size, mime_type, width, "
            "height, create_at, delete_at, raw, id, status) VALUES (?, ?, ?, ?, "
            "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*values, file_id, status),
        )
        if cursor.rowcount:
            return True
        self._db.execute(
            "UPDATE files SET post_id = ?, channel_id = ?, user_id = ?, name = ?, extension = ?, "
            "size = CASE WHEN status = 'saved' THEN size ELSE ? END, mime_type "
            "= ?, width = ?, height = ?, "
            "create_at = ?, delete_at = ?, raw = ? WHERE id = ?",
            (*values, file_id),
        )
        return False

    _WANTED_FILES = (
        "(status IN ('pending', 'skipped', 'failed') "
        "OR (status = 'unavailable' AND json_extract(raw, '$.archived') IS NOT 1))"
    )

    @_serialized
    def files_to_fetch(self, *, after_rowid: int = 0, limit: int = 100) -> list[tuple[int, FileRow]]:
        """Files whose bytes are still wanted (pending, skipped or failed earlier), in discovery order,
        starting after `after_rowid` so one run tries each file once."""
        rows = self._db.execute(
            "SELECT id, post_id, channel_id, name, extension, size, mime_type, "  # noqa: S608 - constant
            "status, raw, path, thumbnail_path, "
            f"preview_path, rowid FROM files WHERE rowid > ? AND {self._WANTED_FILES} ORDER BY rowid LIMIT ?",
            (after_rowid, limit),
        )
        return [(int(row[12]), _file_row(row)) for row in rows]

    @_serialized
    def skip_wanted_files(self) -> None:
        """The run does not fetch files: say so for every file still wanted."""
        with self.transaction():
            self._db.execute(f"UPDATE files SET status = 'skipped' WHERE {self._WANTED_FILES}")  # noqa: S608

    @_serialized
    def file_row(self, file_id: str) -> FileRow | None:
        row = self._db.execute(
            "SELECT id, post_id, channel_id, name, extension, size, mime_type, "
            "status, raw, path, thumbnail_path, "
            "preview_path FROM files WHERE id = ?",
            (file_id,),
        ).fetchone()
        return None if row is None else _file_row(row)

    @_serialized
    def count_files_to_fetch(self) -> tuple[int, int]:
        """How many files are still wanted and their total size according to the server."""
        row = self._db.execute(
            f"SELECT count(*), coalesce(sum(size), 0) FROM files WHERE {self._WANTED_FILES}"  # noqa: S608
        ).fetchone()
        return int(row[0]), int(row[1])

    @_serialized
    def mark_file_saved(self, file_id: str, *, path: str, sha256: str, size: int) -> None:
        with self.transaction():
            self._db.execute(
                "UPDATE files SET status = 'saved', path = ?, sha256 = ?, size = ? WHERE id = ?",
                (path, sha256, size, file_id),
            )

    @_serialized
    def mark_file_image(self, file_id: str, kind: str, path: str) -> None:
        """Record the server's thumbnail or preview of a saved file."""
        column = {"thumbnail": "thumbnail_path", "preview": "preview_path"}[kind]
        with self.transaction():
            self._db.execute(f"UPDATE files SET {column} = ? WHERE id = ?", (path, file_id))  # noqa: S608

    @_serialized
    def mark_file_status(self, file_id: str, status: str) -> None:
        if status not in ("pending", "skipped", "failed", "unavailable"):
            raise ValueError(f"not a file status to set by hand: {status}")
        with self.transaction():
            self._db.execute(
                "UPDATE files SET status = ? WHERE id = ? AND status <> 'saved'", (status, file_id)
            )

    def saved_files(self) -> Iterator[tuple[str, str | None, str | None, int, str | None, str | None]]:
        """(id, path, sha256, size, thumbnail_path, preview_path) of every saved file."""
        yield from self._db.execute(
            "SELECT id, path, sha256, size, thumbnail_path, preview_path FROM files WHERE status = 'saved'"
        )

    # ----------------------------------------------------------------- users

    def _add_pending_users(self, user_ids: Iterable[str]) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO sync_pending_users (user_id) SELECT ? WHERE NOT EXISTS "
            "(SELECT 1 FROM users WHERE id = ?)",
            [(uid, uid) for uid in user_ids if uid],
        )

    @_serialized
    def add_pending_users(self, user_ids: Iterable[str]) -> None:
        with self.transaction():
            self._add_pending_users(user_ids)

    @_serialized
    def pending_user_ids(self) -> list[str]:
        return [
            str(row[0]) for row in self._db.execute("SELECT user_id FROM sync_pending_users ORDER BY user_id")
        ]

    @_serialized
    def drop_pending_users(self, user_ids: Iterable[str]) -> None:
        with self.transaction():
            self._db.executemany(
                "DELETE FROM sync_pending_users WHERE user_id = ?", [(uid,) for uid in user_ids]
            )

    @_serialized
    def usernames(self) -> dict[str, str]:
        return {str(row[0]): str(row[1]) for row in self._db.execute("SELECT id, username FROM users")}

    @_serialized
    def user_ids(self) -> list[str]:
        return [str(row[0]) for row in self._db.execute("SELECT id FROM users ORDER BY id")]

    @_serialized
    def save_users(self, users: Iterable[Raw]) -> int:
        rows = [
            (
                _str(u.get("id")),
                _str(u.get("username")),
                _str(u.get("first_name")),
                _str(u.get("last_name")),
                _str(u.get("nickname")),
                1 if u.get("is_bot") is True else 0,
                _int(u.get("delete_at")),
                _int(u.get("last_picture_update")),
                _json(u),
            )
            for u in users
            if _str(u.get("id"))
        ]
        with self.transaction():
            self._db.executemany(
                "INSERT INTO users (id, username, first_name, last_name, nickname, is_bot, delete_at, "
                "last_picture_update, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "username = excluded.username, first_name = excluded.first_name, "
                "last_name = excluded.last_name, "
                "nickname = excluded.nickname, is_bot = excluded.is_bot, delete_at = excluded.delete_at, "
                "last_picture_update = excluded.last_picture_update, raw = excluded.raw",
                rows,
            )
            self._db.executemany(
                "DELETE FROM sync_pending_users WHERE user_id = ?", [(row[0],) for row in rows]
            )
        return len(rows)

    @_serialized
    def avatars_to_fetch(self) -> list[UserAvatarRow]:
        """Users whose avatar was never saved or changed on the server since."""
        return [
            UserAvatarRow(str(row[0]), int(row[1]), row[2], row[3])
            for row in self._db.execute(
                "SELECT id, last_picture_update, avatar_path, avatar_etag FROM users "
                "WHERE avatar_path IS NULL OR avatar_etag IS NOT "
                "CAST(last_picture_update AS TEXT) ORDER BY id"
            )
        ]

    @_serialized
    def mark_avatar_saved(self, user_id: str, *, path: str, sha256: str, etag: str) -> None:
        with self.transaction():
            self._db.execute(
                "UPDATE users SET avatar_path = ?, avatar_sha256 = ?, avatar_etag = ? WHERE id = ?",
                (path, sha256, etag, user_id),
            )

    @_serialized
    def mark_avatar_current(self, user_id: str, etag: str) -> None:
        with self.transaction():
            self._db.execute("UPDATE users SET avatar_etag = ? WHERE id = ?", (etag, user_id))

    def saved_avatars(self) -> Iterator[tuple[str, str, str | None]]:
        yield from self._db.execute(
            "SELECT id, avatar_path, avatar_sha256 FROM users WHERE avatar_path IS NOT NULL"
        )

    # ----------------------------------------------------------------- emoji

    @_serialized
    def save_emoji(self, emoji: Iterable[Raw]) -> int:
        rows = [
            (
                _str(e.get("id")),
                _str(e.get("name")),
                _str(e.get("creator_id")),
                _int(e.get("delete_at")),
                _json(e),
            )
            for e in emoji
            if _str(e.get("id"))
        ]
        with self.transaction():
            self._db.executemany(
                "INSERT INTO emoji (id, name, creator_id, delete_at, raw) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name, creator_id = excluded.creator_id, "
                "delete_at = excluded.delete_at, raw = excluded.raw",
                rows,
            )
        return len(rows)

    @_serialized
    def emoji_to_fetch(self) -> list[EmojiRow]:
        return [
            EmojiRow(str(row[0]), str(row[1]), _int(row[2]), row[3])
            for row in self._db.execute(
                "SELECT id, name, json_extract(raw, '$.update_at'), path FROM emoji "
                "WHERE path IS NULL AND delete_at = 0 ORDER BY id"
            )
        ]

    @_serialized
    def mark_emoji_saved(self, emoji_id: str, *, path: str, sha256: str) -> None:
        with self.transaction():
            self._db.execute("UPDATE emoji SET path = ?, sha256 = ? WHERE id = ?", (path, sha256, emoji_id))

    def saved_emoji(self) -> Iterator[tuple[str, str, str | None]]:
        yield from self._db.execute("SELECT id, path, sha256 FROM emoji WHERE path IS NOT NULL")

    # ----------------------------------------------------------------- problems and runs

    @_serialized
    def record_problem(self, kind: str, item_id: str, message: str, at: int) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT INTO problems (kind, item_id, message, first_at, last_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (kind, item_id) DO UPDATE SET message = "
                "excluded.message, last_at = excluded.last_at",
                (kind, item_id, message, at, at),
            )

    @_serialized
    def clear_problem(self, kind: str, item_id: str) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM problems WHERE kind = ? AND item_id = ?", (kind, item_id))

    @_serialized
    def clear_problems_older_than(self, at: int) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM problems WHERE last_at < ?", (at,))

    @_serialized
    def problems(self) -> list[ProblemRow]:
        return [
            ProblemRow(str(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]))
            for r in self._db.execute(
                "SELECT kind, item_id, message, first_at, last_at FROM problems ORDER BY kind, item_id"
            )
        ]

    @_serialized
    def start_run(self, options: Mapping[str, Any], tool_version: str) -> int:
        with self.transaction():
            cursor = self._db.execute(
                "INSERT INTO runs (started_at, status, options, tool_version) VALUES (?, 'running', ?, ?)",
                (now_ms(), json.dumps(dict(options), sort_keys=True), tool_version),
            )
        return int(cursor.lastrowid or 0)

    @_serialized
    def finish_run(self, run_id: int, status: str, stats: Mapping[str, int]) -> None:
        with self.transaction():
            self._db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, stats = ? WHERE id = ?",
                (now_ms(), status, json.dumps(dict(stats), sort_keys=True), run_id),
            )

    @_serialized
    def run_statuses(self) -> list[str]:
        return [str(row[0]) for row in self._db.execute("SELECT status FROM runs ORDER BY id")]

    # ----------------------------------------------------------------- listing for readers and checks

    @_serialized
    def referenced_paths(self) -> set[str]:
        """Every relative path the database says holds bytes."""
        paths: set[str] = set()
        for path, thumb, preview in self._db.execute(
            "SELECT path, thumbnail_path, preview_path FROM files WHERE status = 'saved'"
        ):
            paths.update(p for p in (path, thumb, preview) if p)
        paths.update(
            str(r[0]) for r in self._db.execute("SELECT avatar_path FROM users WHERE avatar_path IS NOT NULL")
        )
        paths.update(str(r[0]) for r in self._db.execute("SELECT path FROM emoji WHERE path IS NOT NULL"))
        return paths


def _file_row(row: Sequence[Any]) -> FileRow:
    raw = jsoncodec.parse(row[8]) if row[8] else {}
    return FileRow(
        id=row[0],
        post_id=row[1],
        channel_id=row[2],
        name=row[3],
        extension=row[4],
        size=int(row[5]),
        mime_type=row[6],
        status=row[7],
        has_preview_image=isinstance(raw, dict) and raw.get("has_preview_image") is True,
        path=row[9],
        thumbnail_path=row[10],
        preview_path=row[11],
    )


def _post_row(post: Raw) -> tuple[Any, ...]:
    return (
        _str(post.get("id")),
        _str(post.get("channel_id")),
        _str(post.get("root_id")),
        _str(post.get("user_id")),
        _int(post.get("create_at")),
        _int(post.get("update_at")),
        _int(post.get("edit_at")),
        _int(post.get("delete_at")),
        _str(post.get("message")),
        _str(post.get("type")),
        1 if post.get("is_pinned") is True else 0,
        _json(post),
    )


def _reaction_rows(post: Raw) -> list[tuple[str, str, str, int]]:
    """The post's current reactions as the server reported them in `metadata.reactions`."""
    post_id = _str(post.get("id"))
    rows: dict[tuple[str, str], int] = {}
    for reaction in _list(_dict(post.get("metadata")).get("reactions")):
        if not isinstance(reaction, Mapping) or _int(reaction.get("delete_at")):
            continue
        user_id, emoji_name = _str(reaction.get("user_id")), _str(reaction.get("emoji_name"))
        if user_id and emoji_name:
            rows[(user_id, emoji_name)] = _int(reaction.get("create_at"))
    return [(post_id, user_id, emoji, created) for (user_id, emoji), created in rows.items()]


def _is_history_copy(post: Raw) -> bool:
    """Edit-history copies carry the edited post's id in `original_id` and are marked deleted."""
    return bool(_str(post.get("original_id"))) and _int(post.get("delete_at")) > 0


def _collect_user_ids(post: Raw, into: set[str]) -> None:
    """Add the users a post refers to: its author, who reacted, users named by system posts."""
    candidates = [post.get("user_id")]
    props = post.get("props")
    if isinstance(props, Mapping) and props:
        candidates.extend(props.get(key) for key in _USER_ID_PROPS)
    metadata = post.get("metadata")
    if isinstance(metadata, Mapping) and metadata.get("reactions"):
        candidates.extend(_dict(reaction).get("user_id") for reaction in _list(metadata.get("reactions")))
    into.update(uid for uid in candidates if isinstance(uid, str) and uid and is_safe_id(uid))


def _split_sql(script: str) -> list[str]:
    """The schema's statements, one by one, so they run inside the caller's transaction."""
    statements: list[str] = []
    current: list[str] = []
    for line in script.splitlines():
        if line.strip().startswith("--"):
            continue
        current.append(line)
        candidate = "\n".join(current).strip()
        if candidate.endswith(";") and sqlite3.complete_statement(candidate):
            statements.append(candidate)
            current = []
    if "\n".join(current).strip():
        raise ArchiveError("schema.sql ends with an incomplete statement")
    return statements
