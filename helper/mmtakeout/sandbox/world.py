"""The sandbox's whole state: users, teams, channels, posts, reactions, files, emoji and sessions.

The World applies the real server's rules when it changes (which times move, what gets copied or
hidden, see reference §7) and answers the queries the HTTP layer needs from indexes kept sorted the
way the server's SQL orders rows, so a request never scans a channel. Tests use the mutation methods
to change the server between export rounds and the accessors as the truth to compare archives with.

One re-entrant lock guards everything: request handlers and test code may run on different threads.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mmtakeout.sandbox.blobs import BlobKind, BlobSpec, blob_size, jpeg_mosaic, render
from mmtakeout.sandbox.ids import new_id

DIRECT_TYPES = frozenset({"D", "G"})
GROUP_MAX_USERS = 8
GROUP_MIN_USERS = 3

_HASHTAG = re.compile(r"(?<![\w#&])#([A-Za-z][\w.-]*[A-Za-z0-9_])")
_EMOJI_REFERENCE = re.compile(r":([a-zA-Z0-9_+-]+):")


class WorldError(ValueError):
    """A mutation that the real server would refuse (unknown id, wrong state)."""


def real_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True, eq=False)
class User:
    id: str
    username: str
    email: str
    first_name: str
    last_name: str
    create_at: int
    update_at: int
    nickname: str = ""
    position: str = ""
    roles: str = "system_user"
    locale: str = "en"
    timezone: dict[str, str] = field(
        default_factory=lambda: {
            "automaticTimezone": "",
            "manualTimezone": "",
            "useAutomaticTimezone": "true",
        }
    )
    delete_at: int = 0
    is_bot: bool = False
    bot_description: str = ""
    last_picture_update: int = 0
    password: str = ""
    auth_service: str = ""
    props: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class Team:
    id: str
    name: str
    display_name: str
    create_at: int
    update_at: int
    type: str = "O"
    description: str = ""
    delete_at: int = 0
    allow_open_invite: bool = False
    company_name: str = ""


@dataclass(slots=True, eq=False)
class TeamMember:
    team_id: str
    user_id: str
    create_at: int
    roles: str = "team_user"
    delete_at: int = 0
    scheme_admin: bool = False


@dataclass(slots=True, eq=False)
class Channel:
    id: str
    team_id: str
    type: str
    name: str
    display_name: str
    create_at: int
    update_at: int
    creator_id: str = ""
    header: str = ""
    purpose: str = ""
    delete_at: int = 0
    last_post_at: int = 0
    last_root_post_at: int = 0
    total_msg_count: int = 0
    total_msg_count_root: int = 0


@dataclass(slots=True, eq=False)
class ChannelMember:
    channel_id: str
    user_id: str
    last_viewed_at: int = 0
    msg_count: int = 0
    msg_count_root: int = 0
    mention_count: int = 0
    mention_count_root: int = 0
    last_update_at: int = 0
    scheme_admin: bool = False


@dataclass(slots=True, eq=False)
class Post:
    """One row of the Posts table, edit-history copies (`original_id` set) included."""

    id: str
    channel_id: str
    user_id: str
    create_at: int
    update_at: int
    message: str
    root_id: str = ""
    original_id: str = ""
    edit_at: int = 0
    delete_at: int = 0
    type: str = ""
    props: dict[str, Any] | None = None
    hashtags: str = ""
    file_ids: tuple[str, ...] = ()
    is_pinned: bool = False
    has_reactions: bool = False


@dataclass(slots=True, eq=False)
class Reaction:
    user_id: str
    post_id: str
    emoji_name: str
    create_at: int
    channel_id: str


@dataclass(slots=True, eq=False)
class FileInfo:
    id: str
    user_id: str
    post_id: str
    channel_id: str
    create_at: int
    update_at: int
    name: str
    extension: str
    mime_type: str
    size: int
    content: BlobSpec
    delete_at: int = 0
    width: int = 0
    height: int = 0
    has_preview_image: bool = False
    mini_preview: str | None = None
    blob_present: bool = True


@dataclass(slots=True, eq=False)
class Emoji:
    id: str
    creator_id: str
    name: str
    create_at: int
    update_at: int
    image: BlobSpec
    delete_at: int = 0


@dataclass(slots=True, eq=False)
class Session:
    token: str
    user_id: str
    csrf: str
    create_at: int
    expires_at: int = 0

    def is_expired(self, now_ms: int) -> bool:
        return 0 < self.expires_at < now_ms


@dataclass(slots=True, eq=False)
class LinkPreview:
    """What the server's link-preview machinery would attach to posts mentioning `url`."""

    embed: dict[str, Any] | None
    images: dict[str, dict[str, Any]]


@dataclass(slots=True, eq=False)
class CustomCategory:
    id: str
    display_name: str
    channel_ids: list[str]


def _by_created(post: Post) -> tuple[int, str]:
    return (post.create_at, post.id)


def _by_updated(post: Post) -> tuple[int, str]:
    return (post.update_at, post.id)


@dataclass(slots=True, eq=False)
class ChannelPosts:
    """Per-channel indexes: live posts and live roots by (create_at, id); every row by (update_at, id)."""

    live: list[Post] = field(default_factory=list)
    live_roots: list[Post] = field(default_factory=list)
    by_update: list[Post] = field(default_factory=list)


def parse_hashtags(message: str) -> str:
    """Space-separated hashtags as the server stores them in `Post.hashtags`."""
    seen: list[str] = []
    for match in _HASHTAG.finditer(message):
        tag = "#" + match.group(1)
        if len(tag) >= 3 and tag not in seen:
            seen.append(tag)
    return " ".join(seen)[:1000]


def emoji_names_in(message: str) -> list[str]:
    return _EMOJI_REFERENCE.findall(message)


def direct_channel_name(first_user_id: str, second_user_id: str) -> str:
    return "__".join(sorted((first_user_id, second_user_id)))


def group_channel_name(user_ids: Iterable[str]) -> str:
    return hashlib.sha1("".join(sorted(user_ids)).encode("ascii"), usedforsecurity=False).hexdigest()


_MIME_BY_EXTENSION = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "md": "text/markdown",
    "csv": "text/csv",
    "html": "text/html",
    "js": "text/javascript",
    "json": "application/json",
    "zip": "application/zip",
}
_KIND_BY_EXTENSION: dict[str, BlobKind] = {
    "png": "png",
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "pdf": "pdf",
    "txt": "text",
    "md": "text",
    "csv": "text",
    "html": "text",
    "js": "text",
    "json": "text",
}


def file_extension(name: str) -> str:
    """Go's `filepath.Ext` of the last path element, lower-cased and without the dot."""
    base = name.rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[1].lower() if "." in base else ""


def file_info_for_name(
    file_id: str,
    name: str,
    *,
    seed: int,
    post_id: str = "",
    channel_id: str = "",
    user_id: str = "",
    at: int = 0,
    content: BlobSpec | None = None,
) -> FileInfo:
    """Metadata and deterministic content for an upload called `name`; the type follows the extension.

    Unknown extensions get an empty MIME type, as the server stores them.
    """
    extension = file_extension(name)
    rng = random.Random(seed)
    if content is None:
        kind = _KIND_BY_EXTENSION.get(extension, "binary")
        if kind in ("png", "jpeg"):
            content = BlobSpec(kind, seed, rng.randrange(48, 640), rng.randrange(32, 480))
        elif kind == "text":
            content = BlobSpec(kind, seed, size=rng.randrange(200, 4000))
        elif kind == "pdf":
            content = BlobSpec(kind, seed)
        else:
            content = BlobSpec("binary", seed, size=rng.randrange(1024, 65536))
    is_image = content.kind in ("png", "jpeg")
    return FileInfo(
        id=file_id,
        user_id=user_id,
        post_id=post_id,
        channel_id=channel_id,
        create_at=at,
        update_at=at,
        name=name,
        extension=extension,
        mime_type=_MIME_BY_EXTENSION.get(extension, ""),
        size=blob_size(content),
        content=content,
        width=content.width if is_image else 0,
        height=content.height if is_image else 0,
        has_preview_image=is_image,
        mini_preview=base64.b64encode(jpeg_mosaic(16, 16, seed)).decode("ascii") if is_image else None,
    )


def _remove_exact(items: list[Post], post: Post, key: Callable[[Post], tuple[int, str]]) -> None:
    index = bisect.bisect_left(items, key(post), key=key)
    if index < len(items) and items[index] is post:
        del items[index]


def slice_page(rows: list[Post], page: int, per_page: int) -> list[Post]:
    """`ORDER BY CreateAt DESC OFFSET page*per_page LIMIT per_page` over rows sorted by (create_at, id)."""
    end = len(rows) - page * per_page
    return rows[max(0, end - per_page) : end][::-1] if end > 0 else []


def slice_before(rows: list[Post], create_at: int, page: int, per_page: int) -> list[Post]:
    """Rows with create_at strictly below `create_at`, newest first: same-millisecond rows are skipped."""
    end = bisect.bisect_left(rows, (create_at, ""), key=_by_created) - page * per_page
    return rows[max(0, end - per_page) : end][::-1] if end > 0 else []


def slice_after(rows: list[Post], create_at: int, page: int, per_page: int) -> list[Post]:
    """Rows with create_at strictly above `create_at`: the closest ones, returned newest first."""
    start = bisect.bisect_left(rows, (create_at + 1, ""), key=_by_created) + page * per_page
    return rows[start : start + per_page][::-1]


def id_before(rows: list[Post], create_at: int) -> str:
    """The newest row strictly older than `create_at` (the server's GetPostIdBeforeTime)."""
    index = bisect.bisect_left(rows, (create_at, ""), key=_by_created)
    return rows[index - 1].id if index > 0 else ""


def id_after(rows: list[Post], create_at: int) -> str:
    """The oldest row strictly newer than `create_at` (the server's GetPostIdAfterTime)."""
    index = bisect.bisect_left(rows, (create_at + 1, ""), key=_by_created)
    return rows[index].id if index < len(rows) else ""


class World:
    """All sandbox data plus the server's mutation rules; see the module docstring."""

    def __init__(self, *, seed: int = 1, clock: Callable[[], int] = real_clock_ms) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.rng = random.Random(f"world-mutations-{seed}")
        self._last_time = 0
        self.primary_user_id = ""
        self.users: dict[str, User] = {}
        self.user_ids_by_name: dict[str, str] = {}
        self.teams: dict[str, Team] = {}
        self.team_members: dict[str, dict[str, TeamMember]] = {}
        self.channels: dict[str, Channel] = {}
        self.channel_members: dict[str, dict[str, ChannelMember]] = {}
        self.user_channels: dict[str, set[str]] = {}
        self.posts: dict[str, Post] = {}
        self.channel_posts: dict[str, ChannelPosts] = {}
        self.replies: dict[str, list[Post]] = {}
        self.live_reply_counts: dict[str, int] = {}
        self.reactions: dict[str, list[Reaction]] = {}
        self.files: dict[str, FileInfo] = {}
        self.emojis: dict[str, Emoji] = {}
        self.emoji_ids_by_name: dict[str, str] = {}
        self.sessions: dict[str, Session] = {}
        self.link_previews: dict[str, LinkPreview] = {}
        self.favorites: dict[str, list[str]] = {}
        self.custom_categories: dict[tuple[str, str], list[CustomCategory]] = {}

    # --- time ------------------------------------------------------------------------------------

    def now(self) -> int:
        """The mutation clock: real milliseconds, forced strictly increasing so every change is visible."""
        with self.lock:
            current = max(self.clock(), self._last_time + 1)
            self._last_time = current
            return current

    def _new_id(self) -> str:
        return new_id(self.rng)

    # --- loading (generator) ---------------------------------------------------------------------

    def add_user(self, user: User) -> User:
        with self.lock:
            self.users[user.id] = user
            self.user_ids_by_name[user.username] = user.id
            self.user_channels.setdefault(user.id, set())
            return user

    def add_team(self, team: Team) -> Team:
        with self.lock:
            self.teams[team.id] = team
            self.team_members.setdefault(team.id, {})
            return team

    def add_team_member(self, member: TeamMember) -> TeamMember:
        with self.lock:
            self.team_members.setdefault(member.team_id, {})[member.user_id] = member
            return member

    def add_channel(self, channel: Channel) -> Channel:
        with self.lock:
            self.channels[channel.id] = channel
            self.channel_members.setdefault(channel.id, {})
            self.channel_posts.setdefault(channel.id, ChannelPosts())
            return channel

    def add_channel_member(self, channel_id: str, user_id: str, *, last_viewed_at: int = 0) -> ChannelMember:
        with self.lock:
            member = self.channel_members[channel_id].get(user_id)
            if member is None:
                member = ChannelMember(channel_id, user_id, last_viewed_at=last_viewed_at)
                self.channel_members[channel_id][user_id] = member
                self.user_channels.setdefault(user_id, set()).add(channel_id)
            return member

    def remove_channel_member(self, channel_id: str, user_id: str) -> None:
        """Leaving a channel: it disappears from the user's lists (private ones become unreadable)."""
        with self.lock:
            self.channel_members.get(channel_id, {}).pop(user_id, None)
            self.user_channels.get(user_id, set()).discard(channel_id)

    def add_emoji(self, emoji: Emoji) -> Emoji:
        with self.lock:
            self.emojis[emoji.id] = emoji
            self.emoji_ids_by_name[emoji.name] = emoji.id
            return emoji

    def add_file(self, info: FileInfo) -> FileInfo:
        with self.lock:
            self.files[info.id] = info
            return info

    def add_session(self, user_id: str, *, token: str | None = None, expires_at: int = 0) -> Session:
        with self.lock:
            session = Session(token or self._new_id(), user_id, self._new_id(), self._last_time, expires_at)
            self.sessions[session.token] = session
            return session

    def load_post(self, post: Post) -> Post:
        """Store a post as-is (no time bumps); call `finish_loading` once all posts are in."""
        with self.lock:
            self.posts[post.id] = post
            return post

    def load_reaction(self, reaction: Reaction) -> Reaction:
        with self.lock:
            self.reactions.setdefault(reaction.post_id, []).append(reaction)
            return reaction

    def finish_loading(self) -> None:
        """Build the sorted indexes and the channel counters from the loaded rows."""
        with self.lock:
            for index in self.channel_posts.values():
                index.live.clear()
                index.live_roots.clear()
                index.by_update.clear()
            self.replies.clear()
            self.live_reply_counts.clear()
            for channel in self.channels.values():
                channel.total_msg_count = channel.total_msg_count_root = 0
                channel.last_post_at = channel.last_root_post_at = 0
            latest = 0
            for post in self.posts.values():
                index = self.channel_posts[post.channel_id]
                index.by_update.append(post)
                latest = max(latest, post.update_at, post.create_at)
                if post.original_id:
                    continue
                channel = self.channels[post.channel_id]
                channel.total_msg_count += 1
                channel.last_post_at = max(channel.last_post_at, post.create_at, post.edit_at)
                if not post.root_id:
                    channel.total_msg_count_root += 1
                    channel.last_root_post_at = max(channel.last_root_post_at, post.create_at)
                else:
                    self.replies.setdefault(post.root_id, []).append(post)
                if post.delete_at:
                    continue
                index.live.append(post)
                if post.root_id:
                    self.live_reply_counts[post.root_id] = self.live_reply_counts.get(post.root_id, 0) + 1
                else:
                    index.live_roots.append(post)
            for index in self.channel_posts.values():
                index.live.sort(key=_by_created)
                index.live_roots.sort(key=_by_created)
                index.by_update.sort(key=_by_updated)
            for thread in self.replies.values():
                thread.sort(key=_by_created)
            for reactions in self.reactions.values():
                reactions.sort(key=lambda reaction: reaction.create_at)
            self._last_time = max(self._last_time, latest)

    # --- index maintenance -----------------------------------------------------------------------

    def _touch(self, post: Post, at: int) -> None:
        """Move a post's update_at, keeping the (update_at, id) index sorted."""
        index = self.channel_posts[post.channel_id].by_update
        _remove_exact(index, post, _by_updated)
        post.update_at = at
        bisect.insort(index, post, key=_by_updated)

    def _bump_root(self, post: Post, at: int) -> None:
        if post.root_id:
            root = self.posts.get(post.root_id)
            if root is not None and root.update_at < at:
                self._touch(root, at)

    def _insert_live(self, post: Post) -> None:
        index = self.channel_posts[post.channel_id]
        bisect.insort(index.live, post, key=_by_created)
        if post.root_id:
            self.live_reply_counts[post.root_id] = self.live_reply_counts.get(post.root_id, 0) + 1
        else:
            bisect.insort(index.live_roots, post, key=_by_created)

    def _remove_live(self, post: Post) -> None:
        index = self.channel_posts[post.channel_id]
        _remove_exact(index.live, post, _by_created)
        if post.root_id:
            self.live_reply_counts[post.root_id] = max(0, self.live_reply_counts.get(post.root_id, 0) - 1)
        else:
            _remove_exact(index.live_roots, post, _by_created)

    # --- mutations (the server's rules, reference §7) ------------------------------------------------

    def create_post(
        self,
        channel_id: str,
        user_id: str,
        message: str,
        root_id: str = "",
        create_at: int | None = None,
        file_names: Iterable[str] = (),
        *,
        post_type: str = "",
        props: dict[str, Any] | None = None,
    ) -> Post:
        """A new post. Like the server, update_at = create_at (a back-dated post is invisible to `since`)."""
        with self.lock:
            channel = self._require_channel(channel_id)
            self._require_user(user_id)
            if root_id:
                root = self._require_post(root_id)
                if root.root_id or root.channel_id != channel_id or root.delete_at:
                    raise WorldError(f"post {root_id} cannot take replies in channel {channel_id}")
            at = self.now() if create_at is None else create_at
            post_id = self._new_id()
            file_ids = tuple(self._new_file(name, post_id, channel_id, user_id, at).id for name in file_names)
            post = Post(
                id=post_id,
                channel_id=channel_id,
                user_id=user_id,
                create_at=at,
                update_at=at,
                message=message,
                root_id=root_id,
                type=post_type,
                props=dict(props) if props else None,
                hashtags=parse_hashtags(message) if not post_type.startswith("system_") else "",
                file_ids=file_ids,
            )
            self.posts[post.id] = post
            bisect.insort(self.channel_posts[channel_id].by_update, post, key=_by_updated)
            self._insert_live(post)
            if root_id:
                bisect.insort(self.replies.setdefault(root_id, []), post, key=_by_created)
            channel.total_msg_count += 1
            channel.last_post_at = max(channel.last_post_at, at)
            if not root_id:
                channel.total_msg_count_root += 1
                channel.last_root_post_at = max(channel.last_root_post_at, at)
            self._bump_root(post, at)
            return post

    def _new_file(self, name: str, post_id: str, channel_id: str, user_id: str, at: int) -> FileInfo:
        info = file_info_for_name(
            self._new_id(),
            name,
            seed=self.rng.getrandbits(32),
            post_id=post_id,
            channel_id=channel_id,
            user_id=user_id,
            at=at,
        )
        return self.add_file(info)

    def edit_post(self, post_id: str, message: str) -> Post:
        """Edit: the old version becomes a deleted copy with `original_id`; post, channel and root move."""
        with self.lock:
            post = self._require_live_post(post_id)
            at = self.now()
            history = Post(
                id=self._new_id(),
                channel_id=post.channel_id,
                user_id=post.user_id,
                create_at=post.create_at,
                update_at=at,
                message=post.message,
                root_id=post.root_id,
                original_id=post.id,
                edit_at=post.edit_at,
                delete_at=at,
                type=post.type,
                props=dict(post.props) if post.props else None,
                hashtags=post.hashtags,
                file_ids=post.file_ids,
                is_pinned=post.is_pinned,
                has_reactions=post.has_reactions,
            )
            self.posts[history.id] = history
            bisect.insort(self.channel_posts[post.channel_id].by_update, history, key=_by_updated)
            post.message = message
            post.hashtags = parse_hashtags(message)
            post.edit_at = at
            self._touch(post, at)
            channel = self.channels[post.channel_id]
            channel.last_post_at = max(channel.last_post_at, at)
            self._bump_root(post, at)
            return post

    def delete_post(self, post_id: str, deleted_by: str | None = None) -> None:
        """Soft delete of the post and, for a root, of its whole thread; their files go too."""
        with self.lock:
            post = self._require_post(post_id)
            if post.original_id:
                raise WorldError(f"post {post_id} is an edit-history copy")
            at = self.now()
            targets = [post] if post.root_id else [post, *self.replies.get(post.id, [])]
            for target in targets:
                if not target.delete_at:
                    self._remove_live(target)
                target.delete_at = at
                target.props = {**(target.props or {}), "deleteBy": deleted_by or post.user_id}
                self._touch(target, at)
                for file_id in target.file_ids:
                    info = self.files.get(file_id)
                    if info is not None:
                        info.delete_at = info.update_at = at

    def add_reaction(self, post_id: str, user_id: str, emoji_name: str) -> Reaction:
        with self.lock:
            post = self._require_live_post(post_id)
            self._require_user(user_id)
            reactions = self.reactions.setdefault(post_id, [])
            for existing in reactions:
                if existing.user_id == user_id and existing.emoji_name == emoji_name:
                    return existing
            at = self.now()
            reaction = Reaction(user_id, post_id, emoji_name, at, post.channel_id)
            reactions.append(reaction)
            post.has_reactions = True
            self._touch(post, at)
            return reaction

    def remove_reaction(self, post_id: str, user_id: str, emoji_name: str) -> None:
        with self.lock:
            post = self._require_live_post(post_id)
            reactions = self.reactions.get(post_id, [])
            remaining = [r for r in reactions if not (r.user_id == user_id and r.emoji_name == emoji_name)]
            if len(remaining) == len(reactions):
                raise WorldError(f"no {emoji_name} reaction by {user_id} on {post_id}")
            self.reactions[post_id] = remaining
            post.has_reactions = bool(remaining)
            self._touch(post, self.now())

    def set_pinned(self, post_id: str, pinned: bool) -> Post:
        with self.lock:
            post = self._require_live_post(post_id)
            post.is_pinned = pinned
            self._touch(post, self.now())
            return post

    def archive_channel(self, channel_id: str, by_user_id: str | None = None) -> Channel:
        """Archive like the server: a `system_channel_deleted` post first, then `delete_at` is set."""
        with self.lock:
            channel = self._require_channel(channel_id)
            if channel.type in DIRECT_TYPES:
                raise WorldError("direct and group messages cannot be archived")
            actor = by_user_id or self.primary_user_id
            if actor in self.users:
                username = self.users[actor].username
                self.create_post(
                    channel_id,
                    actor,
                    f"@{username} archived the channel",
                    post_type="system_channel_deleted",
                    props={"username": username},
                )
            at = self.now()
            channel.delete_at = channel.update_at = at
            return channel

    def create_channel(
        self, team_id: str, name: str, display_name: str, channel_type: str = "O", creator_id: str = ""
    ) -> Channel:
        with self.lock:
            if team_id not in self.teams:
                raise WorldError(f"unknown team {team_id}")
            at = self.now()
            channel = Channel(self._new_id(), team_id, channel_type, name, display_name, at, at, creator_id)
            self.add_channel(channel)
            if creator_id:
                self.add_channel_member(channel.id, creator_id, last_viewed_at=at)
            return channel

    def create_direct_channel(self, first_user_id: str, second_user_id: str) -> Channel:
        with self.lock:
            for user_id in (first_user_id, second_user_id):
                self._require_user(user_id)
            name = direct_channel_name(first_user_id, second_user_id)
            existing = self._channel_by_name("", name)
            if existing is not None:
                return existing
            at = self.now()
            channel = self.add_channel(Channel(self._new_id(), "", "D", name, "", at, at, first_user_id))
            for user_id in {first_user_id, second_user_id}:
                self.add_channel_member(channel.id, user_id)
            return channel

    def create_group_channel(self, user_ids: Iterable[str]) -> Channel:
        with self.lock:
            members = sorted(set(user_ids))
            if not GROUP_MIN_USERS <= len(members) <= GROUP_MAX_USERS:
                raise WorldError(f"a group message needs {GROUP_MIN_USERS}-{GROUP_MAX_USERS} users")
            users = [self._require_user(user_id) for user_id in members]
            name = group_channel_name(members)
            existing = self._channel_by_name("", name)
            if existing is not None:
                return existing
            at = self.now()
            display_name = ", ".join(sorted(user.username for user in users))
            channel = self.add_channel(Channel(self._new_id(), "", "G", name, display_name, at, at))
            for user_id in members:
                self.add_channel_member(channel.id, user_id)
            return channel

    def create_session(self, user_id: str) -> str:
        with self.lock:
            self._require_user(user_id)
            return self.add_session(user_id).token

    def revoke_token(self, token: str) -> None:
        with self.lock:
            self.sessions.pop(token, None)

    def expire_token(self, token: str) -> None:
        """Make a session expired (it still exists, so the server answers session_expired)."""
        with self.lock:
            session = self.sessions[token]
            session.expires_at = self.now() - 1

    def deactivate_user(self, user_id: str) -> User:
        """Deactivation also revokes every session of that user, like the server."""
        with self.lock:
            user = self._require_user(user_id)
            at = self.now()
            user.delete_at = user.update_at = at
            for token in [t for t, s in self.sessions.items() if s.user_id == user_id]:
                del self.sessions[token]
            return user

    def create_emoji(self, name: str, creator_id: str) -> Emoji:
        with self.lock:
            self._require_user(creator_id)
            at = self.now()
            image = BlobSpec("png", self.rng.getrandbits(32), 32, 32)
            return self.add_emoji(Emoji(self._new_id(), creator_id, name, at, at, image))

    def drop_file_blob(self, file_id: str) -> None:
        """The file's metadata stays but its bytes are gone from storage (the server then answers 404)."""
        with self.lock:
            self.files[file_id].blob_present = False

    # --- lookups -----------------------------------------------------------------------------------

    def _require_user(self, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None:
            raise WorldError(f"unknown user {user_id}")
        return user

    def _require_channel(self, channel_id: str) -> Channel:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise WorldError(f"unknown channel {channel_id}")
        return channel

    def _require_post(self, post_id: str) -> Post:
        post = self.posts.get(post_id)
        if post is None:
            raise WorldError(f"unknown post {post_id}")
        return post

    def _require_live_post(self, post_id: str) -> Post:
        post = self._require_post(post_id)
        if post.delete_at or post.original_id:
            raise WorldError(f"post {post_id} is deleted")
        return post

    def _channel_by_name(self, team_id: str, name: str) -> Channel | None:
        for channel in self.channels.values():
            if channel.team_id == team_id and channel.name == name:
                return channel
        return None

    def user(self, user_id: str) -> User:
        with self.lock:
            return self._require_user(user_id)

    def user_by_name(self, username: str) -> User:
        with self.lock:
            return self._require_user(self.user_ids_by_name.get(username, ""))

    def channel(self, channel_id: str) -> Channel:
        with self.lock:
            return self._require_channel(channel_id)

    def channel_by_name(self, team_id: str, name: str) -> Channel:
        with self.lock:
            channel = self._channel_by_name(team_id, name)
            if channel is None:
                raise WorldError(f"no channel {name} in team {team_id!r}")
            return channel

    def post(self, post_id: str) -> Post:
        with self.lock:
            return self._require_post(post_id)

    def file(self, file_id: str) -> FileInfo:
        with self.lock:
            info = self.files.get(file_id)
            if info is None:
                raise WorldError(f"unknown file {file_id}")
            return info

    def file_bytes(self, file_id: str) -> bytes:
        return render(self.file(file_id).content)

    def session(self, token: str) -> Session | None:
        with self.lock:
            return self.sessions.get(token)

    def is_team_member(self, user_id: str, team_id: str) -> bool:
        member = self.team_members.get(team_id, {}).get(user_id)
        team = self.teams.get(team_id)
        return member is not None and not member.delete_at and team is not None and not team.delete_at

    def user_team_ids(self, user_id: str) -> list[str]:
        with self.lock:
            return sorted(team_id for team_id in self.teams if self.is_team_member(user_id, team_id))

    def is_channel_member(self, user_id: str, channel_id: str) -> bool:
        return user_id in self.channel_members.get(channel_id, {})

    def can_read_channel(self, user_id: str, channel_id: str, *, view_archived: bool = True) -> bool:
        """The server's read check: members, or team members for public channels; archived ones per config."""
        with self.lock:
            channel = self.channels.get(channel_id)
            if channel is None or (channel.delete_at and not view_archived):
                return False
            if self.is_channel_member(user_id, channel_id):
                return True
            return channel.type == "O" and self.is_team_member(user_id, channel.team_id)

    def visible_channels(self, user_id: str, *, include_deleted: bool = True) -> list[Channel]:
        """What `GET /users/{id}/channels` lists: current memberships across teams, ordered by id."""
        with self.lock:
            result = []
            for channel_id in self.user_channels.get(user_id, set()):
                channel = self.channels[channel_id]
                if not include_deleted:
                    team = self.teams.get(channel.team_id)
                    if channel.delete_at or (team is not None and team.delete_at):
                        continue
                result.append(channel)
            return sorted(result, key=lambda channel: channel.id)

    def channel_member_ids(self, channel_id: str) -> list[str]:
        with self.lock:
            return sorted(self.channel_members.get(channel_id, {}))

    def posts_in_channel(
        self, channel_id: str, *, include_deleted: bool = False, include_history: bool = False
    ) -> list[Post]:
        """A channel's live posts by (create_at, id), optionally with deleted rows and edit-history copies."""
        with self.lock:
            index = self.channel_posts[channel_id]
            if not include_deleted and not include_history:
                return list(index.live)
            rows = [
                post
                for post in index.by_update
                if (include_history or not post.original_id)
                and (include_deleted or not post.delete_at or post.original_id)
            ]
            return sorted(rows, key=_by_created)

    def readable_posts(self, user_id: str) -> list[Post]:
        """Every live post in the channels the user is a member of (the export's expected content)."""
        with self.lock:
            result: list[Post] = []
            for channel in self.visible_channels(user_id):
                if self.can_read_channel(user_id, channel.id):
                    result.extend(self.channel_posts[channel.id].live)
            return result

    def thread_posts(self, root_id: str) -> list[Post]:
        """A thread's root followed by its live replies in (create_at, id) order."""
        with self.lock:
            root = self._require_post(root_id)
            return [root, *(reply for reply in self.replies.get(root_id, []) if not reply.delete_at)]

    def reactions_for(self, post_id: str) -> list[Reaction]:
        with self.lock:
            return list(self.reactions.get(post_id, []))

    def live_reply_count(self, post: Post) -> int:
        return self.live_reply_counts.get(post.root_id or post.id, 0)

    def emoji_by_name(self, name: str) -> Emoji | None:
        emoji_id = self.emoji_ids_by_name.get(name)
        emoji = self.emojis.get(emoji_id) if emoji_id else None
        return emoji if emoji is not None and not emoji.delete_at else None

    # --- queries used by the HTTP layer (reference §5.6, §6, §7) ----------------------------------------

    def _ordered(self, channel_id: str, roots_only: bool) -> list[Post]:
        index = self.channel_posts[channel_id]
        return index.live_roots if roots_only else index.live

    def page_of_posts(self, channel_id: str, page: int, per_page: int, *, roots_only: bool) -> list[Post]:
        return slice_page(self._ordered(channel_id, roots_only), page, per_page)

    def posts_before_time(
        self, channel_id: str, create_at: int, page: int, per_page: int, *, roots_only: bool
    ) -> list[Post]:
        return slice_before(self._ordered(channel_id, roots_only), create_at, page, per_page)

    def posts_after_time(
        self, channel_id: str, create_at: int, page: int, per_page: int, *, roots_only: bool
    ) -> list[Post]:
        return slice_after(self._ordered(channel_id, roots_only), create_at, page, per_page)

    def post_id_before_time(self, channel_id: str, create_at: int, *, roots_only: bool) -> str:
        return id_before(self._ordered(channel_id, roots_only), create_at)

    def post_id_after_time(self, channel_id: str, create_at: int, *, roots_only: bool) -> str:
        return id_after(self._ordered(channel_id, roots_only), create_at)

    def posts_updated_since(self, channel_id: str, since: int) -> list[Post]:
        """Every row (deleted and edit-history copies too) with update_at > since, oldest change first."""
        rows = self.channel_posts[channel_id].by_update
        return rows[bisect.bisect_left(rows, (since + 1, ""), key=_by_updated) :]

    def last_update_at(self, channel_id: str, *, roots_only: bool) -> int:
        rows = self.channel_posts[channel_id].by_update
        for post in reversed(rows):
            if not roots_only or not post.root_id:
                return post.update_at
        return 0

    def all_channel_rows(self, channel_id: str) -> list[Post]:
        """Every row including deleted posts, by (create_at, id); for admins' include_deleted."""
        return sorted(
            (post for post in self.channel_posts[channel_id].by_update if not post.original_id),
            key=_by_created,
        )
