"""Strict JSON Schemas of the server's objects, written from the Go structs (reference §4).

`required` lists every field without `omitempty`, so a response missing one fails; types follow the
Go types (pointers are nullable). Extra properties are allowed because newer servers add fields.
Use `schema_for(name)` with any JSON Schema 2020-12 validator, e.g. `jsonschema`.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

_ID = {"type": "string", "minLength": 26, "maxLength": 26, "pattern": "^[a-z0-9]+$"}
_ID_OR_EMPTY = {"type": "string", "pattern": "^([a-z0-9]{26})?$"}
_MILLIS = {"type": "integer", "minimum": 0}
_STRING = {"type": "string"}
_BOOL = {"type": "boolean"}
_INT = {"type": "integer"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_NULLABLE_BOOL = {"type": ["boolean", "null"]}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> Schema:
    return {
        "type": "object",
        "required": sorted(required),
        "properties": {**required, **(optional or {})},
    }


def _ref(name: str) -> Schema:
    return {"$ref": f"#/$defs/{name}"}


DEFINITIONS: dict[str, Schema] = {
    "AppError": _object(
        {"id": {"type": "string", "minLength": 1}, "message": _STRING, "detailed_error": _STRING},
        {"request_id": _STRING, "status_code": _INT, "is_oauth": _BOOL},
    ),
    "User": _object(
        {
            "id": _ID,
            "create_at": _MILLIS,
            "update_at": _MILLIS,
            "delete_at": _MILLIS,
            "username": {"type": "string", "minLength": 1},
            "auth_data": _STRING,
            "auth_service": _STRING,
            "email": _STRING,
            "nickname": _STRING,
            "first_name": _STRING,
            "last_name": _STRING,
            "position": _STRING,
            "roles": _STRING,
            "locale": _STRING,
            "timezone": _STRING_MAP,
            "disable_welcome_email": _BOOL,
        },
        {
            "email_verified": _BOOL,
            "props": _STRING_MAP,
            "notify_props": _STRING_MAP,
            "last_password_update": _MILLIS,
            "last_picture_update": _MILLIS,
            "failed_attempts": _INT,
            "mfa_active": _BOOL,
            "remote_id": _NULLABLE_STRING,
            "last_activity_at": _MILLIS,
            "is_bot": _BOOL,
            "bot_description": _STRING,
            "bot_last_icon_update": _MILLIS,
            "terms_of_service_id": _STRING,
            "terms_of_service_create_at": _MILLIS,
            "last_login": _MILLIS,
        },
    ),
    "ThreadParticipant": {
        "description": "A full User with collapsedThreadsExtended, else a zero User carrying only the id.",
        "anyOf": [_ref("User"), _object({"id": _ID})],
    },
    "Team": _object(
        {
            "id": _ID,
            "create_at": _MILLIS,
            "update_at": _MILLIS,
            "delete_at": _MILLIS,
            "display_name": _STRING,
            "name": {"type": "string", "minLength": 1},
            "description": _STRING,
            "email": _STRING,
            "type": {"enum": ["O", "I"]},
            "company_name": _STRING,
            "allowed_domains": _STRING,
            "invite_id": _STRING,
            "allow_open_invite": _BOOL,
            "scheme_id": _NULLABLE_STRING,
            "group_constrained": _NULLABLE_BOOL,
            "policy_id": _NULLABLE_STRING,
        },
        {"last_team_icon_update": _MILLIS, "cloud_limits_archived": _BOOL},
    ),
    "TeamMember": _object(
        {
            "team_id": _ID,
            "user_id": _ID,
            "roles": _STRING,
            "delete_at": _MILLIS,
            "scheme_guest": _BOOL,
            "scheme_user": _BOOL,
            "scheme_admin": _BOOL,
            "explicit_roles": _STRING,
        },
        {"create_at": _MILLIS},
    ),
    "Channel": _object(
        {
            "id": _ID,
            "create_at": _MILLIS,
            "update_at": _MILLIS,
            "delete_at": _MILLIS,
            "team_id": _ID_OR_EMPTY,
            "type": {"type": "string", "minLength": 1},
            "display_name": _STRING,
            "name": {"type": "string", "minLength": 1},
            "header": _STRING,
            "purpose": _STRING,
            "last_post_at": _MILLIS,
            "total_msg_count": _INT,
            "extra_update_at": _MILLIS,
            "creator_id": _ID_OR_EMPTY,
            "scheme_id": _NULLABLE_STRING,
            "props": {"type": ["object", "null"]},
            "group_constrained": _NULLABLE_BOOL,
            "shared": _NULLABLE_BOOL,
            "total_msg_count_root": _INT,
            "policy_id": _NULLABLE_STRING,
            "last_root_post_at": _MILLIS,
        },
        {"banner_info": {"type": ["object", "null"]}, "policy_enforced": _BOOL},
    ),
    "ChannelMember": _object(
        {
            "channel_id": _ID,
            "user_id": _ID,
            "roles": _STRING,
            "last_viewed_at": _MILLIS,
            "msg_count": _INT,
            "mention_count": _INT,
            "mention_count_root": _INT,
            "urgent_mention_count": _INT,
            "msg_count_root": _INT,
            "notify_props": _STRING_MAP,
            "last_update_at": _MILLIS,
            "scheme_guest": _BOOL,
            "scheme_user": _BOOL,
            "scheme_admin": _BOOL,
            "explicit_roles": _STRING,
        }
    ),
    "FileInfo": _object(
        {
            "id": _ID,
            "user_id": _ID,
            "channel_id": _ID,
            "create_at": _MILLIS,
            "update_at": _MILLIS,
            "delete_at": _MILLIS,
            "name": _STRING,
            "extension": _STRING,
            "size": {"type": "integer", "minimum": 0},
            "mime_type": _STRING,
            "mini_preview": _NULLABLE_STRING,
            "remote_id": _NULLABLE_STRING,
            "archived": _BOOL,
        },
        {
            "post_id": _ID,
            "width": {"type": "integer", "minimum": 1},
            "height": {"type": "integer", "minimum": 1},
            "has_preview_image": {"const": True},
            "extra_info": _STRING,
        },
    ),
    "Reaction": _object(
        {
            "user_id": _ID,
            "post_id": _ID,
            "emoji_name": {"type": "string", "minLength": 1},
            "create_at": _MILLIS,
            "update_at": _MILLIS,
            "delete_at": _MILLIS,
            "remote_id": _NULLABLE_STRING,
            "channel_id": _ID,
        }
    ),
    "Emoji": _object(
        {
            "id": _ID,
            "creator_id": _ID,
            "name": {"type": "string", "minLength": 1},
            "create_at": _MILLIS,
            "update_at": _MILLIS,
            "delete_at": _MILLIS,
        }
    ),
    "PostEmbed": _object(
        {"type": {"enum": ["image", "link", "message_attachment", "opengraph", "permalink"]}},
        {"url": _STRING, "data": {"type": ["object", "null"]}},
    ),
    "PostImage": _object(
        {"width": _INT, "height": _INT},
        {"format": _STRING, "frame_count": _INT},
    ),
    "PostMetadata": {
        "type": "object",
        "properties": {
            "embeds": {"type": "array", "items": _ref("PostEmbed")},
            "emojis": {"type": "array", "items": _ref("Emoji")},
            "files": {"type": "array", "items": _ref("FileInfo")},
            "images": {"type": "object", "additionalProperties": _ref("PostImage")},
            "reactions": {"type": "array", "items": _ref("Reaction")},
            "priority": {"type": "object"},
            "acknowledgements": {"type": "array"},
        },
    },
    "Post": {
        **_object(
            {
                "id": _ID,
                "create_at": _MILLIS,
                "update_at": _MILLIS,
                "edit_at": _MILLIS,
                "delete_at": _MILLIS,
                "is_pinned": _BOOL,
                "user_id": _ID,
                "channel_id": _ID,
                "root_id": _ID_OR_EMPTY,
                "original_id": _ID_OR_EMPTY,
                "message": _STRING,
                "type": _STRING,
                "props": {"type": "object"},
                "hashtags": _STRING,
                "file_ids": {"type": ["array", "null"], "items": _ID},
                "pending_post_id": _STRING,
                "reply_count": {"type": "integer", "minimum": 0},
                "last_reply_at": _MILLIS,
                "participants": {"type": ["array", "null"], "items": _ref("ThreadParticipant")},
            },
            {
                "message_source": _STRING,
                "has_reactions": _BOOL,
                "remote_id": _NULLABLE_STRING,
                "is_following": _BOOL,
                "metadata": _ref("PostMetadata"),
            },
        ),
        "not": {"required": ["hashtag"]},
    },
    "PostList": _object(
        {
            "order": {"type": "array", "items": _ID},
            "posts": {"type": "object", "additionalProperties": _ref("Post")},
            "next_post_id": _ID_OR_EMPTY,
            "prev_post_id": _ID_OR_EMPTY,
            "first_inaccessible_post_time": _MILLIS,
        },
        {"has_next": _BOOL, "next_cursor": _STRING},
    ),
    "SidebarCategory": _object(
        {
            "id": {"type": "string", "minLength": 1},
            "user_id": _ID,
            "team_id": _ID,
            "sort_order": _INT,
            "sorting": {"enum": ["", "manual", "recent", "alpha"]},
            "type": {"enum": ["favorites", "channels", "direct_messages", "custom", "managed"]},
            "display_name": _STRING,
            "muted": _BOOL,
            "collapsed": _BOOL,
            "channel_ids": {"type": "array", "items": _ID},
        }
    ),
    "OrderedSidebarCategories": _object(
        {
            "categories": {"type": "array", "items": _ref("SidebarCategory")},
            "order": {"type": "array", "items": {"type": "string"}},
        }
    ),
}

SCHEMA_NAMES = tuple(sorted(DEFINITIONS))


def schema_for(name: str, *, array: bool = False) -> Schema:
    """A standalone schema for one object (or an array of them), with all definitions embedded."""
    if name not in DEFINITIONS:
        raise KeyError(f"no schema named {name!r}; known: {', '.join(SCHEMA_NAMES)}")
    root: Schema = {"type": "array", "items": _ref(name)} if array else _ref(name)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **root, "$defs": DEFINITIONS}
