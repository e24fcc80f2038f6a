"""Typed views of the API objects the exporter reads, parsed defensively from untrusted JSON.

Every model keeps the object exactly as received in `raw` (unknown fields included, so nothing the
server sent is lost) and exposes the fields the exporter needs with Go's zero values for absent or
`null` fields. A field of the wrong type raises `BadResponse` naming the object and the field.
Ids are checked to be plain tokens (letters, digits, `_`, `-`) because callers use them in URL paths
and file names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

from mmtakeout.api.errors import BadResponse

_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,127}")

CHANNEL_OPEN = "O"
CHANNEL_PRIVATE = "P"
CHANNEL_DIRECT = "D"
CHANNEL_GROUP = "G"
CHAT_CHANNEL_TYPES = frozenset({CHANNEL_OPEN, CHANNEL_PRIVATE, CHANNEL_DIRECT, CHANNEL_GROUP})

FAVORITES_CATEGORY = "favorites"

T = TypeVar("T")


def is_safe_id(value: str) -> bool:
    """True for ids that are safe in URL paths and file names (every real Mattermost id is)."""
    return _plain_id(value) or _SAFE_ID.fullmatch(value) is not None


def _plain_id(value: str) -> bool:
    """The shape of every real Mattermost id; other values take `is_safe_id`'s full check."""
    return len(value) <= 128 and value.isascii() and value.isalnum()


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a true/false value"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class _Fields:
    """Typed access to one JSON object; absent and null fields read as Go's zero value."""

    __slots__ = ("kind", "raw")

    def __init__(self, raw: object, kind: str) -> None:
        if not isinstance(raw, dict):
            raise BadResponse(f"expected a {kind} object but got {_type_name(raw)}")
        self.raw: dict[str, Any] = raw
        self.kind = kind

    @property
    def label(self) -> str:
        ident = self.raw.get("id")
        return f"{self.kind} {ident!r}" if isinstance(ident, str) and is_safe_id(ident) else self.kind

    def _wrong(self, name: str, expected: str, value: object) -> BadResponse:
        return BadResponse(f"{self.label}: field '{name}' should be {expected}, not {_type_name(value)}")

    def text(self, name: str, *, required: bool = False) -> str:
        value = self.raw.get(name)
        if type(value) is str and (value or not required):
            return value
        if value is None and not required:
            return ""
        if value is None or isinstance(value, str):
            raise BadResponse(f"{self.label}: field '{name}' is missing or empty")
        raise self._wrong(name, "text", value)

    def optional_text(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is not None and not isinstance(value, str):
            raise self._wrong(name, "text", value)
        return value

    def ident(self, name: str, *, required: bool = False) -> str:
        value = self.text(name, required=required)
        if value and not is_safe_id(value):
            raise BadResponse(f"{self.label}: field '{name}' is not a valid id")
        return value

    def ident_list(self, name: str) -> tuple[str, ...]:
        values = self.text_list(name)
        for value in values:
            if not is_safe_id(value):
                raise BadResponse(f"{self.label}: field '{name}' holds an invalid id")
        return values

    def text_list(self, name: str) -> tuple[str, ...]:
        value = self.raw.get(name)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self._wrong(name, "a list of text", value)
        return tuple(value)

    def integer(self, name: str, *, minimum: int | None = None) -> int:
        value = self.raw.get(name)
        if type(value) is int and (minimum is None or value >= minimum):
            return value
        if value is None:
            return 0
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(name, "a whole number", value)
        if minimum is not None and value < minimum:
            raise BadResponse(f"{self.label}: field '{name}' is negative")
        return value

    def flag(self, name: str) -> bool:
        value = self.raw.get(name)
        if value is None or value is False:
            return False
        if not isinstance(value, bool):
            raise self._wrong(name, "true or false", value)
        return value

    def optional_flag(self, name: str) -> bool | None:
        value = self.raw.get(name)
        if value is not None and not isinstance(value, bool):
            raise self._wrong(name, "true or false", value)
        return value

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self._wrong(name, "an object", value)
        return value

    def objects(
        self, name: str, parse: Callable[[object], T], source: Mapping[str, Any] | None = None
    ) -> tuple[T, ...]:
        value = (self.raw if source is None else source).get(name)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self._wrong(name, "a list", value)
        return tuple(parse(item) for item in value)


def parse_list(data: object, parse: Callable[[object], T], kind: str) -> list[T]:
    """Parses a JSON array of objects, e.g. the answer of `GET /users/me/teams`."""
    if not isinstance(data, list):
        raise BadResponse(f"expected a list of {kind} objects but got {_type_name(data)}")
    return [parse(item) for item in data]


@dataclass(frozen=True, slots=True)
class ServerPing:
    status: str
    server_version: str | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: object, server_version: str | None = None) -> Self:
        f = _Fields(data, "ping")
        return cls(status=f.text("status"), server_version=server_version, raw=f.raw)


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    first_name: str
    last_name: str
    nickname: str
    email: str
    position: str
    roles: str
    locale: str
    auth_service: str
    create_at: int
    update_at: int
    delete_at: int
    last_picture_update: int
    is_bot: bool
    bot_description: str
    timezone: dict[str, Any]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = _Fields(data, "user")
        return cls(
            id=f.ident("id", required=True),
            username=f.text("username"),
            first_name=f.text("first_name"),
            last_name=f.text("last_name"),
            nickname=f.text("nickname"),
            email=f.text("email"),
            position=f.text("position"),
            roles=f.text("roles"),
            locale=f.text("locale"),
            auth_service=f.text("auth_service"),
            create_at=f.integer("create_at"),
            update_at=f.integer("update_at"),
            delete_at=f.integer("delete_at"),
            last_picture_update=f.integer("last_picture_update"),
            is_bot=f.flag("is_bot"),
            bot_description=f.text("bot_description"),
            timezone=f.mapping("timezone"),
            raw=f.raw,
        )

    @property
    def is_deactivated(self) -> bool:
        return self.delete_at > 0


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    name: str
    display_name: str
    description: str
    type: str
    create_at: int
    update_at: int
    delete_at: int
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = _Fields(data, "team")
        return cls(
            id=f.ident("id", required=True),
            name=f.text("name"),
            display_name=f.text("display_name"),
            description=f.text("description"),
            type=f.text("type"),
            create_at=f.integer("create_at"),
            update_at=f.integer("update_at"),
            delete_at=f.integer("delete_at"),
            raw=f.raw,
        )


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    team_id: str
    type: str
    name: str
    display_name: str
    header: str
    purpose: str
    creator_id: str
    create_at: int
    update_at: int
    delete_at: int
    last_post_at: int
    last_root_post_at: int
    total_msg_count: int
    total_msg_count_root: int
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = _Fields(data, "channel")
        return cls(
            id=f.ident("id", required=True),
            team_id=f.ident("team_id"),
            type=f.text("type"),
            name=f.text("name"),
            display_name=f.text("display_name"),
            header=f.text("header"),
            purpose=f.text("purpose"),
            creator_id=f.ident("creator_id"),
            create_at=f.integer("create_at"),
            update_at=f.integer("update_at"),
            delete_at=f.integer("delete_at"),
            last_post_at=f.integer("last_post_at"),
            last_root_post_at=f.integer("last_root_post_at"),
            total_msg_count=f.integer("total_msg_count"),
            total_msg_count_root=f.integer("total_msg_count_root"),
            raw=f.raw,
        )

    @property
    def is_archived(self) -> bool:
        return self.delete_at > 0

    @property
    def is_chat(self) -> bool:
        """False for channel types this tool does not know (boards, spaces, …): keep them, don't walk them."""
        return self.type in CHAT_CHANNEL_TYPES


@dataclass(frozen=True, slots=True)
class ChannelMember:
    channel_id: str
    user_id: str
    roles: str
    last_viewed_at: int
    last_update_at: int
    msg_count: int
    mention_count: int
    scheme_admin: bool
    notify_props: dict[str, Any]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = _Fields(data, "channel member")
        return cls(
            channel_id=f.ident("channel_id", required=True),
            user_id=f.ident("user_id", required=True),
            roles=f.text("roles"),
            last_viewed_at=f.integer("last_viewed_at"),
            last_update_at=f.integer("last_update_at"),
            msg_count=f.integer("msg_count"),
            mention_count=f.integer("mention_count"),
            scheme_admin=f.flag("scheme_admin"),
            notify_props=f.mapping("notify_props"),
            raw=f.raw,
        )


@dataclass(frozen=True, slots=True)
class FileInfo:
    id: str
    user_id: str
    post_id: str
    channel_id: str
    create_at: int
    update_at: int
    delete_at: int
    name: str
    extension: str
    size: int
    mime_type: str
    width: int
    height: int
    has_preview_image: bool
    mini_preview: str | None
    archived: bool
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = _Fields(data, "file")
        return cls(
            id=f.ident("id", required=True),
            user_id=f.ident("user_id"),
            post_id=f.ident("post_id"),
            channel_id=f.ident("channel_id"),
            create_at=f.integer("create_at"),
            update_at=f.integer("update_at"),
            delete_at=f.integer("delete_at"),
            name=f.text("name"),
            extension=f.text("extension"),
            size=f.integer("size", minimum=0),
            mime_type=f.text("mime_type"),
            width=f.integer("width"),
            height=f.integer("height"),
            has_preview_image=f.flag("has_preview_image"),
            mini_preview=f.optional_text("mini_preview"),
            archived=f.flag("archived"),
            raw=f.raw,
        )


@dataclass(frozen=True, slots=True)
class Reaction:
    user_id: str
    post_id: str
    emoji_name: str
    channel_id: str
    create_at: int
    update_at: int
    delete_at: int
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = _Fields(data, "reaction")
        return cls(
            user_id=f.ident("user_id", required=True),
            post_id=f.ident("post_id", required=True),
            emoji_name=f.text("emoji_name", required=True),
            channel_id=f.ident("channel_id"),
            create_at=f.integer("create_at"),
            update_at=f.integer("update_at"),
            delete_at=f.integer("delete_at"),
            raw=f.raw,
        )


@dataclass(frozen=True, slots=True)
class Emoji:
    id: str
    creator_id: str
    name: str
    create_at: int
    update_at: int
    delete_at: int
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = _Fields(data, "emoji")
        return cls(
            id=f.ident("id", required=True),
            creator_id=f.ident("creator_id"),
            name=f.text("name", required=True),
            create_at=f.integer("create_at"),
            update_at=f.integer("update_at"),
            delete_at=f.integer("delete_at"),
            raw=f.raw,
        )


@dataclass(frozen=True, slots=True)
class Post:
    """One post; `files`, `reactions` and `emojis` come from `metadata` (empty for deleted posts)."""

    id: str
    create_at: int
    update_at: int
    edit_at: int
    delete_at: int
    is_pinned: bool
    user_id: str
    channel_id: str
    root_id: str
    original_id: str
    message: str
    type: str
    props: dict[str, Any]
    hashtags: str
    file_ids: tuple[str, ...]
    reply_count: int
    has_reactions: bool
    files: tuple[FileInfo, ...]
    reactions: tuple[Reaction, ...]
    emojis: tuple[Emoji, ...]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        """The checked parse; a page holds hundreds of posts, so the common, well-formed post takes
        a shortcut that applies the same rules inline and hands anything unusual to `_checked`."""
        post = cls._well_formed(data)
        return post if post is not None else cls._checked(data)

    @classmethod
    def _well_formed(cls, data: object) -> Self | None:
        if type(data) is not dict:
            return None
        get = data.get
        post_id = get("id")
        if type(post_id) is not str or not _plain_id(post_id):
            return None
        ids: list[str] = []
        for name in ("user_id", "channel_id", "root_id", "original_id"):
            value = get(name)
            if value is None:
                value = ""
            elif type(value) is not str or (value and not _plain_id(value)):
                return None
            ids.append(value)
        numbers: list[int] = []
        for name in ("create_at", "update_at", "edit_at", "delete_at", "reply_count"):
            value = get(name)
            if value is None:
                value = 0
            elif type(value) is not int:
                return None
            numbers.append(value)
        texts: list[str] = []
        for name in ("message", "type", "hashtags"):
            value = get(name)
            if value is None:
                value = ""
            elif type(value) is not str:
                return None
            texts.append(value)
        flags: list[bool] = []
        for name in ("is_pinned", "has_reactions"):
            value = get(name)
            if value is None:
                value = False
            elif type(value) is not bool:
                return None
            flags.append(value)
        props, metadata, file_ids = get("props"), get("metadata"), get("file_ids")
        if props is None:
            props = {}
        if metadata is None:
            metadata = {}
        if type(props) is not dict or type(metadata) is not dict:
            return None
        if file_ids is None:
            file_ids = ()
        elif type(file_ids) is list and all(type(item) is str and _plain_id(item) for item in file_ids):
            file_ids = tuple(file_ids)
        else:
            return None
        nested: list[tuple[Any, ...]] = []
        for name, parse in (
            ("files", FileInfo.from_json),
            ("reactions", Reaction.from_json),
            ("emojis", Emoji.from_json),
        ):
            items = metadata.get(name)
            if items is None:
                nested.append(())
            elif type(items) is list:
                nested.append(tuple(parse(item) for item in items))
            else:
                return None
        create_at, update_at, edit_at, delete_at, reply_count = numbers
        user_id, channel_id, root_id, original_id = ids
        message, post_type, hashtags = texts
        is_pinned, has_reactions = flags
        files, reactions, emojis = nested
        return cls(
            post_id, create_at, update_at, edit_at, delete_at, is_pinned, user_id, channel_id,
            root_id, original_id, message, post_type, props, hashtags, file_ids, reply_count,
            has_reactions, files, reactions, emojis, data,
        )  # fmt: skip

    @classmethod
    def _checked(cls, data: object) -> Self:
        f = _Fields(data, "post")
        metadata = f.mapping("metadata")
        return cls(
            id=f.ident("id", required=True),
            create_at=f.integer("create_at"),
            update_at=f.integer("update_at"),
            edit_at=f.integer("edit_at"),
            delete_at=f.integer("delete_at"),
            is_pinned=f.flag("is_pinned"),
            user_id=f.ident("user_id"),
            channel_id=f.ident("channel_id"),
            root_id=f.ident("root_id"),
            original_id=f.ident("original_id"),
            message=f.text("message"),
            type=f.text("type"),
            props=f.mapping("props"),
            hashtags=f.text("hashtags"),
            file_ids=f.ident_list("file_ids"),
            reply_count=f.integer("reply_count"),
            has_reactions=f.flag("has_reactions"),
            files=f.objects("files", FileInfo.from_json, metadata),
            reactions=f.objects("reactions", Reaction.from_json, metadata),
            emojis=f.objects("emojis", Emoji.from_json, metadata),
            raw=f.raw,
        )

    @property
    def is_deleted(self) -> bool:
        return self.delete_at > 0 and not self.original_id

    @property
    def is_edit_history(self) -> bool:
        """An old version of post `original_id`, kept by the server when that post was edited."""
        return bool(self.original_id)


@dataclass(frozen=True, slots=True)
class PostList:
    """A page of posts: `order` is newest first; `posts` may hold more posts than `order` names."""

    order: tuple[str, ...]
    posts: dict[str, Post]
    next_post_id: str
    prev_post_id: str
    has_next: bool | None
    first_inaccessible_post_time: int
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = _Fields(data, "post list")
        posts_raw = f.mapping("posts")
        posts: dict[str, Post] = {}
        for key, value in posts_raw.items():
            post = Post.from_json(value)
            if post.id != key:
                raise BadResponse(f"post list: the post filed under {key[:40]!r} has id {post.id!r}")
            posts[key] = post
        order = f.ident_list("order")
        missing = [post_id for post_id in order if post_id not in posts]
        if missing:
            raise BadResponse(f"post list: 'order' names post {missing[0]!r} but 'posts' does not include it")
        return cls(
            order=order,
            posts=posts,
            next_post_id=f.ident("next_post_id"),
            prev_post_id=f.ident("prev_post_id"),
            has_next=f.optional_flag("has_next"),
            first_inaccessible_post_time=f.integer("first_inaccessible_post_time"),
            raw=f.raw,
        )

    def ordered_posts(self) -> list[Post]:
        return [self.posts[post_id] for post_id in self.order]


@dataclass(frozen=True, slots=True)
class SidebarCategory:
    id: str
    type: str
    display_name: str
    team_id: str
    sorting: str
    sort_order: int
    muted: bool
    collapsed: bool
    channel_ids: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = _Fields(data, "sidebar category")
        return cls(
            id=f.text("id"),
            type=f.text("type"),
            display_name=f.text("display_name"),
            team_id=f.ident("team_id"),
            sorting=f.text("sorting"),
            sort_order=f.integer("sort_order"),
            muted=f.flag("muted"),
            collapsed=f.flag("collapsed"),
            channel_ids=f.ident_list("channel_ids"),
            raw=f.raw,
        )


@dataclass(frozen=True, slots=True)
class SidebarCategories:
    categories: tuple[SidebarCategory, ...]
    order: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, data: object) -> Self:
        f = _Fields(data, "sidebar categories")
        return cls(
            categories=f.objects("categories", SidebarCategory.from_json),
            order=f.text_list("order"),
            raw=f.raw,
        )

    @property
    def favorite_channel_ids(self) -> frozenset[str]:
        return frozenset(
            channel_id
            for category in self.categories
            if category.type == FAVORITES_CATEGORY
            for channel_id in category.channel_ids
        )


def parse_reactions_by_post(data: object) -> dict[str, tuple[Reaction, ...]]:
    """Parses the answer of `POST /posts/ids/reactions`: `{post_id: [Reaction, …]}`."""
    f = _Fields(data, "reactions by post")
    result: dict[str, tuple[Reaction, ...]] = {}
    for post_id in f.raw:
        if not is_safe_id(post_id):
            raise BadResponse("reactions by post: a key is not a valid post id")
        result[post_id] = f.objects(post_id, Reaction.from_json)
    return result
