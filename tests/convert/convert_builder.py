"""Small archives written with direct SQL following schema.sql, for the converter tests.

The raw JSON columns look like what the server sends (reference: mattermost-api.md §4), and the
rich archive is deliberately hostile: unicode and invalid names, hidden e-mail addresses, the
self-DM, group messages of legal and illegal sizes, deactivated users and bots, archived channels,
over-long messages, system and plugin posts, deleted posts and orphaned replies, files with and
without saved bytes and with dangerous names, custom emoji with and without images.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

BASE_TIME = 1_700_000_000_000
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2b2a4b80000000049454e44ae426082"
)


def make_id(*parts: str) -> str:
    return hashlib.sha1("/".join(parts).encode(), usedforsecurity=False).hexdigest()[:26]


@dataclass
class ArchiveBuilder:
    root: Path
    owner: str = ""
    clock: int = BASE_TIME
    _counter: int = 0
    ids: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if (self.root / "archive.sqlite").exists():
            raise FileExistsError(f"{self.root} already holds an archive")
        self.db = sqlite3.connect(self.root / "archive.sqlite")
        schema = resources.files("mmtakeout.archive").joinpath("schema.sql").read_text(encoding="utf-8")
        self.db.executescript(schema)
        self.db.execute("PRAGMA user_version = 1")
        self.meta(format_version="1", server_url="https://chat.example.org", created_at=str(BASE_TIME))

    def _next_id(self, kind: str) -> str:
        self._counter += 1
        return make_id(kind, str(self._counter))

    def tick(self, step: int = 1000) -> int:
        self.clock += step
        return self.clock

    def meta(self, **values: str) -> None:
        for key, value in values.items():
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _save(self, relative: str, data: bytes) -> str:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return relative

    def user(
        self,
        username: str,
        *,
        email: str = "",
        first_name: str = "",
        last_name: str = "",
        nickname: str = "",
        position: str = "",
        is_bot: bool = False,
        delete_at: int = 0,
        avatar: bytes | None = None,
        owner: bool = False,
    ) -> str:
        user_id = self._next_id("user")
        raw = {
            "id": user_id,
            "create_at": BASE_TIME,
            "update_at": BASE_TIME,
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
            "locale": "en",
            "timezone": {"useAutomaticTimezone": "true"},
            "is_bot": is_bot,
            "disable_welcome_email": False,
        }
        avatar_path = self._save(f"avatars/{user_id}.png", avatar) if avatar is not None else None
        self.db.execute(
            """INSERT INTO users (id, username, first_name, last_name, nickname, is_bot, delete_at,
               last_picture_update, avatar_path, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                user_id,
                username,
                first_name,
                last_name,
                nickname,
                int(is_bot),
                delete_at,
                BASE_TIME,
                avatar_path,
                json.dumps(raw),
            ),
        )
        self.ids[username] = user_id
        if owner:
            self.owner = user_id
            self.meta(user_id=user_id, username=username)
        return user_id

    def team(self, name: str, display_name: str, team_type: str = "O") -> str:
        team_id = self._next_id("team")
        raw = {
            "id": team_id,
            "name": name,
            "display_name": display_name,
            "type": team_type,
            "description": "",
            "delete_at": 0,
            "allow_open_invite": team_type == "O",
        }
        self.db.execute(
            "INSERT INTO teams (id, name, display_name, delete_at, raw) VALUES (?, ?, ?, 0, ?)",
            (team_id, name, display_name, json.dumps(raw)),
        )
        return team_id

    def channel(
        self,
        team_id: str,
        channel_type: str,
        name: str,
        display_name: str = "",
        *,
        header: str = "",
        purpose: str = "",
        delete_at: int = 0,
        members: tuple[str, ...] = (),
        favorite: bool = False,
    ) -> str:
        channel_id = self._next_id("channel")
        raw = {
            "id": channel_id,
            "create_at": BASE_TIME,
            "update_at": BASE_TIME,
            "delete_at": delete_at,
            "team_id": team_id,
            "type": channel_type,
            "display_name": display_name,
            "name": name,
            "header": header,
            "purpose": purpose,
            "last_post_at": 0,
            "total_msg_count": 0,
            "creator_id": self.owner,
            "scheme_id": None,
            "props": None,
        }
        self.db.execute(
            """INSERT INTO channels (id, team_id, type, name, display_name, header, purpose, create_at,
               delete_at, is_favorite, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                channel_id,
                team_id,
                channel_type,
                name,
                display_name,
                header,
                purpose,
                BASE_TIME,
                delete_at,
                int(favorite),
                json.dumps(raw),
            ),
        )
        for member in members:
            self.db.execute("INSERT OR IGNORE INTO channel_members VALUES (?, ?)", (channel_id, member))
        return channel_id

    def direct(self, first: str, second: str, *, favorite: bool = False) -> str:
        low, high = sorted((first, second))
        return self.channel("", "D", f"{low}__{high}", members=(first, second), favorite=favorite)

    def group(self, members: tuple[str, ...]) -> str:
        name = hashlib.sha1("".join(sorted(members)).encode(), usedforsecurity=False).hexdigest()
        return self.channel("", "G", name, "group", members=members)

    def post(
        self,
        channel_id: str,
        user_id: str,
        message: str,
        *,
        root_id: str = "",
        create_at: int | None = None,
        edit_at: int = 0,
        delete_at: int = 0,
        post_type: str = "",
        pinned: bool = False,
        props: dict[str, Any] | None = None,
        history: tuple[str, ...] = (),
    ) -> str:
        post_id = self._next_id("post")
        created = self.tick() if create_at is None else create_at
        raw = {
            "id": post_id,
            "create_at": created,
            "update_at": max(created, edit_at),
            "edit_at": edit_at,
            "delete_at": delete_at,
            "is_pinned": pinned,
            "user_id": user_id,
            "channel_id": channel_id,
            "root_id": root_id,
            "original_id": "",
            "message": message,
            "type": post_type,
            "props": props or {},
            "hashtags": "",
            "file_ids": [],
            "pending_post_id": "",
            "reply_count": 0,
            "last_reply_at": 0,
            "participants": None,
            "metadata": {},
        }
        self.db.execute(
            """INSERT INTO posts (id, channel_id, root_id, user_id, create_at, update_at, edit_at, delete_at,
               message, type, is_pinned, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                post_id,
                channel_id,
                root_id,
                user_id,
                created,
                max(created, edit_at),
                edit_at,
                delete_at,
                message,
                post_type,
                int(pinned),
                json.dumps(raw),
            ),
        )
        for number, old_text in enumerate(history):
            self.db.execute(
                "INSERT INTO post_history (id, post_id, message, edit_at, replaced_at, raw) "
                "VALUES (?, ?, ?, 0, ?, ?)",
                (
                    f"{post_id}@{created + number + 1}",
                    post_id,
                    old_text,
                    created + number + 1,
                    json.dumps({"id": post_id, "message": old_text}),
                ),
            )
        return post_id

    def reaction(self, post_id: str, user_id: str, emoji_name: str, create_at: int | None = None) -> None:
        created = self.tick(1) if create_at is None else create_at
        self.db.execute("INSERT INTO reactions VALUES (?, ?, ?, ?)", (post_id, user_id, emoji_name, created))

    def file(
        self,
        post_id: str,
        name: str,
        data: bytes | None,
        *,
        status: str | None = None,
        mime_type: str = "application/octet-stream",
        keep_bytes_on_disk: bool = True,
    ) -> str:
        file_id = self._next_id("file")
        row = self.db.execute(
            "SELECT channel_id, user_id, create_at FROM posts WHERE id = ?", (post_id,)
        ).fetchone()
        channel_id, user_id, created = row
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        safe_extension = extension if extension.isalnum() and len(extension) <= 10 else "bin"
        path = None
        digest = None
        if data is not None:
            path = f"files/{file_id[:2]}/{file_id}.{safe_extension}"
            digest = hashlib.sha256(data).hexdigest()
            if keep_bytes_on_disk:
                self._save(path, data)
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
            "size": len(data or b""),
            "mime_type": mime_type,
        }
        self.db.execute(
            """INSERT INTO files (id, post_id, channel_id, user_id, name, extension, size, mime_type,
               create_at, status, sha256, path, raw) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                file_id,
                post_id,
                channel_id,
                user_id,
                name,
                extension,
                len(data or b""),
                mime_type,
                created,
                status or ("saved" if data is not None else "pending"),
                digest,
                path,
                json.dumps(raw),
            ),
        )
        return file_id

    def emoji(self, name: str, image: bytes | None, *, delete_at: int = 0) -> str:
        emoji_id = self._next_id("emoji")
        path = self._save(f"emoji/{emoji_id}.png", image) if image is not None else None
        raw = {
            "id": emoji_id,
            "creator_id": self.owner,
            "name": name,
            "create_at": BASE_TIME,
            "update_at": BASE_TIME,
            "delete_at": delete_at,
        }
        self.db.execute(
            "INSERT INTO emoji (id, name, creator_id, delete_at, path, raw) VALUES (?, ?, ?, ?, ?, ?)",
            (emoji_id, name, self.owner, delete_at, path, json.dumps(raw)),
        )
        return emoji_id

    def close(self) -> Path:
        self.meta(updated_at=str(self.clock))
        self.db.commit()
        self.db.close()
        return self.root


@dataclass
class RichArchive:
    """The hostile archive and the ids tests look things up by."""

    root: Path
    ids: dict[str, str]
    long_message: str


def build_rich_archive(root: Path) -> RichArchive:
    b = ArchiveBuilder(root)
    me = b.user(
        "me", email="me@example.org", first_name="Mia", last_name="Example", avatar=PNG_BYTES, owner=True
    )
    alice = b.user("alice", email="", first_name="Alice", last_name="Liddell", avatar=PNG_BYTES)
    bob = b.user("bob", email="Bob@Example.COM", nickname="bobby")
    carol = b.user("Carol", email="carol@example.org", first_name="C" * 70)
    remote = b.user("remote:dave", email="dave@remote.example")
    gone = b.user("gone", email="gone@example.org", delete_at=BASE_TIME + 5)
    robot = b.user("robot", is_bot=True)
    nul = b.user("nul", nickname="bad\x00nick")
    extra = [b.user(f"member{n}", email=f"member{n}@example.org") for n in range(7)]
    ghost_author = make_id("user", "not-in-users-table")

    acme = b.team("acme", "ACME Corp")
    helpdesk = b.team("helpdesk", "Help Desk", "I")
    town = b.channel(acme, "O", "town-square", "Town Square", header="Welcome <b>all</b>", favorite=True)
    off_acme = b.channel(acme, "O", "off-topic", "Off-Topic")
    off_help = b.channel(helpdesk, "O", "off-topic", "Off-Topic")
    secret = b.channel(acme, "P", "secret-plans", "Sécret plans 🤫", purpose="p" * 300)
    archived = b.channel(acme, "O", "old-stuff", "Old stuff", delete_at=BASE_TIME + 10)
    long_display = b.channel(acme, "O", "unicode", "Ünïcödé " + "🎉" * 70)
    bad_name = b.channel(helpdesk, "P", "Bad Name!", "Bad name")
    space = b.channel(acme, "S", "a-space", "A space")
    dm_alice = b.direct(me, alice, favorite=True)
    dm_gone = b.direct(me, gone)
    dm_robot = b.direct(me, robot)
    self_dm = b.direct(me, me)
    gm = b.group((me, alice, bob))
    big_gm = b.group((me, *extra, bob))

    b.post(town, me, "system", post_type="system_join_channel")
    root_post = b.post(
        town, me, "Hello **world** <script>alert(1)</script> & friends\n\n```\n  code <x>\n```", pinned=True
    )
    b.reaction(root_post, alice, "+1")
    b.reaction(root_post, bob, "party_parrot")
    b.reaction(root_post, carol, "ghost")
    b.reaction(root_post, me, "thumbsup_tone3", create_at=0)
    reply = b.post(town, alice, "@me agreed, see @bob.", root_id=root_post)
    b.post(town, bob, "late reply", root_id=root_post, create_at=b.tick(86_400_000 * 3))
    same = b.tick()
    b.post(town, carol, "same millisecond A", create_at=same)
    b.post(town, remote, "same millisecond B", create_at=same)
    edited = b.post(town, me, "edited text", edit_at=b.clock + 1500, history=("first text", "second text"))
    deleted = b.post(town, me, "deleted text", delete_at=b.clock + 10)
    b.post(town, alice, "reply to deleted root", root_id=deleted)
    b.post(town, alice, "reply to a root the archive never saw", root_id=make_id("post", "missing-root"))
    b.post(town, me, "/me waves", post_type="me")
    b.post(town, robot, "poll", post_type="custom_poll")
    b.post(town, ghost_author, "from someone the archive does not know")
    b.post(town, nul, "nul\x00inside")
    b.post(
        town,
        me,
        "",
        props={"attachments": [{"fallback": "card", "text": "Card text", "title": "Card"}]},
        post_type="slack_attachment",
    )
    long_message = ("long line " * 2100).strip()
    b.post(off_acme, me, long_message)
    with_files = b.post(off_acme, alice, "files attached")
    b.file(with_files, "../../etc/passwd", b"root:x:0:0", mime_type="text/plain")
    b.file(with_files, "CON.txt", b"con", mime_type="text/plain")
    b.file(with_files, ("x" * 296) + ".pdf", b"%PDF-1.4 fake", mime_type="application/pdf")
    b.file(with_files, "\u202egpj.exe", b"MZ", mime_type="application/octet-stream")
    b.file(with_files, "report.txt", b"first", mime_type="text/plain")
    b.file(with_files, "report.txt", b"second", mime_type="text/plain")
    b.file(with_files, "pending.bin", None)
    b.file(with_files, "vanished.bin", b"gone from disk", keep_bytes_on_disk=False)
    b.file(with_files, "photo.png", PNG_BYTES, mime_type="image/png")
    b.post(off_help, bob, "help desk off-topic")
    b.post(secret, me, "secret message")
    b.post(archived, me, "from an archived channel")
    b.post(long_display, carol, "unicode channel ☃")
    b.post(bad_name, me, "bad name channel")
    b.post(space, me, "in a space")
    dm_root = b.post(dm_alice, me, "hi alice")
    b.reaction(dm_root, alice, "no_such_emoji")
    b.post(dm_alice, alice, "hi back", root_id=dm_root)
    dm_file = b.post(dm_alice, alice, "a file for you")
    b.file(dm_file, "notes.md", b"# notes\n", mime_type="text/markdown")
    b.post(dm_gone, gone, "bye forever")
    b.post(dm_robot, robot, "beep")
    b.post(self_dm, me, "note to self")
    gm_post = b.post(gm, bob, "group hello")
    b.reaction(gm_post, me, "smile")
    b.post(big_gm, extra[0], "a group too big for Mattermost")
    b.emoji("party_parrot", PNG_BYTES)
    b.emoji("ghost", None)
    b.emoji("bad name!", PNG_BYTES)
    b.emoji("removed", PNG_BYTES, delete_at=BASE_TIME)
    ids = {
        "me": me,
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "remote": remote,
        "gone": gone,
        "robot": robot,
        "town": town,
        "off_acme": off_acme,
        "off_help": off_help,
        "secret": secret,
        "archived": archived,
        "dm_alice": dm_alice,
        "self_dm": self_dm,
        "gm": gm,
        "big_gm": big_gm,
        "root": root_post,
        "reply": reply,
        "edited": edited,
        "deleted": deleted,
        "with_files": with_files,
        "space": space,
        "acme": acme,
        "helpdesk": helpdesk,
    }
    b.close()
    return RichArchive(root=root, ids=ids, long_message=long_message)


def build_big_archive(root: Path, posts: int, *, channels: int = 2) -> Path:
    """A plain archive with `posts` posts (every tenth a thread start with replies), for scale tests."""
    builder = ArchiveBuilder(root)
    me = builder.user("me", email="me@example.org", owner=True)
    others = [builder.user(f"user{n}", email=f"user{n}@example.org") for n in range(20)]
    team = builder.team("big", "Big")
    channel_ids = [builder.channel(team, "O", f"channel-{n}", f"Channel {n}") for n in range(channels)]
    people = [me, *others]
    rows = []
    reactions = []
    for number in range(posts):
        channel_id = channel_ids[(number // 10) % channels]
        post_id = make_id("bigpost", str(number))
        root_id = make_id("bigpost", str(number - number % 10)) if number % 10 else ""
        created = BASE_TIME + number * 1000
        author = people[number % len(people)]
        message = f"message {number} from the big archive, with some words to make it realistic"
        raw = json.dumps({"id": post_id, "message": message, "props": {}, "metadata": {}})
        rows.append((post_id, channel_id, root_id, author, created, created, message, raw))
        if number % 7 == 0:
            reactions.append((post_id, people[(number + 1) % len(people)], "+1", created + 1))
    builder.db.executemany(
        """INSERT INTO posts (id, channel_id, root_id, user_id, create_at, update_at, message, raw)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        rows,
    )
    builder.db.executemany("INSERT INTO reactions VALUES (?, ?, ?, ?)", reactions)
    builder.clock = BASE_TIME + posts * 1000
    return builder.close()
