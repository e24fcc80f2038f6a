"""Hand-made archives for the viewer and converter tests, written row by row in the public format.

The real `ArchiveStore` creates the file, so the schema is the one the exporter writes
(docs/archive-format.md). Rows are then added with plain SQL, because tests need rows the exporter
would never write: hostile names, broken references, odd ids. Every `raw` column holds an object
shaped like the server's (mattermost-api.md §4). An `ArchiveStyle` says how ids and times are
invented, so each family of tests keeps the ids and times its assertions were written against.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmtakeout.archive.store import DATABASE_NAME, ArchiveStore

BASE_TIME = 1_700_000_000_000
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
MATTERMOST_ID_ALPHABET = "abcdefghijkmnopqrstuwxyz13456789"

IdScheme = Callable[[str, int], str]
"""Makes the id of the `number`-th object a builder adds; `kind` says what it is ("post", "user", …)."""


def make_id(*parts: str) -> str:
    """A stable 26-character id derived from `parts`, for things a test names rather than adds."""
    return hashlib.sha1("/".join(parts).encode(), usedforsecurity=False).hexdigest()[:26]


def hex_ids(kind: str, number: int) -> str:
    return make_id(kind, str(number))


def mattermost_ids(kind: str, number: int) -> str:
    """Ids from the alphabet the server draws its ids from, so they look like real ones."""
    digest = hashlib.sha256(f"{kind}:{number}".encode()).digest()
    return "".join(MATTERMOST_ID_ALPHABET[byte % len(MATTERMOST_ID_ALPHABET)] for byte in digest[:26])


def make_png(
    width: int, height: int, rgb: tuple[int, int, int], stripe: tuple[int, int, int] | None = None
) -> bytes:
    """A real PNG (solid colour, optional diagonal stripe) without any imaging library."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            rows.extend(stripe if stripe is not None and (x + y) % 16 < 4 else rgb)

    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + checksum

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows)))
        + chunk(b"IEND", b"")
    )


def _stored_extension(extension: str) -> str:
    """The extension a file's bytes are stored under: its own, if short and plain, else `bin`."""
    return extension if extension.isalnum() and len(extension) <= 10 else "bin"


@dataclass(frozen=True)
class ArchiveStyle:
    """How a builder invents ids and times.

    `base_time` is when the export ran (meta `created_at`, where the builder's clock starts);
    `founded_at` when teams, users and channels were created (default: `base_time`); `updated_at`
    the meta `updated_at` written on close (default: the clock at that moment).
    """

    base_time: int = BASE_TIME
    founded_at: int | None = None
    updated_at: int | None = None
    ids: IdScheme = hex_ids
    server_url: str = "https://chat.example.org"

    @property
    def founded(self) -> int:
        return self.base_time if self.founded_at is None else self.founded_at


DEFAULT_STYLE = ArchiveStyle()


class ArchiveBuilder:
    """Writes one archive folder; `db` is open for tests that need rows no method makes."""

    root: Path
    style: ArchiveStyle
    db: sqlite3.Connection
    owner: str
    clock: int
    _counter: int

    def __init__(self, root: Path, style: ArchiveStyle = DEFAULT_STYLE) -> None:
        """Start a new archive in `root`, which must be a new or empty folder."""
        if (root / DATABASE_NAME).exists():
            raise FileExistsError(f"{root} already holds an archive")
        ArchiveStore.open(root).close()
        self._attach(root, style, first_id_number=0)
        self.set_meta(server_url=style.server_url, created_at=str(style.base_time))

    @classmethod
    def reopen(cls, root: Path, style: ArchiveStyle, *, first_id_number: int) -> ArchiveBuilder:
        """Add to an archive built earlier; new ids are numbered after `first_id_number`, apart from
        the old ones."""
        if not (root / DATABASE_NAME).is_file():
            raise FileNotFoundError(f"{root} holds no archive")
        builder = cls.__new__(cls)
        builder._attach(root, style, first_id_number)
        row = builder.db.execute("SELECT value FROM meta WHERE key = 'user_id'").fetchone()
        builder.owner = row[0] if row else ""
        return builder

    def _attach(self, root: Path, style: ArchiveStyle, first_id_number: int) -> None:
        self.root = root
        self.style = style
        self.db = sqlite3.connect(root / DATABASE_NAME)
        self.owner = ""
        self.clock = style.base_time
        self._counter = first_id_number

    # ----- basics -----

    def new_id(self, kind: str) -> str:
        self._counter += 1
        return self.style.ids(kind, self._counter)

    def tick(self, step: int = 1000) -> int:
        """Move the clock on: for tests that want things in order but do not care exactly when."""
        self.clock += step
        return self.clock

    def set_meta(self, **values: str) -> None:
        for key, value in values.items():
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _save(self, relative: str, data: bytes) -> str:
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return relative

    def commit(self) -> None:
        self.db.commit()

    def close(self) -> Path:
        updated = self.style.updated_at
        self.set_meta(updated_at=str(self.clock if updated is None else updated))
        self.db.commit()
        self.db.close()
        return self.root

    # ----- people, teams, conversations -----

    def add_team(self, name: str, display_name: str, team_type: str = "O") -> str:
        team_id = self.new_id("team")
        raw = {
            "id": team_id,
            "create_at": self.style.founded,
            "update_at": self.style.base_time,
            "delete_at": 0,
            "display_name": display_name,
            "name": name,
            "description": "",
            "email": "",
            "type": team_type,
            "company_name": "",
            "allowed_domains": "",
            "invite_id": "",
            "allow_open_invite": team_type == "O",
            "scheme_id": None,
            "group_constrained": None,
            "policy_id": None,
        }
        self.db.execute(
            "INSERT INTO teams (id, name, display_name, delete_at, raw) VALUES (?, ?, ?, 0, ?)",
            (team_id, name, display_name, json.dumps(raw)),
        )
        return team_id

    def add_user(
        self,
        username: str,
        first_name: str = "",
        last_name: str = "",
        nickname: str = "",
        *,
        email: str = "",
        position: str = "",
        is_bot: bool = False,
        delete_at: int = 0,
        avatar: bytes | None = None,
        owner: bool = False,
        user_id: str | None = None,
    ) -> str:
        """Add a user; `owner=True` makes them the person whose archive this is."""
        user_id = user_id or self.new_id("user")
        avatar_path = self._save(f"avatars/{user_id}.png", avatar) if avatar is not None else None
        picture_updated = self.style.base_time if avatar is not None else 0
        raw = {
            "id": user_id,
            "create_at": self.style.founded,
            "update_at": self.style.base_time,
            "delete_at": delete_at,
            "username": username,
            "auth_data": "",
            "auth_service": "",
            "email": email,
            "nickname": nickname,
            "first_name": first_name,
            "last_name": last_name,
            "position": position,
            "roles": "system_user",
            "props": {},
            "notify_props": {"desktop": "mention"},
            "last_picture_update": picture_updated,
            "locale": "en",
            "timezone": {"automaticTimezone": "", "manualTimezone": "", "useAutomaticTimezone": "true"},
            "is_bot": is_bot,
            "disable_welcome_email": False,
        }
        self.db.execute(
            "INSERT INTO users (id, username, first_name, last_name, nickname, is_bot, delete_at, "
            "last_picture_update, avatar_path, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                user_id,
                username,
                first_name,
                last_name,
                nickname,
                int(is_bot),
                delete_at,
                picture_updated,
                avatar_path,
                json.dumps(raw),
            ),
        )
        if owner:
            self.owner = user_id
            self.set_meta(user_id=user_id, username=username)
        return user_id

    def add_channel(
        self,
        channel_type: str,
        name: str,
        display_name: str = "",
        *,
        team_id: str = "",
        members: Sequence[str] = (),
        favorite: bool = False,
        delete_at: int = 0,
        header: str = "",
        purpose: str = "",
        channel_id: str | None = None,
    ) -> str:
        channel_id = channel_id or self.new_id("channel")
        created = self.style.founded
        raw = {
            "id": channel_id,
            "create_at": created,
            "update_at": self.style.base_time,
            "delete_at": delete_at,
            "team_id": team_id,
            "type": channel_type,
            "display_name": display_name,
            "name": name,
            "header": header,
            "purpose": purpose,
            "last_post_at": 0,
            "total_msg_count": 0,
            "extra_update_at": 0,
            "creator_id": self.owner,
            "scheme_id": None,
            "props": None,
            "group_constrained": None,
            "shared": False,
            "total_msg_count_root": 0,
            "policy_id": None,
            "last_root_post_at": 0,
        }
        self.db.execute(
            "INSERT INTO channels (id, team_id, type, name, display_name, header, purpose, create_at, "
            "delete_at, is_favorite, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                channel_id,
                team_id,
                channel_type,
                name,
                display_name,
                header,
                purpose,
                created,
                delete_at,
                int(favorite),
                json.dumps(raw),
            ),
        )
        self.db.executemany(
            "INSERT OR IGNORE INTO channel_members (channel_id, user_id) VALUES (?, ?)",
            [(channel_id, member) for member in members],
        )
        return channel_id

    def add_dm(self, first: str, second: str, *, favorite: bool = False) -> str:
        """A direct message channel, named the server's way; `first == second` is the self-DM."""
        low, high = sorted((first, second))
        return self.add_channel("D", f"{low}__{high}", members=sorted({first, second}), favorite=favorite)

    def add_gm(self, members: Sequence[str], display_name: str) -> str:
        name = hashlib.sha1("".join(sorted(members)).encode(), usedforsecurity=False).hexdigest()
        return self.add_channel("G", name, display_name, members=members)

    # ----- posts and what hangs on them -----

    def add_post(
        self,
        channel_id: str,
        user_id: str,
        message: str,
        create_at: int | None = None,
        *,
        root_id: str = "",
        post_type: str = "",
        props: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        edit_at: int = 0,
        delete_at: int = 0,
        update_at: int | None = None,
        pinned: bool = False,
        file_ids: Sequence[str] = (),
        post_id: str | None = None,
    ) -> str:
        """Add a post (or replace one with the same `post_id`); without `create_at` it is the next
        tick of the clock. The channel's post count and last post time follow, as on the server."""
        post_id = post_id or self.new_id("post")
        created = self.tick() if create_at is None else create_at
        updated = max(created, edit_at, delete_at) if update_at is None else update_at
        raw = {
            "id": post_id,
            "create_at": created,
            "update_at": updated,
            "edit_at": edit_at,
            "delete_at": delete_at,
            "is_pinned": pinned,
            "user_id": user_id,
            "channel_id": channel_id,
            "root_id": root_id,
            "original_id": "",
            "message": message,
            "type": post_type,
            "props": dict(props or {}),
            "hashtags": "",
            "pending_post_id": "",
            "reply_count": 0,
            "last_reply_at": 0,
            "participants": None,
            "file_ids": list(file_ids),
            "metadata": dict(metadata or {}),
        }
        self.db.execute(
            "INSERT OR REPLACE INTO posts (id, channel_id, root_id, user_id, create_at, update_at, edit_at, "
            "delete_at, message, type, is_pinned, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                post_id,
                channel_id,
                root_id,
                user_id,
                created,
                updated,
                edit_at,
                delete_at,
                message,
                post_type,
                int(pinned),
                json.dumps(raw),
            ),
        )
        self.db.execute(
            "UPDATE channels SET last_post_at = max(last_post_at, ?), total_msg_count = total_msg_count + 1 "
            "WHERE id = ?",
            (created, channel_id),
        )
        return post_id

    def add_history(self, post_id: str, message: str, replaced_at: int, *, edit_at: int = 0) -> None:
        """An earlier text of a post, replaced by an edit at `replaced_at`."""
        history_id = f"{post_id}@{replaced_at}"
        raw = {"id": history_id, "message": message, "edit_at": edit_at}
        self.db.execute(
            "INSERT INTO post_history (id, post_id, message, edit_at, replaced_at, raw) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (history_id, post_id, message, edit_at, replaced_at, json.dumps(raw)),
        )

    def add_reaction(self, post_id: str, user_id: str, emoji_name: str, create_at: int | None = None) -> None:
        created = self.tick(1) if create_at is None else create_at
        self.db.execute(
            "INSERT OR REPLACE INTO reactions (post_id, user_id, emoji_name, create_at) VALUES (?, ?, ?, ?)",
            (post_id, user_id, emoji_name, created),
        )

    def add_file(
        self,
        post_id: str,
        name: str,
        data: bytes | None = None,
        *,
        mime_type: str = "application/octet-stream",
        status: str | None = None,
        size: int | None = None,
        width: int | None = None,
        height: int | None = None,
        preview: bytes | None = None,
        keep_bytes_on_disk: bool = True,
        file_id: str | None = None,
    ) -> str:
        """Attach a file to an existing post. With `data` it is saved (status `saved`, bytes on disk
        unless `keep_bytes_on_disk` is false); without, it is `pending` unless `status` says otherwise."""
        file_id = file_id or self.new_id("file")
        channel_id, user_id, created = self.db.execute(
            "SELECT channel_id, user_id, create_at FROM posts WHERE id = ?", (post_id,)
        ).fetchone()
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        status = status or ("saved" if data is not None else "pending")
        path = sha256 = preview_path = None
        if data is not None and status == "saved":
            path = f"files/{file_id[:2]}/{file_id}.{_stored_extension(extension)}"
            sha256 = hashlib.sha256(data).hexdigest()
            if keep_bytes_on_disk:
                self._save(path, data)
        if preview is not None:
            preview_path = self._save(f"files/{file_id[:2]}/{file_id}.preview.jpg", preview)
        size = len(data or b"") if size is None else size
        raw = {
            "id": file_id,
            "user_id": user_id,
            "post_id": post_id,
            "channel_id": channel_id,
            "create_at": created,
            "update_at": created,
            "delete_at": 0,
            "name": name,
            "extension": extension,
            "size": size,
            "mime_type": mime_type,
            "width": width,
            "height": height,
            "has_preview_image": preview is not None,
            "mini_preview": None,
            "remote_id": "",
            "archived": False,
        }
        self.db.execute(
            "INSERT INTO files (id, post_id, channel_id, user_id, name, extension, size, mime_type, width, "
            "height, create_at, status, sha256, path, preview_path, raw) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                file_id,
                post_id,
                channel_id,
                user_id,
                name,
                extension,
                size,
                mime_type,
                width,
                height,
                created,
                status,
                sha256,
                path,
                preview_path,
                json.dumps(raw),
            ),
        )
        return file_id

    def add_emoji(
        self, name: str, image: bytes | None, *, creator_id: str | None = None, delete_at: int = 0
    ) -> str:
        """A custom emoji, created by the archive's owner unless `creator_id` says otherwise."""
        emoji_id = self.new_id("emoji")
        creator = self.owner if creator_id is None else creator_id
        path = self._save(f"emoji/{emoji_id}.png", image) if image is not None else None
        raw = {
            "id": emoji_id,
            "creator_id": creator,
            "name": name,
            "create_at": self.style.base_time,
            "update_at": self.style.base_time,
            "delete_at": delete_at,
        }
        self.db.execute(
            "INSERT INTO emoji (id, name, creator_id, delete_at, path, raw) VALUES (?, ?, ?, ?, ?, ?)",
            (emoji_id, name, creator, delete_at, path, json.dumps(raw)),
        )
        return emoji_id
