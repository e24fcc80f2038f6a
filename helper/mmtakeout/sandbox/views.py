"""JSON shapes of the server's objects (reference §4), built from World rows.

Field names, order and omissions follow the server's Go structs: `omitempty` fields are left out when
empty, pointer fields are `null`, deleted posts lose their message and metadata, other users are
sanitized according to the privacy settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mmtakeout.sandbox.world import (
    Channel,
    ChannelMember,
    Emoji,
    FileInfo,
    Post,
    Reaction,
    Team,
    TeamMember,
    User,
    World,
    emoji_names_in,
)

JSON = dict[str, Any]

_LINK = re.compile(r"https?://[^\s<>()\[\]]+")
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\((https?://[^\s)]+)\)")

DEFAULT_NOTIFY_PROPS = {
    "channel": "true",
    "comments": "never",
    "desktop": "mention",
    "desktop_sound": "true",
    "email": "true",
    "first_name": "false",
    "mention_keys": "",
    "push": "mention",
    "push_status": "away",
}
CHANNEL_NOTIFY_PROPS = {
    "desktop": "default",
    "email": "default",
    "ignore_channel_mentions": "default",
    "mark_unread": "all",
    "push": "default",
}


@dataclass(frozen=True, slots=True)
class ViewSettings:
    """Server settings that change object shapes."""

    show_email: bool = False
    show_full_name: bool = True
    custom_emoji_enabled: bool = True
    link_previews_enabled: bool = True


@dataclass(frozen=True, slots=True)
class PostShape:
    """How a post list was fetched: decides `reply_count` and the collapsed-threads fields."""

    with_reply_count: bool = True
    collapsed_threads: bool = False
    viewer_id: str = ""


def user_json(user: User, *, viewer_id: str, settings: ViewSettings) -> JSON:
    is_self = user.id == viewer_id
    data: JSON = {
        "id": user.id,
        "create_at": user.create_at,
        "update_at": user.update_at,
        "delete_at": user.delete_at,
        "username": user.username,
        "auth_data": "",
        "auth_service": user.auth_service,
        "email": user.email if is_self or settings.show_email else "",
    }
    if is_self:
        data["email_verified"] = True
    data.update(
        {
            "nickname": user.nickname,
            "first_name": user.first_name if is_self or settings.show_full_name else "",
            "last_name": user.last_name if is_self or settings.show_full_name else "",
            "position": user.position,
            "roles": user.roles,
        }
    )
    if user.props:
        data["props"] = dict(user.props)
    if is_self:
        data["notify_props"] = dict(DEFAULT_NOTIFY_PROPS)
        data["last_password_update"] = user.create_at
    if user.last_picture_update:
        data["last_picture_update"] = user.last_picture_update
    data["locale"] = user.locale
    data["timezone"] = dict(user.timezone)
    if user.is_bot:
        data["is_bot"] = True
        if user.bot_description:
            data["bot_description"] = user.bot_description
    data["disable_welcome_email"] = False
    return data


def participant_json(user_id: str) -> JSON:
    """Collapsed-threads participants without `collapsedThreadsExtended`: a Go zero User but for the id."""
    return {
        "id": user_id,
        "create_at": 0,
        "update_at": 0,
        "delete_at": 0,
        "username": "",
        "auth_service": "",
        "email": "",
        "nickname": "",
        "first_name": "",
        "last_name": "",
        "position": "",
        "roles": "",
        "locale": "",
        "timezone": None,
        "disable_welcome_email": False,
    }


def team_json(team: Team) -> JSON:
    return {
        "id": team.id,
        "create_at": team.create_at,
        "update_at": team.update_at,
        "delete_at": team.delete_at,
        "display_name": team.display_name,
        "name": team.name,
        "description": team.description,
        "email": "",
        "type": team.type,
        "company_name": team.company_name,
        "allowed_domains": "",
        "invite_id": "",
        "allow_open_invite": team.allow_open_invite,
        "scheme_id": None,
        "group_constrained": None,
        "policy_id": None,
        "cloud_limits_archived": False,
    }


def team_member_json(member: TeamMember) -> JSON:
    return {
        "team_id": member.team_id,
        "user_id": member.user_id,
        "roles": member.roles,
        "delete_at": member.delete_at,
        "scheme_guest": False,
        "scheme_user": True,
        "scheme_admin": member.scheme_admin,
        "explicit_roles": "",
        "create_at": member.create_at,
    }


def channel_json(channel: Channel) -> JSON:
    return {
        "id": channel.id,
        "create_at": channel.create_at,
        "update_at": channel.update_at,
        "delete_at": channel.delete_at,
        "team_id": channel.team_id,
        "type": channel.type,
        "display_name": channel.display_name,
        "name": channel.name,
        "header": channel.header,
        "purpose": channel.purpose,
        "last_post_at": channel.last_post_at,
        "total_msg_count": channel.total_msg_count,
        "extra_update_at": 0,
        "creator_id": channel.creator_id,
        "scheme_id": None,
        "props": None,
        "group_constrained": None,
        "shared": False,
        "total_msg_count_root": channel.total_msg_count_root,
        "policy_id": None,
        "last_root_post_at": channel.last_root_post_at,
        "banner_info": None,
        "policy_enforced": False,
    }


def channel_member_json(member: ChannelMember) -> JSON:
    return {
        "channel_id": member.channel_id,
        "user_id": member.user_id,
        "roles": "channel_user channel_admin" if member.scheme_admin else "channel_user",
        "last_viewed_at": member.last_viewed_at,
        "msg_count": member.msg_count,
        "mention_count": member.mention_count,
        "mention_count_root": member.mention_count_root,
        "urgent_mention_count": 0,
        "msg_count_root": member.msg_count_root,
        "notify_props": dict(CHANNEL_NOTIFY_PROPS),
        "last_update_at": member.last_update_at,
        "scheme_guest": False,
        "scheme_user": True,
        "scheme_admin": member.scheme_admin,
        "explicit_roles": "",
    }


def file_info_json(info: FileInfo) -> JSON:
    data: JSON = {
        "id": info.id,
        "user_id": info.user_id,
    }
    if info.post_id:
        data["post_id"] = info.post_id
    data.update(
        {
            "channel_id": info.channel_id,
            "create_at": info.create_at,
            "update_at": info.update_at,
            "delete_at": info.delete_at,
            "name": info.name,
            "extension": info.extension,
            "size": info.size,
            "mime_type": info.mime_type,
        }
    )
    if info.width:
        data["width"] = info.width
    if info.height:
        data["height"] = info.height
    if info.has_preview_image:
        data["has_preview_image"] = True
    data["mini_preview"] = info.mini_preview
    data["remote_id"] = ""
    data["archived"] = False
    return data


def reaction_json(reaction: Reaction) -> JSON:
    return {
        "user_id": reaction.user_id,
        "post_id": reaction.post_id,
        "emoji_name": reaction.emoji_name,
        "create_at": reaction.create_at,
        "update_at": reaction.create_at,
        "delete_at": 0,
        "remote_id": "",
        "channel_id": reaction.channel_id,
    }


def emoji_json(emoji: Emoji) -> JSON:
    return {
        "id": emoji.id,
        "create_at": emoji.create_at,
        "update_at": emoji.update_at,
        "delete_at": emoji.delete_at,
        "creator_id": emoji.creator_id,
        "name": emoji.name,
    }


def _metadata(world: World, post: Post, settings: ViewSettings) -> JSON:
    """`PreparePostForClient`: embeds, emojis, files, images and reactions; empty keys are omitted."""
    metadata: JSON = {}
    reactions = world.reactions.get(post.id, [])
    props = post.props or {}
    previews = world.link_previews if settings.link_previews_enabled else {}
    links = _LINK.findall(post.message)
    if props.get("attachments"):
        metadata["embeds"] = [{"type": "message_attachment"}]
    elif links and (preview := previews.get(links[0])) is not None and preview.embed is not None:
        metadata["embeds"] = [preview.embed]
    if settings.custom_emoji_enabled:
        names = dict.fromkeys([*emoji_names_in(post.message), *(r.emoji_name for r in reactions)])
        emojis = [emoji_json(emoji) for name in names if (emoji := world.emoji_by_name(name)) is not None]
        if emojis:
            metadata["emojis"] = emojis
    files = [
        file_info_json(info)
        for file_id in post.file_ids
        if (info := world.files.get(file_id)) is not None and not info.delete_at
    ]
    if files:
        metadata["files"] = files
    images: JSON = {}
    for url in [*_MARKDOWN_IMAGE.findall(post.message), *links[:1]]:
        preview = previews.get(url)
        if preview is not None:
            images.update(preview.images)
    if images:
        metadata["images"] = images
    if reactions:
        metadata["reactions"] = [reaction_json(reaction) for reaction in reactions]
    return metadata


def post_json(world: World, post: Post, shape: PostShape, settings: ViewSettings) -> JSON:
    deleted = post.delete_at > 0
    data: JSON = {
        "id": post.id,
        "create_at": post.create_at,
        "update_at": post.update_at,
        "edit_at": post.edit_at,
        "delete_at": post.delete_at,
        "is_pinned": post.is_pinned,
        "user_id": post.user_id,
        "channel_id": post.channel_id,
        "root_id": post.root_id,
        "original_id": post.original_id,
        "message": "" if deleted else post.message,
        "type": post.type,
        "props": dict(post.props) if post.props else {},
        "hashtags": post.hashtags,
        "file_ids": list(post.file_ids),
        "pending_post_id": "",
    }
    if post.has_reactions:
        data["has_reactions"] = True
    thread_root = shape.collapsed_threads and not post.root_id
    data["reply_count"] = world.live_reply_count(post) if shape.with_reply_count or thread_root else 0
    data["last_reply_at"] = 0
    data["participants"] = None
    if thread_root:
        replies = [reply for reply in world.replies.get(post.id, []) if not reply.delete_at]
        data["last_reply_at"] = replies[-1].create_at if replies else 0
        data["participants"] = [participant_json(uid) for uid in dict.fromkeys(r.user_id for r in replies)]
        data["is_following"] = shape.viewer_id == post.user_id or any(
            reply.user_id == shape.viewer_id for reply in replies
        )
    data["metadata"] = {} if deleted else _metadata(world, post, settings)
    return data


def post_list_json(
    world: World,
    order: list[Post],
    extra: list[Post],
    *,
    shape: PostShape,
    settings: ViewSettings,
    next_post_id: str = "",
    prev_post_id: str = "",
    has_next: bool | None = None,
) -> JSON:
    """A PostList: `order` newest-first ids, `posts` holds those plus context posts from `extra`."""
    posts: JSON = {}
    for post in (*order, *extra):
        if post.id not in posts:
            posts[post.id] = post_json(world, post, shape, settings)
    data: JSON = {
        "order": [post.id for post in order],
        "posts": posts,
        "next_post_id": next_post_id,
        "prev_post_id": prev_post_id,
    }
    if has_next is not None:
        data["has_next"] = has_next
    data["first_inaccessible_post_time"] = 0
    return data


def sidebar_categories_json(world: World, user_id: str, team_id: str) -> JSON:
    """One OrderedSidebarCategories object: favourites, custom categories, channels, direct messages."""
    favorites = world.favorites.get(user_id, [])
    customs = world.custom_categories.get((user_id, team_id), [])
    in_custom = {channel_id for category in customs for channel_id in category.channel_ids}
    mine = [world.channels[cid] for cid in world.user_channels.get(user_id, set())]
    team_channels = sorted(
        (c for c in mine if c.team_id == team_id and c.id not in favorites and c.id not in in_custom),
        key=lambda channel: channel.display_name.lower(),
    )
    direct = sorted(
        (c for c in mine if c.type in ("D", "G") and c.id not in favorites),
        key=lambda channel: -channel.last_post_at,
    )
    mine_ids = {channel.id for channel in mine}
    favorite_ids = [
        cid for cid in favorites if cid in mine_ids and world.channels[cid].team_id in (team_id, "")
    ]

    def category(category_id: str, kind: str, name: str, sorting: str, channel_ids: list[str]) -> JSON:
        return {
            "id": category_id,
            "user_id": user_id,
            "team_id": team_id,
            "sort_order": 0,
            "sorting": sorting,
            "type": kind,
            "display_name": name,
            "muted": False,
            "collapsed": False,
            "channel_ids": channel_ids,
        }

    categories = [category(f"favorites_{user_id}_{team_id}", "favorites", "Favorites", "", favorite_ids)]
    categories += [category(c.id, "custom", c.display_name, "manual", list(c.channel_ids)) for c in customs]
    categories.append(
        category(f"channels_{user_id}_{team_id}", "channels", "Channels", "", [c.id for c in team_channels])
    )
    categories.append(
        category(
            f"direct_messages_{user_id}_{team_id}",
            "direct_messages",
            "Direct Messages",
            "recent",
            [c.id for c in direct],
        )
    )
    for position, item in enumerate(categories):
        item["sort_order"] = position * 10
    return {"categories": categories, "order": [item["id"] for item in categories]}
