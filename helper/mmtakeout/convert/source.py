"""Read-only, streaming access to an archive for the converters.

Small tables (teams, channels, users, emoji, memberships) are loaded whole; posts are streamed one
channel at a time straight from SQLite so a converter's memory stays bounded on a million posts.
Everything read here is untrusted data: paths are resolved strictly inside the archive folder and
JSON held in `raw` columns is parsed defensively.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from mmtakeout import jsoncodec
from mmtakeout.archive.store import connect_readonly


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    name: str
    display_name: str
    type: str
    description: str
    delete_at: int


@dataclass(frozen=True, slots=True)
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
    is_favorite: bool
    creator_id: str


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    first_name: str
    last_name: str
    nickname: str
    position: str
    email: str
    is_bot: bool
    delete_at: int
    avatar_path: str | None


@dataclass(frozen=True, slots=True)
class Emoji:
    id: str
    name: str
    delete_at: int
    path: str | None


@dataclass(frozen=True, slots=True)
class Attachment:
    id: str
    name: str
    extension: str
    size: int
    mime_type: str
    status: str
    path: str | None
    create_at: int


@dataclass(frozen=True, slots=True)
class Reaction:
    user_id: str
    emoji_name: str
    create_at: int


@dataclass(frozen=True, slots=True)
class Post:
    id: str
    channel_id: str
    root_id: str
    user_id: str
    create_at: int
    edit_at: int
    message: str
    type: str
    is_pinned: bool
    has_history: bool
    props_attachments: list[Any] | None
    files: tuple[Attachment, ...]
    reactions: tuple[Reaction, ...]


@dataclass(frozen=True, slots=True)
class Thread:
    """A root post with its replies in time order; `detached` marks a reply whose root is not available."""

    root: Post
    replies: list[Post]
    detached: bool


_POST_COLUMNS = """
    p.id, p.channel_id, p.root_id, p.user_id, p.create_at, p.edit_at, p.message, p.type, p.is_pinned,
    EXISTS (SELECT 1 FROM post_history h WHERE h.post_id = p.id) AS has_history,
    CASE WHEN json_valid(p.raw) THEN json_extract(p.raw, '$.props.attachments') END AS props_attachments,
    (SELECT json_group_array(json_array(f.id, f.name, f.extension, f.size, f.mime_type, f.status, f.path,
                                        f.create_at))
       FROM files f WHERE f.post_id = p.id) AS files_json,
    (SELECT json_group_array(json_array(r.user_id, r.emoji_name, r.create_at))
       FROM reactions r WHERE r.post_id = p.id) AS reactions_json
"""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _raw_object(raw: str | None) -> dict[str, Any]:
    try:
        value = jsoncodec.parse(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _post_from_row(row: sqlite3.Row) -> Post:
    files = tuple(
        sorted(
            (
                Attachment(
                    id=_text(item[0]),
                    name=_text(item[1]),
                    extension=_text(item[2]),
                    size=_int(item[3]),
                    mime_type=_text(item[4]),
                    status=_text(item[5]),
                    path=item[6] if isinstance(item[6], str) else None,
                    create_at=_int(item[7]),
                )
                for item in jsoncodec.parse(row["files_json"] or "[]")
            ),
            key=lambda attachment: (attachment.create_at, attachment.id),
        )
    )
    reactions = tuple(
        sorted(
            (
                Reaction(user_id=_text(item[0]), emoji_name=_text(item[1]), create_at=_int(item[2]))
                for item in jsoncodec.parse(row["reactions_json"] or "[]")
            ),
            key=lambda reaction: (reaction.create_at, reaction.user_id, reaction.emoji_name),
        )
    )
    attachments_prop: list[Any] | None = None
    if row["props_attachments"] is not None:
        try:
            decoded = jsoncodec.parse(row["props_attachments"])
        except ValueError:
            decoded = None
        attachments_prop = decoded if isinstance(decoded, list) and decoded else None
    return Post(
        id=row["id"],
        channel_id=row["channel_id"],
        root_id=row["root_id"] or "",
        user_id=row["user_id"] or "",
        create_at=_int(row["create_at"]),
        edit_at=_int(row["edit_at"]),
        message=_text(row["message"]),
        type=_text(row["type"]),
        is_pinned=bool(row["is_pinned"]),
        has_history=bool(row["has_history"]),
        props_attachments=attachments_prop,
        files=files,
        reactions=reactions,
    )


class ArchiveSource:
    """An archive opened read-only. Use as a context manager."""

    def __init__(self, archive_dir: Path) -> None:
        self.archive_dir = archive_dir.resolve()
        self._conn = connect_readonly(self.archive_dir)

    def __enter__(self) -> ArchiveSource:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()

    def meta(self) -> dict[str, str]:
        return {row["key"]: row["value"] for row in self._conn.execute("SELECT key, value FROM meta")}

    def teams(self) -> list[Team]:
        teams = []
        for row in self._conn.execute(
            "SELECT id, name, display_name, delete_at, raw FROM teams ORDER BY name, id"
        ):
            raw = _raw_object(row["raw"])
            teams.append(
                Team(
                    id=row["id"],
                    name=row["name"],
                    display_name=row["display_name"],
                    type=_text(raw.get("type")) or "I",
                    description=_text(raw.get("description")),
                    delete_at=row["delete_at"],
                )
            )
        return teams

    def channels(self) -> list[Channel]:
        channels = []
        query = """SELECT id, team_id, type, name, display_name, header, purpose, create_at, delete_at,
                          is_favorite, raw FROM channels ORDER BY team_id, name, id"""
        for row in self._conn.execute(query):
            raw = _raw_object(row["raw"])
            channels.append(
                Channel(
                    id=row["id"],
                    team_id=row["team_id"] or "",
                    type=row["type"],
                    name=row["name"],
                    display_name=row["display_name"],
                    header=row["header"],
                    purpose=row["purpose"],
                    create_at=row["create_at"],
                    delete_at=row["delete_at"],
                    is_favorite=bool(row["is_favorite"]),
                    creator_id=_text(raw.get("creator_id")),
                )
            )
        return channels

    def users(self) -> dict[str, User]:
        users = {}
        query = """SELECT id, username, first_name, last_name, nickname, is_bot, delete_at, avatar_path, raw
                   FROM users ORDER BY id"""
        for row in self._conn.execute(query):
            raw = _raw_object(row["raw"])
            users[row["id"]] = User(
                id=row["id"],
                username=row["username"],
                first_name=row["first_name"],
                last_name=row["last_name"],
                nickname=row["nickname"],
                position=_text(raw.get("position")),
                email=_text(raw.get("email")),
                is_bot=bool(row["is_bot"]),
                delete_at=row["delete_at"],
                avatar_path=row["avatar_path"],
            )
        return users

    def emoji(self) -> list[Emoji]:
        return [
            Emoji(id=row["id"], name=row["name"], delete_at=row["delete_at"], path=row["path"])
            for row in self._conn.execute("SELECT id, name, delete_at, path FROM emoji ORDER BY name, id")
        ]

    def channel_members(self) -> dict[str, set[str]]:
        """The members the archive knows per channel: listed members, authors of live posts and reactors."""
        members: dict[str, set[str]] = {}
        query = """
            SELECT channel_id, user_id FROM channel_members
            UNION SELECT channel_id, user_id FROM posts WHERE delete_at = 0 AND user_id <> ''
            UNION SELECT p.channel_id, r.user_id FROM reactions r JOIN posts p ON p.id = r.post_id
                  WHERE p.delete_at = 0"""
        for row in self._conn.execute(query):
            members.setdefault(row["channel_id"], set()).add(row["user_id"])
        return members

    def deleted_post_count(self, channel_id: str) -> int:
        row = self._conn.execute(
            "SELECT COUNT(*) FROM posts WHERE channel_id = ? AND delete_at <> 0", (channel_id,)
        ).fetchone()
        return int(row[0])

    def threads(self, channel_id: str) -> Iterator[Thread]:
        """Live posts grouped by thread, threads ordered by their root's time, replies by theirs."""
        query = f"""
            SELECT {_POST_COLUMNS},
                   r.id IS NULL AND p.root_id <> '' AS detached,
                   COALESCE(r.create_at, p.create_at) AS thread_at,
                   COALESCE(r.id, p.id) AS thread_id
            FROM posts p
            LEFT JOIN posts r ON p.root_id <> '' AND r.id = p.root_id AND r.root_id = ''
                             AND r.channel_id = p.channel_id AND r.delete_at = 0
            WHERE p.channel_id = :channel AND p.delete_at = 0
            ORDER BY thread_at, thread_id, r.id IS NOT NULL, p.create_at, p.id"""  # noqa: S608 - constant columns
        current: Thread | None = None
        for row in self._conn.execute(query, {"channel": channel_id}):
            post = _post_from_row(row)
            if current is not None and row["thread_id"] == current.root.id and post.id != current.root.id:
                current.replies.append(post)
                continue
            if current is not None:
                yield current
            current = Thread(root=post, replies=[], detached=bool(row["detached"]))
        if current is not None:
            yield current

    def posts_in_time_order(self, channel_id: str) -> Iterator[Post]:
        """Live posts of a channel in (create_at, id) order, the order people read them."""
        query = f"""SELECT {_POST_COLUMNS} FROM posts p
                    WHERE p.channel_id = ? AND p.delete_at = 0 ORDER BY p.create_at, p.id"""  # noqa: S608
        for row in self._conn.execute(query, (channel_id,)):
            yield _post_from_row(row)

    def live_thread_roots(self, channel_id: str) -> set[str]:
        """Ids of live root posts of the channel that have at least one live reply."""
        query = """SELECT DISTINCT p.root_id FROM posts p JOIN posts r ON r.id = p.root_id
                   WHERE p.channel_id = ? AND p.root_id <> '' AND p.delete_at = 0 AND r.delete_at = 0
                         AND r.root_id = '' AND r.channel_id = p.channel_id"""
        return {row[0] for row in self._conn.execute(query, (channel_id,))}

    def replies_of(self, root_id: str) -> list[tuple[str, str, int]]:
        """(id, user_id, create_at) of a root's live replies in time order.

        `root_id <> ''` lets SQLite use the partial index on replies; without it every call scans the table.
        """
        query = """SELECT id, user_id, create_at FROM posts
                   WHERE root_id = ? AND root_id <> '' AND delete_at = 0 ORDER BY create_at, id"""
        return [(row[0], row[1], row[2]) for row in self._conn.execute(query, (root_id,))]

    def same_time_rank(self, channel_id: str, create_at: int, post_id: str) -> int:
        """How many live posts of the channel share `create_at` and sort before `post_id`."""
        row = self._conn.execute(
            "SELECT COUNT(*) FROM posts WHERE channel_id = ? AND create_at = ? AND id < ? AND delete_at = 0",
            (channel_id, create_at, post_id),
        ).fetchone()
        return int(row[0])

    def post(self, post_id: str) -> Post | None:
        query = f"SELECT {_POST_COLUMNS} FROM posts p WHERE p.id = ?"  # noqa: S608 - constant columns
        row = self._conn.execute(query, (post_id,)).fetchone()
        return _post_from_row(row) if row is not None else None

    def resolve(self, relative: str | None) -> Path | None:
        """The archive file at `relative` if it is a regular file strictly inside the archive folder."""
        if not relative or "\x00" in relative or relative.startswith(("/", "\\")):
            return None
        candidate = (self.archive_dir / relative).resolve()
        if not candidate.is_relative_to(self.archive_dir) or candidate == self.archive_dir:
            return None
        return candidate if candidate.is_file() else None
