"""API v4 endpoint handlers. Each mirrors its server handler's checks, order of checks and output.

Handlers take the world lock only while reading state and building JSON; byte rendering for files
and images happens outside it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

from aiohttp import web

from mmtakeout.sandbox.auth import attach_session_cookies, authenticate, clear_session_cookies
from mmtakeout.sandbox.blobs import BlobSpec, jpeg_mosaic, png_mosaic, render
from mmtakeout.sandbox.context import Ctx, Route
from mmtakeout.sandbox.ids import is_valid_id
from mmtakeout.sandbox.responses import (
    ApiError,
    forbidden,
    go_json,
    invalid_param,
    invalid_url_param,
    json_response,
)
from mmtakeout.sandbox.views import (
    PostShape,
    channel_json,
    channel_member_json,
    emoji_json,
    file_info_json,
    post_json,
    post_list_json,
    reaction_json,
    sidebar_categories_json,
    team_json,
    team_member_json,
    user_json,
)
from mmtakeout.sandbox.world import (
    Channel,
    Emoji,
    FileInfo,
    Post,
    User,
    World,
    id_after,
    id_before,
    slice_after,
    slice_before,
    slice_page,
)

SINCE_LIMIT = 1000
POST_IDS_LIMIT = 1000
MEDIA_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/bmp",
        "image/gif",
        "image/tiff",
        "video/avi",
        "video/mpeg",
        "video/mp4",
        "audio/mpeg",
        "audio/wav",
    }
)
_UNSAFE_TYPES = (
    "text/html",
    "application/xhtml",
    "text/javascript",
    "application/javascript",
    "application/ecmascript",
)
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


# --- shared checks ---------------------------------------------------------------------------------


def _etag(ctx: Ctx, *parts: object) -> str:
    return ".".join([ctx.config.server_version, *(str(part) for part in parts)])


def _not_modified(ctx: Ctx, etag: str) -> web.Response | None:
    """The server's HandleEtag: an exact If-None-Match match answers 304 with the ETag."""
    if etag and ctx.request.headers.get("If-None-Match", "") == etag:
        return web.Response(status=304, headers={"ETag": etag})
    return None


def _is_admin(ctx: Ctx) -> bool:
    user = ctx.world.users.get(ctx.user_id)
    return user is not None and "system_admin" in user.roles.split()


def _require_self(ctx: Ctx) -> str:
    user_id = ctx.user_param()
    if user_id != ctx.user_id and not _is_admin(ctx):
        raise forbidden()
    return user_id


def _channel(ctx: Ctx, channel_id: str) -> Channel:
    channel = ctx.world.channels.get(channel_id)
    if channel is None:
        raise ApiError(404, "app.channel.get.existing.app_error")
    return channel


def _require_readable(ctx: Ctx, channel: Channel) -> None:
    if not ctx.world.can_read_channel(
        ctx.user_id, channel.id, view_archived=ctx.config.view_archived_channels
    ):
        raise forbidden()


def _live_post(ctx: Ctx, post_id: str) -> Post:
    post = ctx.world.posts.get(post_id)
    if post is None or post.delete_at:
        raise ApiError(404, "app.post.get.app_error")
    return post


def _json_array_of_ids(raw: bytes, name: str) -> list[str]:
    """A JSON array of strings from the body (the server's ArrayFromJSON), else 400."""
    try:
        data = json.loads(raw or b"null")
    except ValueError as error:
        raise ApiError(400, "api.context.invalid_body_param.app_error", param=name) from error
    if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
        raise ApiError(400, "api.context.invalid_body_param.app_error", param=name)
    return list(dict.fromkeys(data))


def _user_view(ctx: Ctx, user: User) -> dict[str, Any]:
    return user_json(user, viewer_id=ctx.user_id, settings=ctx.settings)


# --- system, login ---------------------------------------------------------------------------------


async def system_ping(ctx: Ctx) -> web.StreamResponse:
    return json_response(
        {
            "ActiveSearchBackend": "database",
            "AndroidLatestVersion": "",
            "AndroidMinVersion": "",
            "IosLatestVersion": "",
            "IosMinVersion": "",
            "status": "OK",
        }
    )


async def client_config(ctx: Ctx) -> web.StreamResponse:
    if ctx.query("format") != "old":
        raise ApiError(501, "api.config.client.old_format.app_error")
    return json_response(
        {
            "Version": ctx.config.server_version,
            "BuildNumber": ctx.config.server_version,
            "SiteName": "Mattermost Sandbox",
            "SiteURL": "",
            "EnableCustomEmoji": str(ctx.config.custom_emoji_enabled).lower(),
            "ExperimentalViewArchivedChannels": str(ctx.config.view_archived_channels).lower(),
            "ShowEmailAddress": str(ctx.config.show_email).lower(),
            "ShowFullName": str(ctx.config.show_full_name).lower(),
        }
    )


async def login(ctx: Ctx) -> web.StreamResponse:
    body = await ctx.request.read()
    try:
        data = json.loads(body or b"{}")
    except ValueError as error:
        raise ApiError(400, "api.context.invalid_body_param.app_error", param="user") from error
    if not isinstance(data, dict):
        raise ApiError(400, "api.context.invalid_body_param.app_error", param="user")
    user = authenticate(ctx.world, str(data.get("login_id", "")), str(data.get("password", "")))
    session = ctx.world.add_session(user.id, expires_at=ctx.world.now() + 30 * 24 * 3600 * 1000)
    ctx.session = session
    response = json_response(_user_view(ctx, user), headers={"Token": session.token})
    attach_session_cookies(response, ctx.request, session)
    return response


async def logout(ctx: Ctx) -> web.StreamResponse:
    if ctx.session is not None:
        ctx.world.revoke_token(ctx.session.token)
    response = json_response({"status": "OK"})
    clear_session_cookies(response)
    return response


# --- users -----------------------------------------------------------------------------------------


async def get_user(ctx: Ctx) -> web.StreamResponse:
    user_id = ctx.user_param()
    with ctx.world.lock:
        user = ctx.world.users.get(user_id)
        if user is None:
            raise ApiError(404, "app.user.missing_account.const")
        full_name, email = str(ctx.config.show_full_name).lower(), str(ctx.config.show_email).lower()
        etag = _etag(ctx, user.id, user.update_at, "", 0, full_name, email, 0)
        if (cached := _not_modified(ctx, etag)) is not None:
            return cached
        return json_response(_user_view(ctx, user), headers={"ETag": etag})


async def get_users(ctx: Ctx) -> web.StreamResponse:
    world = ctx.world
    page, per_page = ctx.page(), ctx.per_page()
    with world.lock:
        in_channel, in_team = ctx.query("in_channel"), ctx.query("in_team")
        if in_channel:
            channel = _channel(ctx, in_channel)
            if channel.delete_at and not ctx.config.view_archived_channels:
                raise ApiError(403, "api.user.view_archived_channels.get_users_in_channel.app_error")
            _require_readable(ctx, channel)
            user_ids = list(world.channel_members[channel.id])
        elif in_team:
            if in_team not in world.teams:
                raise ApiError(404, "app.team.get.find.app_error")
            if not world.is_team_member(ctx.user_id, in_team):
                raise forbidden()
            user_ids = [uid for uid, m in world.team_members[in_team].items() if not m.delete_at]
        else:
            user_ids = list(world.users)
        users = sorted((world.users[uid] for uid in user_ids), key=lambda user: user.username)
        chosen = users[page * per_page : (page + 1) * per_page]
        return json_response([_user_view(ctx, user) for user in chosen])


async def users_by_ids(ctx: Ctx) -> web.StreamResponse:
    ids = _json_array_of_ids(await ctx.request.read(), "user_ids")
    if not ids:
        raise invalid_param("user_ids")
    since_raw = ctx.query("since")
    try:
        since = int(since_raw) if since_raw else 0
    except ValueError as error:
        raise invalid_url_param("since") from error
    with ctx.world.lock:
        users = [ctx.world.users[uid] for uid in ids if uid in ctx.world.users]
        return json_response([_user_view(ctx, user) for user in users if user.update_at > since])


async def users_by_usernames(ctx: Ctx) -> web.StreamResponse:
    names = _json_array_of_ids(await ctx.request.read(), "usernames")
    if not names:
        raise invalid_param("usernames")
    with ctx.world.lock:
        users = [
            ctx.world.users[ctx.world.user_ids_by_name[n]] for n in names if n in ctx.world.user_ids_by_name
        ]
        return json_response([_user_view(ctx, user) for user in users])


def avatar_png(user: User) -> bytes:
    digest = hashlib.sha256(f"{user.id}:{user.last_picture_update}".encode()).digest()
    return png_mosaic(128, 128, int.from_bytes(digest[:4], "big"))


async def user_image(ctx: Ctx) -> web.StreamResponse:
    user_id = ctx.user_param()
    with ctx.world.lock:
        user = ctx.world.users.get(user_id)
        if user is None:
            raise ApiError(404, "app.user.missing_account.const")
        etag = str(user.last_picture_update)
        if (cached := _not_modified(ctx, etag)) is not None:
            return cached
        picture_set = user.last_picture_update > 0
    headers = {
        "Content-Type": "image/png",
        "Cache-Control": "max-age=86400, private" if picture_set else "max-age=300, private",
        "ETag": etag,
    }
    return web.Response(body=avatar_png(user), headers=headers)


async def user_default_image(ctx: Ctx) -> web.StreamResponse:
    user_id = ctx.user_param()
    with ctx.world.lock:
        user = ctx.world.users.get(user_id)
        if user is None:
            raise ApiError(404, "app.user.missing_account.const")
    digest = hashlib.sha256(f"default:{user.id}".encode()).digest()
    body = png_mosaic(128, 128, int.from_bytes(digest[:4], "big"))
    return web.Response(
        body=body, headers={"Content-Type": "image/png", "Cache-Control": "max-age=300, private"}
    )


async def user_preferences(ctx: Ctx) -> web.StreamResponse:
    user_id = _require_self(ctx)
    with ctx.world.lock:
        preferences = [
            {"user_id": user_id, "category": "favorite_channel", "name": channel_id, "value": "true"}
            for channel_id in ctx.world.favorites.get(user_id, [])
        ]
        preferences.append(
            {
                "user_id": user_id,
                "category": "display_settings",
                "name": "use_military_time",
                "value": "false",
            }
        )
        return json_response(preferences)


# --- teams -----------------------------------------------------------------------------------------


async def user_teams(ctx: Ctx) -> web.StreamResponse:
    user_id = _require_self(ctx)
    with ctx.world.lock:
        teams = [ctx.world.teams[tid] for tid in ctx.world.user_team_ids(user_id)]
        return json_response([team_json(team) for team in sorted(teams, key=lambda team: team.name)])


async def user_team_members(ctx: Ctx) -> web.StreamResponse:
    user_id = _require_self(ctx)
    with ctx.world.lock:
        members = [ctx.world.team_members[tid][user_id] for tid in ctx.world.user_team_ids(user_id)]
        return json_response([team_member_json(member) for member in members])


async def get_team(ctx: Ctx) -> web.StreamResponse:
    team_id = ctx.id_param("team_id")
    with ctx.world.lock:
        team = ctx.world.teams.get(team_id)
        if team is None:
            raise ApiError(404, "app.team.get.find.app_error")
        if not ctx.world.is_team_member(ctx.user_id, team_id):
            raise forbidden()
        return json_response(team_json(team))


# --- channels --------------------------------------------------------------------------------------


def _last_delete_at(ctx: Ctx) -> int:
    try:
        value = int(ctx.query("last_delete_at"))
    except ValueError:
        return 0
    if value < 0:
        raise invalid_url_param("last_delete_at")
    return value


def _archived_filter(channels: list[Channel], include_deleted: bool, last_delete_at: int) -> list[Channel]:
    if not include_deleted:
        return [channel for channel in channels if not channel.delete_at]
    return [c for c in channels if not c.delete_at or c.delete_at >= last_delete_at]


async def user_channels(ctx: Ctx) -> web.StreamResponse:
    """All the user's channels across teams, streamed as the server writes them (`[`, items, `]`)."""
    user_id = _require_self(ctx)
    include_deleted = ctx.flag("include_deleted")
    last_delete_at = _last_delete_at(ctx)
    with ctx.world.lock:
        channels = ctx.world.visible_channels(user_id, include_deleted=include_deleted)
        channels = _archived_filter(channels, include_deleted, last_delete_at)
        chunks = [go_json(channel_json(channel)) for channel in channels]
    fail_after = ctx.config.channel_list_fault
    if ctx.truncate_stream:
        fail_after = 1
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(ctx.request)
    await response.write(b"[")
    for position, chunk in enumerate(chunks):
        if fail_after is not None and position >= fail_after:
            error = ApiError(500, "api.channel.get_channels_for_user.app_error")
            await response.write(go_json(error.body(ctx.request_id)))
            if ctx.truncate_stream and ctx.request.transport is not None:
                ctx.request.transport.abort()
            return response
        if position:
            await response.write(b",")
        await response.write(chunk)
    await response.write(b"]")
    return response


def _team_scope(ctx: Ctx) -> tuple[str, str]:
    user_id = _require_self(ctx)
    team_id = ctx.id_param("team_id")
    if not ctx.world.is_team_member(ctx.user_id, team_id):
        raise forbidden()
    return user_id, team_id


def _team_and_direct_channels(world: World, user_id: str, team_id: str) -> list[Channel]:
    return [
        channel
        for channel in world.visible_channels(user_id)
        if channel.team_id == team_id or channel.team_id == ""
    ]


async def user_team_channels(ctx: Ctx) -> web.StreamResponse:
    with ctx.world.lock:
        user_id, team_id = _team_scope(ctx)
        channels = _team_and_direct_channels(ctx.world, user_id, team_id)
        channels = _archived_filter(channels, ctx.flag("include_deleted"), _last_delete_at(ctx))
        if not channels:
            raise ApiError(404, "app.channel.get_channels.not_found.app_error")
        channels.sort(key=lambda channel: channel.display_name)
        return json_response([channel_json(channel) for channel in channels])


async def user_team_channel_members(ctx: Ctx) -> web.StreamResponse:
    with ctx.world.lock:
        user_id, team_id = _team_scope(ctx)
        channels = _team_and_direct_channels(ctx.world, user_id, team_id)
        members = [ctx.world.channel_members[channel.id][user_id] for channel in channels]
        return json_response([channel_member_json(member) for member in members])


async def user_team_categories(ctx: Ctx) -> web.StreamResponse:
    with ctx.world.lock:
        user_id, team_id = _team_scope(ctx)
        return json_response(sidebar_categories_json(ctx.world, user_id, team_id))


async def user_channel_members(ctx: Ctx) -> web.StreamResponse:
    user_id = _require_self(ctx)
    page, per_page = ctx.page(), ctx.per_page()
    with ctx.world.lock:
        channel_ids = sorted(ctx.world.user_channels.get(user_id, set()))
        chosen = channel_ids[page * per_page : (page + 1) * per_page]
        members = [ctx.world.channel_members[cid][user_id] for cid in chosen]
        return json_response([channel_member_json(member) for member in members])


async def get_channel(ctx: Ctx) -> web.StreamResponse:
    channel_id = ctx.id_param("channel_id")
    with ctx.world.lock:
        channel = _channel(ctx, channel_id)
        _require_readable(ctx, channel)
        return json_response(channel_json(channel))


async def channel_members(ctx: Ctx) -> web.StreamResponse:
    channel_id = ctx.id_param("channel_id")
    page, per_page = ctx.page(), ctx.per_page()
    with ctx.world.lock:
        channel = _channel(ctx, channel_id)
        _require_readable(ctx, channel)
        members = sorted(ctx.world.channel_members[channel.id].values(), key=lambda member: member.user_id)
        chosen = members[page * per_page : (page + 1) * per_page]
        return json_response([channel_member_json(member) for member in chosen])


async def pinned_posts(ctx: Ctx) -> web.StreamResponse:
    channel_id = ctx.id_param("channel_id")
    with ctx.world.lock:
        channel = _channel(ctx, channel_id)
        _require_readable(ctx, channel)
        pinned = [post for post in ctx.world.channel_posts[channel.id].live if post.is_pinned][::-1]
        shape = PostShape(viewer_id=ctx.user_id)
        return json_response(post_list_json(ctx.world, pinned, [], shape=shape, settings=ctx.settings))


# --- posts -----------------------------------------------------------------------------------------


def _since_subset(rows: list[Post], mode: str) -> list[Post]:
    """`LIMIT 1000` without an ORDER BY: an arbitrary subset of the changed rows when there are more."""
    if len(rows) <= SINCE_LIMIT:
        return rows
    if mode == "oldest":
        return rows[:SINCE_LIMIT]
    if mode == "newest":
        return rows[-SINCE_LIMIT:]
    step = (len(rows) - 1) / (SINCE_LIMIT - 1)
    return [rows[round(position * step)] for position in range(SINCE_LIMIT)]


def _newest_first(posts: list[Post]) -> list[Post]:
    return sorted(posts, key=lambda post: (post.create_at, post.id), reverse=True)


def _thread_context(
    world: World, page: list[Post], *, include_page_roots: bool, whole_threads: bool
) -> list[Post]:
    """The extra posts the server puts in `posts`: roots of replies, and whole threads unless skipped."""
    root_ids: dict[str, None] = {}
    for post in page:
        if post.root_id:
            root_ids[post.root_id] = None
        elif include_page_roots:
            root_ids[post.id] = None
    extra: list[Post] = []
    for root_id in root_ids:
        root = world.posts.get(root_id)
        if root is not None and not root.delete_at and root.channel_id == page[0].channel_id:
            extra.append(root)
        if whole_threads:
            extra.extend(reply for reply in world.replies.get(root_id, []) if not reply.delete_at)
    return extra


@dataclass(frozen=True, slots=True)
class _PostQuery:
    after: str
    before: str
    since: int
    page: int
    per_page: int
    skip_threads: bool
    collapsed: bool
    include_deleted: bool


@dataclass(frozen=True, slots=True)
class _PostPage:
    order: list[Post]
    extra: list[Post]
    with_counts: bool
    next_id: str = ""
    prev_id: str = ""


def _cursor_page(world: World, rows: list[Post], query: _PostQuery) -> _PostPage:
    """A page by offset or by a before/after cursor, with `AddCursorIdsForPostList`'s cursor ids."""
    after, before, page, per_page = query.after, query.before, query.page, query.per_page
    if after or before:
        cursor = world.posts.get(after or before)
        if cursor is None:
            order: list[Post] = []
        elif after:
            order = slice_after(rows, cursor.create_at, page, per_page)
        else:
            order = slice_before(rows, cursor.create_at, page, per_page)
    else:
        order = slice_page(rows, page, per_page)
    if query.collapsed or not order:
        extra: list[Post] = []
    else:
        extra = _thread_context(
            world, order, include_page_roots=bool(after or before), whole_threads=not query.skip_threads
        )
    newest_id = id_after(rows, order[0].create_at) if order else ""
    oldest_id = id_before(rows, order[-1].create_at) if order else ""
    if after:
        next_id = "" if len(order) < per_page else newest_id
        return _PostPage(order, extra, True, next_id, after if page == 0 else oldest_id)
    if before:
        prev_id = "" if len(order) < per_page else oldest_id
        return _PostPage(order, extra, True, before if page == 0 else newest_id, prev_id)
    return _PostPage(order, extra, query.skip_threads, newest_id, oldest_id)


def _post_query(ctx: Ctx) -> _PostQuery:
    """The parameters `getPostsForChannel` parses, validated in the server's order."""
    after, before = ctx.query("after"), ctx.query("before")
    if after and not is_valid_id(after):
        raise invalid_param("after")
    if before and not is_valid_id(before):
        raise invalid_param("before")
    since_raw = ctx.query("since")
    try:
        since = int(since_raw) if since_raw else 0
    except ValueError as error:
        raise invalid_param("since") from error
    query = _PostQuery(
        after=after,
        before=before,
        since=since,
        page=ctx.page(),
        per_page=ctx.per_page(),
        skip_threads=ctx.flag("skipFetchThreads"),
        collapsed=ctx.flag("collapsedThreads"),
        include_deleted=ctx.flag("include_deleted"),
    )
    if query.include_deleted and not _is_admin(ctx):
        raise forbidden()
    return query


async def channel_posts(ctx: Ctx) -> web.StreamResponse:
    """`GET /channels/{id}/posts`: since > after > before > plain page, with the server's cursor rules."""
    channel_id = ctx.id_param("channel_id")
    query = _post_query(ctx)
    world = ctx.world
    with world.lock:
        channel = _channel(ctx, channel_id)
        _require_readable(ctx, channel)
        headers: dict[str, str] = {}
        if query.since > 0:
            order, extra, counted = _posts_since(ctx, channel.id, query.since, collapsed=query.collapsed)
            result = _PostPage(order, extra, counted and query.skip_threads)
        else:
            etag = _etag(ctx, world.last_update_at(channel.id, roots_only=query.collapsed))
            if (cached := _not_modified(ctx, etag)) is not None:
                return cached
            headers["ETag"] = etag
            index = world.channel_posts[channel.id]
            if query.include_deleted:
                rows = [p for p in world.all_channel_rows(channel.id) if not query.collapsed or not p.root_id]
            else:
                rows = index.live_roots if query.collapsed else index.live
            result = _cursor_page(world, rows, query)
        shape = PostShape(
            with_reply_count=result.with_counts, collapsed_threads=query.collapsed, viewer_id=ctx.user_id
        )
        body = post_list_json(
            world,
            result.order,
            result.extra,
            shape=shape,
            settings=ctx.settings,
            next_post_id=result.next_id,
            prev_post_id=result.prev_id,
        )
        return json_response(body, headers=headers)


def _posts_since(
    ctx: Ctx, channel_id: str, since: int, *, collapsed: bool
) -> tuple[list[Post], list[Post], bool]:
    """Rows changed after `since` (deleted ones and edit-history copies included), capped at 1000."""
    world = ctx.world
    changed = world.posts_updated_since(channel_id, since)
    if collapsed:
        roots = [p for p in changed if not p.root_id and not p.delete_at]
        return _newest_first(roots)[:SINCE_LIMIT], [], False
    selected = _since_subset(changed, ctx.config.since_truncation)
    union: dict[str, Post] = {post.id: post for post in selected}
    for post in selected:
        root = world.posts.get(post.root_id) if post.root_id else None
        if root is not None:
            union.setdefault(root.id, root)
    everything = _newest_first(list(union.values()))
    order = [post for post in everything if post.update_at > since]
    extra = [post for post in everything if post.update_at <= since]
    return order, extra, True


async def get_post(ctx: Ctx) -> web.StreamResponse:
    post_id = ctx.id_param("post_id")
    if ctx.flag("include_deleted") and not _is_admin(ctx):
        raise forbidden()
    with ctx.world.lock:
        post = _live_post(ctx, post_id)
        _require_readable(ctx, _channel(ctx, post.channel_id))
        etag = _etag(ctx, post.id, post.update_at)
        if (cached := _not_modified(ctx, etag)) is not None:
            return cached
        data = post_json(ctx.world, post, PostShape(viewer_id=ctx.user_id), ctx.settings)
        return json_response(data, headers={"ETag": etag})


def _thread_options(ctx: Ctx) -> tuple[int, int, str, int, bool, str]:
    """Validates the thread paging parameters in the server's order; 400 on the first bad one."""
    per_page = 0
    if (raw := ctx.query("perPage")) != "":
        try:
            per_page = int(raw)
        except ValueError as error:
            raise invalid_param("perPage") from error
        if per_page > 200 or per_page < 0:
            raise invalid_param("perPage")
    from_create_at = 0
    if (raw := ctx.query("fromCreateAt")) != "":
        try:
            from_create_at = int(raw)
        except ValueError as error:
            raise invalid_param("fromCreateAt") from error
    from_post = ctx.query("fromPost")
    if from_post and from_create_at == 0:
        raise invalid_param("if fromPost is set, then fromCreateAt must also be set")
    from_update_at = 0
    if (raw := ctx.query("fromUpdateAt")) != "":
        try:
            from_update_at = int(raw)
        except ValueError as error:
            raise invalid_param("fromUpdateAt") from error
    if from_update_at and from_create_at:
        raise invalid_param("fromUpdateAt")
    updates_only = ctx.query("updatesOnly") == "true"
    if updates_only and not from_update_at:
        raise invalid_param("fromUpdateAt")
    direction = ctx.query("direction")
    if direction not in ("", "up", "down"):
        raise invalid_param("direction")
    if updates_only and direction == "up":
        raise invalid_param("updatesOnly")
    return per_page, from_create_at, from_post, from_update_at, updates_only, direction


def _thread_window(
    posts: list[Post], per_page: int, from_create_at: int, from_post: str, from_update_at: int, direction: str
) -> tuple[list[Post], bool]:
    """Tie-safe keyset paging over (create_at, id), fetching per_page + 1 to know `has_next`.

    As in the server, the cursor only goes forward for `direction=down`; any other value pages upwards.
    """
    if from_update_at:
        ordered = sorted(
            (p for p in posts if p.update_at > from_update_at), key=lambda p: (p.update_at, p.id)
        )
    else:
        ordered = sorted(posts, key=lambda post: (post.create_at, post.id), reverse=direction == "up")
    if from_create_at and direction == "down":
        ordered = [p for p in ordered if (p.create_at, p.id) > (from_create_at, from_post or "\uffff")]
    elif from_create_at:
        ordered = [p for p in ordered if (p.create_at, p.id) < (from_create_at, from_post)]
    if per_page and len(ordered) > per_page:
        return ordered[:per_page], True
    return ordered, False


async def post_thread(ctx: Ctx) -> web.StreamResponse:
    post_id = ctx.id_param("post_id")
    per_page, from_create_at, from_post, from_update_at, _updates_only, direction = _thread_options(ctx)
    collapsed = ctx.flag("collapsedThreads")
    skip_threads = ctx.query("skipFetchThreads") == "true"
    world = ctx.world
    with world.lock:
        post = _live_post(ctx, post_id)
        _require_readable(ctx, _channel(ctx, post.channel_id))
        has_next: bool | None = None
        order = [post]
        if collapsed:
            replies = [r for r in world.replies.get(post.id, []) if not r.delete_at]
            window, has_next = _thread_window(
                replies, per_page, from_create_at, from_post, from_update_at, direction
            )
            order += window
        elif not skip_threads:
            thread = world.thread_posts(post.root_id or post.id)
            window, has_next = _thread_window(
                thread, per_page, from_create_at, from_post, from_update_at, direction
            )
            order += [p for p in window if p.id != post.id]
        newest = max(p.update_at for p in order)
        etag = _etag(ctx, order[0].id, newest)
        if (cached := _not_modified(ctx, etag)) is not None:
            return cached
        shape = PostShape(collapsed_threads=collapsed, viewer_id=ctx.user_id)
        body = post_list_json(world, order, [], shape=shape, settings=ctx.settings, has_next=has_next)
        return json_response(body, headers={"ETag": etag})


async def posts_by_ids(ctx: Ctx) -> web.StreamResponse:
    ids = _json_array_of_ids(await ctx.request.read(), "post_ids")
    if not ids:
        raise invalid_param("post_ids")
    if len(ids) > POST_IDS_LIMIT:
        raise ApiError(400, "api.post.posts_by_ids.invalid_body.request_error")
    world = ctx.world
    with world.lock:
        found = [world.posts[pid] for pid in sorted(ids) if pid in world.posts]
        readable = [
            post
            for post in _newest_first(found)
            if world.can_read_channel(
                ctx.user_id, post.channel_id, view_archived=ctx.config.view_archived_channels
            )
        ]
        shape = PostShape(viewer_id=ctx.user_id)
        body = [post_json(world, post, shape, ctx.settings) for post in readable]
        return json_response(body, headers={"First-Inaccessible-Post-Time": "0"})


async def post_reactions(ctx: Ctx) -> web.StreamResponse:
    post_id = ctx.id_param("post_id")
    with ctx.world.lock:
        post = _live_post(ctx, post_id)
        _require_readable(ctx, _channel(ctx, post.channel_id))
        return json_response([reaction_json(reaction) for reaction in ctx.world.reactions.get(post.id, [])])


async def bulk_reactions(ctx: Ctx) -> web.StreamResponse:
    ids = _json_array_of_ids(await ctx.request.read(), "post_ids")
    world = ctx.world
    with world.lock:
        result: dict[str, list[dict[str, Any]]] = {}
        for post_id in ids:
            post = world.posts.get(post_id)
            if post is None or not world.can_read_channel(
                ctx.user_id, post.channel_id, view_archived=ctx.config.view_archived_channels
            ):
                raise forbidden()
            result[post_id] = [reaction_json(reaction) for reaction in world.reactions.get(post_id, [])]
        return json_response(result)


async def post_file_infos(ctx: Ctx) -> web.StreamResponse:
    post_id = ctx.id_param("post_id")
    if ctx.flag("include_deleted") and not _is_admin(ctx):
        raise forbidden()
    with ctx.world.lock:
        post = _live_post(ctx, post_id)
        _require_readable(ctx, _channel(ctx, post.channel_id))
        infos = [
            file_info_json(info)
            for file_id in post.file_ids
            if (info := ctx.world.files.get(file_id)) is not None and not info.delete_at
        ]
        return json_response(infos)


# --- files -----------------------------------------------------------------------------------------


def _file(ctx: Ctx) -> FileInfo:
    file_id = ctx.id_param("file_id")
    world = ctx.world
    with world.lock:
        info = world.files.get(file_id)
        if info is None or info.delete_at:
            raise ApiError(404, "app.file_info.get.app_error")
        readable = info.post_id in world.posts and world.can_read_channel(
            ctx.user_id, info.channel_id, view_archived=ctx.config.view_archived_channels
        )
        if info.user_id != ctx.user_id and not readable:
            raise forbidden()
        return info


def _path_escape(name: str) -> str:
    """Go's url.PathEscape: everything but unreserved characters and `$&+:=@` is percent-encoded."""
    from urllib.parse import quote

    return quote(name, safe="$&+:=@")


def _served_type(mime_type: str) -> str:
    if not mime_type:
        return "application/octet-stream"
    if mime_type.startswith(_UNSAFE_TYPES):
        return "text/plain"
    return mime_type


def _file_headers(name: str, mime_type: str, modified_ms: int, *, download: bool) -> dict[str, str]:
    served = _served_type(mime_type)
    disposition = "inline" if served in MEDIA_TYPES and not download else "attachment"
    escaped = _path_escape(name)
    return {
        "Content-Type": served,
        "Content-Disposition": f"{disposition};filename=\"{escaped}\"; filename*=UTF-8''{escaped}",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": "Frame-ancestors 'none'",
        "Cache-Control": "public, max-age=31536000, immutable",
        "Last-Modified": formatdate(modified_ms // 1000, usegmt=True),
        "Accept-Ranges": "bytes",
    }


def serve_bytes(request: web.Request, body: bytes, headers: dict[str, str], modified_ms: int) -> web.Response:
    """Like Go's http.ServeContent: If-Modified-Since → 304, a single `Range` → 206, bad range → 416."""
    since = request.headers.get("If-Modified-Since")
    if since:
        try:
            if parsedate_to_datetime(since).timestamp() >= modified_ms // 1000:
                return web.Response(status=304, headers={"Last-Modified": headers["Last-Modified"]})
        except (TypeError, ValueError):
            pass
    wanted = request.headers.get("Range", "")
    match = _RANGE.match(wanted.replace(" ", ""))
    if not wanted or match is None:
        return web.Response(body=body, headers=headers)
    first, last = match.groups()
    size = len(body)
    if first == "":
        start = max(0, size - int(last or 0))
        end = size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    if (first == "" and last == "") or start >= size or start > end:
        return web.Response(status=416, headers={"Content-Range": f"bytes */{size}", **headers})
    partial = {**headers, "Content-Range": f"bytes {start}-{end}/{size}"}
    return web.Response(status=206, body=body[start : end + 1], headers=partial)


async def get_file(ctx: Ctx) -> web.StreamResponse:
    info = _file(ctx)
    if not info.blob_present:
        raise ApiError(404, "api.file.file_reader.app_error")
    headers = _file_headers(info.name, info.mime_type, info.update_at, download=ctx.flag("download"))
    return serve_bytes(ctx.request, render(info.content), headers, info.update_at)


async def get_file_info(ctx: Ctx) -> web.StreamResponse:
    info = _file(ctx)
    with ctx.world.lock:
        return json_response(file_info_json(info))


def _preview_size(info: FileInfo, max_width: int, max_height: int) -> tuple[int, int]:
    scale = min(1.0, max_width / max(info.width, 1), max_height / max(info.height, 1))
    return max(1, round(info.width * scale)), max(1, round(info.height * scale))


async def get_file_thumbnail(ctx: Ctx) -> web.StreamResponse:
    info = _file(ctx)
    if not info.has_preview_image:
        raise ApiError(400, "api.file.get_file_thumbnail.no_thumbnail.app_error")
    width, height = _preview_size(info, 120, 100)
    headers = _file_headers(info.name, "image/jpeg", info.update_at, download=ctx.flag("download"))
    return serve_bytes(ctx.request, jpeg_mosaic(width, height, info.content.seed), headers, info.update_at)


async def get_file_preview(ctx: Ctx) -> web.StreamResponse:
    info = _file(ctx)
    if not info.has_preview_image:
        raise ApiError(400, "api.file.get_file_preview.no_preview.app_error")
    width, height = _preview_size(info, 1920, 1080)
    headers = _file_headers(info.name, "image/jpeg", info.update_at, download=ctx.flag("download"))
    return serve_bytes(ctx.request, jpeg_mosaic(width, height, info.content.seed), headers, info.update_at)


# --- emoji -----------------------------------------------------------------------------------------


def _require_emoji_enabled(ctx: Ctx) -> None:
    if not ctx.config.custom_emoji_enabled:
        raise ApiError(501, "api.emoji.disabled.app_error")


def _emoji(ctx: Ctx, emoji: Emoji | None) -> Emoji:
    if emoji is None or emoji.delete_at:
        raise ApiError(404, "app.emoji.get.no_result")
    return emoji


async def list_emoji(ctx: Ctx) -> web.StreamResponse:
    _require_emoji_enabled(ctx)
    page, per_page = ctx.page(), ctx.per_page()
    with ctx.world.lock:
        emojis = [emoji for emoji in ctx.world.emojis.values() if not emoji.delete_at]
        if ctx.query("sort") == "name":
            emojis.sort(key=lambda emoji: emoji.name)
        chosen = emojis[page * per_page : (page + 1) * per_page]
        return json_response([emoji_json(emoji) for emoji in chosen])


async def get_emoji(ctx: Ctx) -> web.StreamResponse:
    _require_emoji_enabled(ctx)
    emoji_id = ctx.id_param("emoji_id")
    with ctx.world.lock:
        return json_response(emoji_json(_emoji(ctx, ctx.world.emojis.get(emoji_id))))


async def get_emoji_by_name(ctx: Ctx) -> web.StreamResponse:
    _require_emoji_enabled(ctx)
    with ctx.world.lock:
        return json_response(emoji_json(_emoji(ctx, ctx.world.emoji_by_name(ctx.params["emoji_name"]))))


def _image_type(spec: BlobSpec) -> str:
    return "image/jpeg" if spec.kind == "jpeg" else "image/png"


async def get_emoji_image(ctx: Ctx) -> web.StreamResponse:
    _require_emoji_enabled(ctx)
    emoji_id = ctx.id_param("emoji_id")
    with ctx.world.lock:
        emoji = _emoji(ctx, ctx.world.emojis.get(emoji_id))
    headers = {"Content-Type": _image_type(emoji.image), "Cache-Control": "max-age=2592000, private"}
    return web.Response(body=render(emoji.image), headers=headers)


# --- the route table -------------------------------------------------------------------------------

ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v4/system/ping", system_ping, auth="none"),
    Route("GET", "/api/v4/config/client", client_config, auth="none"),
    Route("POST", "/api/v4/users/login", login, auth="none"),
    Route("POST", "/api/v4/users/logout", logout, auth="none"),
    Route("GET", "/api/v4/users", get_users),
    Route("POST", "/api/v4/users/ids", users_by_ids),
    Route("POST", "/api/v4/users/usernames", users_by_usernames),
    Route("GET", "/api/v4/users/{user_id}", get_user),
    Route("GET", "/api/v4/users/{user_id}/image", user_image, csrf=False),
    Route("GET", "/api/v4/users/{user_id}/image/default", user_default_image, csrf=False),
    Route("GET", "/api/v4/users/{user_id}/preferences", user_preferences),
    Route("GET", "/api/v4/users/{user_id}/teams", user_teams),
    Route("GET", "/api/v4/users/{user_id}/teams/members", user_team_members),
    Route("GET", "/api/v4/users/{user_id}/channels", user_channels),
    Route("GET", "/api/v4/users/{user_id}/channel_members", user_channel_members),
    Route("GET", "/api/v4/users/{user_id}/teams/{team_id}/channels", user_team_channels),
    Route("GET", "/api/v4/users/{user_id}/teams/{team_id}/channels/members", user_team_channel_members),
    Route("GET", "/api/v4/users/{user_id}/teams/{team_id}/channels/categories", user_team_categories),
    Route("GET", "/api/v4/teams/{team_id}", get_team),
    Route("GET", "/api/v4/channels/{channel_id}", get_channel),
    Route("GET", "/api/v4/channels/{channel_id}/members", channel_members),
    Route("GET", "/api/v4/channels/{channel_id}/posts", channel_posts),
    Route("GET", "/api/v4/channels/{channel_id}/pinned", pinned_posts),
    Route("POST", "/api/v4/posts/ids", posts_by_ids),
    Route("POST", "/api/v4/posts/ids/reactions", bulk_reactions),
    Route("GET", "/api/v4/posts/{post_id}", get_post),
    Route("GET", "/api/v4/posts/{post_id}/thread", post_thread),
    Route("GET", "/api/v4/posts/{post_id}/reactions", post_reactions),
    Route("GET", "/api/v4/posts/{post_id}/files/info", post_file_infos),
    Route("GET", "/api/v4/files/{file_id}", get_file, csrf=False),
    Route("GET", "/api/v4/files/{file_id}/info", get_file_info),
    Route("GET", "/api/v4/files/{file_id}/thumbnail", get_file_thumbnail, csrf=False),
    Route("GET", "/api/v4/files/{file_id}/preview", get_file_preview, csrf=False),
    Route("GET", "/api/v4/emoji", list_emoji),
    Route("GET", "/api/v4/emoji/{emoji_id}", get_emoji),
    Route("GET", "/api/v4/emoji/{emoji_id}/image", get_emoji_image),
    Route("GET", "/api/v4/emoji/name/{emoji_name}", get_emoji_by_name),
)

__all__ = ["ROUTES", "avatar_png", "serve_bytes"]
