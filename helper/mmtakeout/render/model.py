"""Reads an archive into small, display-ready view objects over a read-only SQLite connection.

Everything in the archive came from a server and is untrusted: JSON columns may be malformed or of
the wrong shape, paths may try to leave the folder. This module normalises shapes (a bad `props` is
an empty dict) and validates paths; escaping is the job of whoever turns the values into output.
Posts are streamed per conversation in batches so memory stays bounded on very large archives.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmtakeout import jsoncodec
from mmtakeout.archive.store import connect_readonly

POST_BATCH = 400
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9._@+=-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value == value and abs(value) < 2**62:
        return int(value)
    return 0


def parse_json_object(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        return as_dict(jsoncodec.parse(text))
    except (ValueError, RecursionError):
        return {}


def safe_relative_path(path: str | None) -> str | None:
    """`path` if it is a plain relative path inside the archive folder, else None.

    Archive paths are written by the exporter from ids, but a tampered or future archive must not
    make the viewer link outside its folder: no absolute paths, schemes, backslashes or dot segments.
    """
    if not path or len(path) > 512 or _CONTROL.search(path):
        return None
    segments = path.split("/")
    if any(segment in ("", ".", "..") or not _SAFE_SEGMENT.fullmatch(segment) for segment in segments):
        return None
    return path


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    first_name: str = ""
    last_name: str = ""
    nickname: str = ""
    is_bot: bool = False
    delete_at: int = 0
    avatar_path: str | None = None

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name.strip(), self.last_name.strip()) if part)

    @property
    def display_name(self) -> str:
        """Nickname, else full name, else username (servers may blank names of others)."""
        return self.nickname.strip() or self.full_name or self.username.strip() or self.id

    @property
    def deactivated(self) -> bool:
        return self.delete_at > 0


def unknown_user(user_id: str) -> User:
    return User(id=user_id, username=f"unknown-{user_id[:8]}" if user_id else "unknown")


@dataclass(frozen=True, slots=True)
class CustomEmoji:
    id: str
    name: str
    path: str | None
    deleted: bool


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    name: str
    display_name: str
    deleted: bool


@dataclass(slots=True)
class Channel:
    id: str
    team_id: str
    type: str
    name: str
    display_name: str
    header: str
    purpose: str
    create_at: int
    delete_at: int
    last_post_at: int
    total_msg_count: int
    is_favorite: bool
    member_ids: list[str] = field(default_factory=list)

    @property
    def archived(self) -> bool:
        return self.delete_at > 0


@dataclass(frozen=True, slots=True)
class FileRef:
    id: str
    name: str
    extension: str
    size: int
    mime_type: str
    width: int | None
    height: int | None
    status: str
    path: str | None
    thumbnail_path: str | None
    preview_path: str | None

    @property
    def saved(self) -> bool:
        return self.status == "saved" and self.path is not None


@dataclass(frozen=True, slots=True)
class Reaction:
    user_id: str
    emoji_name: str
    create_at: int


@dataclass(frozen=True, slots=True)
class Revision:
    message: str
    edit_at: int
    replaced_at: int


@dataclass(slots=True)
class Post:
    id: str
    channel_id: str
    root_id: str
    user_id: str
    create_at: int
    update_at: int
    edit_at: int
    delete_at: int
    message: str
    type: str
    is_pinned: bool
    props: dict[str, Any]
    metadata: dict[str, Any]
    file_ids: list[str]
    files: list[FileRef] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    history: list[Revision] = field(default_factory=list)

    @property
    def is_system(self) -> bool:
        return self.type.startswith("system_")

    @property
    def is_reply(self) -> bool:
        return bool(self.root_id)


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    reply_count: int
    last_reply_at: int


def _post_from_row(row: sqlite3.Row) -> Post:
    raw = parse_json_object(row["raw"])
    file_ids = [item for item in as_list(raw.get("file_ids")) if isinstance(item, str)]
    return Post(
        id=row["id"],
        channel_id=row["channel_id"],
        root_id=row["root_id"] or "",
        user_id=row["user_id"] or "",
        create_at=row["create_at"] or 0,
        update_at=row["update_at"] or 0,
        edit_at=row["edit_at"] or 0,
        delete_at=row["delete_at"] or 0,
        message=row["message"] or "",
        type=row["type"] or "",
        is_pinned=bool(row["is_pinned"]),
        props=as_dict(raw.get("props")),
        metadata=as_dict(raw.get("metadata")),
        file_ids=file_ids,
    )


def post_from_json(raw: dict[str, Any]) -> Post:
    """A post embedded in another object (a permalink preview), shaped like an archived one."""
    return Post(
        id=as_str(raw.get("id")),
        channel_id=as_str(raw.get("channel_id")),
        root_id=as_str(raw.get("root_id")),
        user_id=as_str(raw.get("user_id")),
        create_at=as_int(raw.get("create_at")),
        update_at=as_int(raw.get("update_at")),
        edit_at=as_int(raw.get("edit_at")),
        delete_at=as_int(raw.get("delete_at")),
        message=as_str(raw.get("message")),
        type=as_str(raw.get("type")),
        is_pinned=bool(raw.get("is_pinned")),
        props=as_dict(raw.get("props")),
        metadata=as_dict(raw.get("metadata")),
        file_ids=[],
    )


_POST_COLUMNS = (
    "id, channel_id, root_id, user_id, create_at, update_at, edit_at, delete_at, "
    "message, type, is_pinned, raw"
)


def _placeholders(count: int) -> str:
    return ",".join("?" * count)


class ArchiveReader:
    """A read-only view of one archive folder."""

    def __init__(self, archive_dir: Path) -> None:
        self.archive_dir = archive_dir
        self._db = connect_readonly(archive_dir)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def meta(self) -> dict[str, str]:
        return {row["key"]: row["value"] for row in self._db.execute("SELECT key, value FROM meta")}

    def users(self) -> dict[str, User]:
        rows = self._db.execute(
            "SELECT id, username, first_name, last_name, nickname, is_bot, delete_at, avatar_path FROM users"
        )
        return {
            row["id"]: User(
                id=row["id"],
                username=row["username"] or "",
                first_name=row["first_name"] or "",
                last_name=row["last_name"] or "",
                nickname=row["nickname"] or "",
                is_bot=bool(row["is_bot"]),
                delete_at=row["delete_at"] or 0,
                avatar_path=safe_relative_path(row["avatar_path"]),
            )
            for row in rows
        }

    def custom_emoji(self) -> dict[str, CustomEmoji]:
        rows = self._db.execute("SELECT id, name, delete_at, path FROM emoji ORDER BY delete_at <> 0, id")
        emoji: dict[str, CustomEmoji] = {}
        for row in rows:
            emoji.setdefault(
                row["name"],
                CustomEmoji(row["id"], row["name"], safe_relative_path(row["path"]), bool(row["delete_at"])),
            )
        return emoji

    def teams(self) -> dict[str, Team]:
        rows = self._db.execute("SELECT id, name, display_name, delete_at FROM teams")
        return {
            row["id"]: Team(row["id"], row["name"] or "", row["display_name"] or "", bool(row["delete_at"]))
            for row in rows
        }

    def channels(self) -> list[Channel]:
        channels = [
            Channel(
                id=row["id"],
                team_id=row["team_id"] or "",
                type=row["type"] or "",
                name=row["name"] or "",
                display_name=row["display_name"] or "",
                header=row["header"] or "",
                purpose=row["purpose"] or "",
                create_at=row["create_at"] or 0,
                delete_at=row["delete_at"] or 0,
                last_post_at=row["last_post_at"] or 0,
                total_msg_count=row["total_msg_count"] or 0,
                is_favorite=bool(row["is_favorite"]),
            )
            for row in self._db.execute(
                "SELECT id, team_id, type, name, display_name, header, purpose, create_at, delete_at, "
                "last_post_at, total_msg_count, is_favorite FROM channels ORDER BY id"
            )
        ]
        members: dict[str, list[str]] = {}
        for row in self._db.execute(
            "SELECT channel_id, user_id FROM channel_members ORDER BY channel_id, user_id"
        ):
            members.setdefault(row["channel_id"], []).append(row["user_id"])
        for channel in channels:
            channel.member_ids = members.get(channel.id, [])
        return channels

    def channel_summary(self, channel_id: str) -> tuple[int, int, int]:
        """(post count, first create_at, last create_at) of the archived posts."""
        row = self._db.execute(
            "SELECT count(*), coalesce(min(create_at), 0), coalesce(max(create_at), 0) FROM posts "
            "WHERE channel_id = ?",
            (channel_id,),
        ).fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def channel_fingerprint_facts(self, channel_id: str) -> tuple[Any, ...]:
        """Cheap aggregates that change whenever anything shown for the conversation changes."""
        posts = self._db.execute(
            "SELECT count(*), coalesce(max(update_at), 0), coalesce(sum(update_at % 1000003), 0), "
            "coalesce(sum(edit_at % 1000003 + delete_at % 1000003 + is_pinned), 0), "
            "coalesce(sum(length(message)), 0) FROM posts WHERE channel_id = ?",
            (channel_id,),
        ).fetchone()
        files = self._db.execute(
            "SELECT count(*), coalesce(sum((length(status) * 31 + unicode(status)) * (rowid % 9973 "
            "+ 1)), 0), "
            "coalesce(sum(length(coalesce(path, '')) + length(coalesce(thumbnail_path, '')) "
            "+ length(coalesce(preview_path, ''))), 0) FROM files WHERE channel_id = ?",
            (channel_id,),
        ).fetchone()
        reactions = self._db.execute(
            "SELECT count(*), coalesce(sum(r.create_at % 1000003), 0) FROM posts p "
            "JOIN reactions r ON r.post_id = p.id WHERE p.channel_id = ?",
            (channel_id,),
        ).fetchone()
        history = self._db.execute(
            "SELECT count(*), coalesce(sum(h.replaced_at % 1000003), 0) FROM posts p "
            "JOIN post_history h ON h.post_id = p.id WHERE p.channel_id = ?",
            (channel_id,),
        ).fetchone()
        return (*tuple(posts), *tuple(files), *tuple(reactions), *tuple(history))

    def post_skeleton(self, channel_id: str) -> Iterator[tuple[str, str, str, int, int]]:
        """(id, root_id, user_id, create_at, update_at) of every post of a conversation, in display order."""
        cursor = self._db.execute(
            "SELECT id, root_id, user_id, create_at, update_at FROM posts WHERE channel_id = ? "
            "ORDER BY create_at, id",
            (channel_id,),
        )
        for row in cursor:
            yield row[0], row[1] or "", row[2] or "", int(row[3] or 0), int(row[4] or 0)

    def detail_states(self, channel_id: str) -> dict[str, str]:
        """Per post id, a short string that changes when its files, reactions or edit history change."""
        states: dict[str, list[str]] = {}
        queries = (
            "SELECT post_id, group_concat(id || status || coalesce(path, '') || coalesce(preview_path, '') "
            "|| coalesce(thumbnail_path, '') || name, '|') FROM files WHERE channel_id = ? GROUP BY post_id",
            "SELECT r.post_id, group_concat(r.user_id || r.emoji_name, '|') FROM posts p "
            "JOIN reactions r ON r.post_id = p.id WHERE p.channel_id = ? GROUP BY r.post_id",
            "SELECT h.post_id, count(*) || ':' || max(h.replaced_at) FROM posts p "
            "JOIN post_history h ON h.post_id = p.id WHERE p.channel_id = ? GROUP BY h.post_id",
        )
        for query in queries:
            for row in self._db.execute(query, (channel_id,)):
                states.setdefault(row[0], []).append(str(row[1]))
        return {post_id: "#".join(parts) for post_id, parts in states.items()}

    def thread_infos(self, channel_id: str) -> dict[str, ThreadInfo]:
        cursor = self._db.execute(
            "SELECT root_id, count(*), max(create_at) FROM posts WHERE channel_id = ? AND root_id <> '' "
            "GROUP BY root_id",
            (channel_id,),
        )
        return {row[0]: ThreadInfo(int(row[1]), int(row[2] or 0)) for row in cursor}

    def iter_posts(
        self, channel_id: str, start: tuple[int, str] | None = None, limit: int | None = None
    ) -> Iterator[Post]:
        """Posts of a conversation in display order, with files, reactions and history.

        `start` is the (create_at, id) of the first post wanted; `limit` caps how many.
        """
        query = f"SELECT {_POST_COLUMNS} FROM posts WHERE channel_id = ?"  # noqa: S608 - only column names and '?' placeholders are interpolated
        params: list[Any] = [channel_id]
        if start is not None:
            query += " AND (create_at, id) >= (?, ?)"
            params.extend(start)
        query += " ORDER BY create_at, id"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        cursor = self._db.execute(query, params)
        while True:
            rows = cursor.fetchmany(POST_BATCH)
            if not rows:
                return
            posts = [_post_from_row(row) for row in rows]
            self._attach_details(posts)
            yield from posts

    def thread_posts(self, root_ids: Sequence[str]) -> Iterator[Post]:
        """Replies of the given roots, grouped by root in the given order, each thread in time order."""
        for start in range(0, len(root_ids), POST_BATCH):
            chunk = list(root_ids[start : start + POST_BATCH])
            order = {root: index for index, root in enumerate(chunk)}
            rows = self._db.execute(
                f"SELECT {_POST_COLUMNS} FROM posts WHERE root_id IN ({_placeholders(len(chunk))})",  # noqa: S608 - only column names and '?' placeholders are interpolated
                chunk,
            ).fetchall()
            posts = sorted(
                (_post_from_row(row) for row in rows),
                key=lambda post: (order[post.root_id], post.create_at, post.id),
            )
            for batch_start in range(0, len(posts), POST_BATCH):
                batch = posts[batch_start : batch_start + POST_BATCH]
                self._attach_details(batch)
                yield from batch

    def posts_by_id(self, post_ids: Iterable[str]) -> dict[str, Post]:
        wanted = list(dict.fromkeys(post_ids))
        found: dict[str, Post] = {}
        for start in range(0, len(wanted), POST_BATCH):
            chunk = wanted[start : start + POST_BATCH]
            for row in self._db.execute(
                f"SELECT {_POST_COLUMNS} FROM posts WHERE id IN ({_placeholders(len(chunk))})",  # noqa: S608
                chunk,
            ):
                found[row["id"]] = _post_from_row(row)
        return found

    def _attach_details(self, posts: list[Post]) -> None:
        by_id = {post.id: post for post in posts}
        ids = list(by_id)
        marks = _placeholders(len(ids))
        for row in self._db.execute(
            "SELECT id, post_id, name, extension, size, mime_type, width, height, status, path, "  # noqa: S608 - only column names and '?' placeholders are interpolated
            f"thumbnail_path, preview_path FROM files WHERE post_id IN ({marks}) ORDER BY create_at, id",
            ids,
        ):
            by_id[row["post_id"]].files.append(
                FileRef(
                    id=row["id"],
                    name=row["name"] or "",
                    extension=row["extension"] or "",
                    size=row["size"] or 0,
                    mime_type=row["mime_type"] or "",
                    width=row["width"],
                    height=row["height"],
                    status=row["status"] or "",
                    path=safe_relative_path(row["path"]),
                    thumbnail_path=safe_relative_path(row["thumbnail_path"]),
                    preview_path=safe_relative_path(row["preview_path"]),
                )
            )
        for row in self._db.execute(
            f"SELECT post_id, user_id, emoji_name, create_at FROM reactions WHERE post_id IN ({marks}) "  # noqa: S608 - only column names and '?' placeholders are interpolated
            "ORDER BY create_at, user_id",
            ids,
        ):
            by_id[row["post_id"]].reactions.append(
                Reaction(row["user_id"], row["emoji_name"], row["create_at"])
            )
        for row in self._db.execute(
            f"SELECT post_id, message, edit_at, replaced_at FROM post_history WHERE post_id IN ({marks}) "  # noqa: S608 - only column names and '?' placeholders are interpolated
            "ORDER BY replaced_at",
            ids,
        ):
            by_id[row["post_id"]].history.append(
                Revision(row["message"] or "", row["edit_at"] or 0, row["replaced_at"] or 0)
            )
