"""Every sandbox route's response against the strict schemas, so the sandbox cannot drift from the server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pytest
from sandbox_support import Api, validate

from mmtakeout.sandbox.generator import PASSWORD, SandboxSetup
from mmtakeout.sandbox.schemas import DEFINITIONS, SCHEMA_NAMES, schema_for
from mmtakeout.sandbox.server import api_routes


@dataclass
class Sample:
    path: str
    schema: str | None
    array: bool = False
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    content_type: str = "application/json"


def samples(setup: SandboxSetup) -> dict[tuple[str, str], Sample]:
    world, me = setup.world, setup.user_id
    alpha = next(t for t in world.teams.values() if t.name == "alpha").id
    town = next(c for c in world.channels.values() if c.name == "town-square" and c.team_id == alpha)
    gm = next(c for c in world.visible_channels(me) if c.type == "G")
    post = next(p for p in world.posts_in_channel(town.id) if p.file_ids and p.has_reactions is False)
    reacted = next(p for p in world.posts_in_channel(town.id) if p.has_reactions)
    image = next(f for f in world.files.values() if f.has_preview_image and not f.delete_at)
    emoji = next(e for e in world.emojis.values() if not e.delete_at)
    users = "/api/v4/users"
    return {
        ("GET", "/api/v4/system/ping"): Sample("/api/v4/system/ping", None),
        ("GET", "/api/v4/config/client"): Sample("/api/v4/config/client", None, params={"format": "old"}),
        ("POST", "/api/v4/users/login"): Sample(
            f"{users}/login", "User", body={"login_id": "alice", "password": PASSWORD}
        ),
        ("POST", "/api/v4/users/logout"): Sample(f"{users}/logout", None),
        ("GET", "/api/v4/users"): Sample(users, "User", array=True, params={"in_team": alpha}),
        ("POST", "/api/v4/users/ids"): Sample(f"{users}/ids", "User", array=True, body=list(world.users)),
        ("POST", "/api/v4/users/usernames"): Sample(f"{users}/usernames", "User", array=True, body=["bob"]),
        ("GET", "/api/v4/users/{user_id}"): Sample(f"{users}/me", "User"),
        ("GET", "/api/v4/users/{user_id}/image"): Sample(f"{users}/me/image", None, content_type="image/png"),
        ("GET", "/api/v4/users/{user_id}/image/default"): Sample(
            f"{users}/me/image/default", None, content_type="image/png"
        ),
        ("GET", "/api/v4/users/{user_id}/preferences"): Sample(f"{users}/me/preferences", None),
        ("GET", "/api/v4/users/{user_id}/teams"): Sample(f"{users}/me/teams", "Team", array=True),
        ("GET", "/api/v4/users/{user_id}/teams/members"): Sample(
            f"{users}/me/teams/members", "TeamMember", array=True
        ),
        ("GET", "/api/v4/users/{user_id}/channels"): Sample(
            f"{users}/me/channels", "Channel", array=True, params={"include_deleted": "true"}
        ),
        ("GET", "/api/v4/users/{user_id}/channel_members"): Sample(
            f"{users}/me/channel_members", "ChannelMember", array=True
        ),
        ("GET", "/api/v4/users/{user_id}/teams/{team_id}/channels"): Sample(
            f"{users}/me/teams/{alpha}/channels", "Channel", array=True
        ),
        ("GET", "/api/v4/users/{user_id}/teams/{team_id}/channels/members"): Sample(
            f"{users}/me/teams/{alpha}/channels/members", "ChannelMember", array=True
        ),
        ("GET", "/api/v4/users/{user_id}/teams/{team_id}/channels/categories"): Sample(
            f"{users}/me/teams/{alpha}/channels/categories", "OrderedSidebarCategories"
        ),
        ("GET", "/api/v4/teams/{team_id}"): Sample(f"/api/v4/teams/{alpha}", "Team"),
        ("GET", "/api/v4/channels/{channel_id}"): Sample(f"/api/v4/channels/{town.id}", "Channel"),
        ("GET", "/api/v4/channels/{channel_id}/members"): Sample(
            f"/api/v4/channels/{gm.id}/members", "ChannelMember", array=True
        ),
        ("GET", "/api/v4/channels/{channel_id}/posts"): Sample(
            f"/api/v4/channels/{town.id}/posts", "PostList", params={"per_page": "200"}
        ),
        ("GET", "/api/v4/channels/{channel_id}/pinned"): Sample(
            f"/api/v4/channels/{town.id}/pinned", "PostList"
        ),
        ("POST", "/api/v4/posts/ids"): Sample(
            "/api/v4/posts/ids", "Post", array=True, body=[p.id for p in world.posts_in_channel(town.id)]
        ),
        ("POST", "/api/v4/posts/ids/reactions"): Sample(
            "/api/v4/posts/ids/reactions", None, body=[reacted.id]
        ),
        ("GET", "/api/v4/posts/{post_id}"): Sample(f"/api/v4/posts/{post.id}", "Post"),
        ("GET", "/api/v4/posts/{post_id}/thread"): Sample(f"/api/v4/posts/{reacted.id}/thread", "PostList"),
        ("GET", "/api/v4/posts/{post_id}/reactions"): Sample(
            f"/api/v4/posts/{reacted.id}/reactions", "Reaction", array=True
        ),
        ("GET", "/api/v4/posts/{post_id}/files/info"): Sample(
            f"/api/v4/posts/{post.id}/files/info", "FileInfo", array=True
        ),
        ("GET", "/api/v4/files/{file_id}"): Sample(
            f"/api/v4/files/{image.id}", None, content_type=image.mime_type
        ),
        ("GET", "/api/v4/files/{file_id}/info"): Sample(f"/api/v4/files/{image.id}/info", "FileInfo"),
        ("GET", "/api/v4/files/{file_id}/thumbnail"): Sample(
            f"/api/v4/files/{image.id}/thumbnail", None, content_type="image/jpeg"
        ),
        ("GET", "/api/v4/files/{file_id}/preview"): Sample(
            f"/api/v4/files/{image.id}/preview", None, content_type="image/jpeg"
        ),
        ("GET", "/api/v4/emoji"): Sample("/api/v4/emoji", "Emoji", array=True),
        ("GET", "/api/v4/emoji/{emoji_id}"): Sample(f"/api/v4/emoji/{emoji.id}", "Emoji"),
        ("GET", "/api/v4/emoji/{emoji_id}/image"): Sample(
            f"/api/v4/emoji/{emoji.id}/image", None, content_type="image/png"
        ),
        ("GET", "/api/v4/emoji/name/{emoji_name}"): Sample(f"/api/v4/emoji/name/{emoji.name}", "Emoji"),
    }


async def test_every_route_answers_with_its_schema(api: Api, world_setup: SandboxSetup) -> None:
    table = samples(world_setup)
    assert set(table) == set(api_routes()), "every route needs a sample here"
    logout_last = sorted(table.items(), key=lambda item: item[0][1] == "/api/v4/users/logout")
    for (method, template), sample in logout_last:
        reply = await api.request(method, sample.path, params=sample.params or None, body=sample.body)
        assert reply.status == 200, (template, reply.status, reply.body[:200])
        assert reply.headers["Content-Type"] == sample.content_type, template
        assert reply.headers["X-Request-ID"] and reply.headers["X-Version-Id"], template
        if sample.content_type != "application/json":
            assert reply.body, template
            continue
        body = reply.json
        if sample.schema is not None:
            if sample.array:
                assert body, f"{template} should return something to validate"
            validate(body, sample.schema, array=sample.array)
        elif template == "/api/v4/posts/ids/reactions":
            for reactions in body.values():
                validate(reactions, "Reaction", array=True)
        elif template == "/api/v4/system/ping":
            assert body["status"] == "OK"


def test_schemas_are_valid_and_strict() -> None:
    jsonschema.Draft202012Validator.check_schema(schema_for(SCHEMA_NAMES[0]))
    for name in SCHEMA_NAMES:
        assert schema_for(name, array=True)["items"] == {"$ref": f"#/$defs/{name}"}
    post_required = set(DEFINITIONS["Post"]["required"])
    assert {
        "hashtags",
        "file_ids",
        "reply_count",
        "last_reply_at",
        "participants",
        "is_pinned",
    } <= post_required
    assert "metadata" not in post_required and "has_reactions" not in post_required
    list_required = set(DEFINITIONS["PostList"]["required"])
    assert list_required == {"order", "posts", "next_post_id", "prev_post_id", "first_inaccessible_post_time"}


@pytest.mark.parametrize(
    ("name", "broken"),
    [
        ("Post", {"hashtag": ""}),
        ("Post", {"file_ids": [1]}),
        ("PostList", {"first_inaccessible_post_time": None}),
        ("Channel", {"scheme_id": 5}),
        ("AppError", {"detailed_error": None}),
    ],
)
async def test_schemas_reject_known_spec_bugs(
    api: Api, world_setup: SandboxSetup, name: str, broken: dict[str, Any]
) -> None:
    world = world_setup.world
    town = next(c for c in world.channels.values() if c.name == "town-square" and c.team_id)
    page = await api.get_json(f"/api/v4/channels/{town.id}/posts", per_page="3")
    examples = {
        "Post": next(iter(page["posts"].values())),
        "PostList": page,
        "Channel": await api.get_json(f"/api/v4/channels/{town.id}"),
        "AppError": (await api.get("/api/v4/nowhere")).json,
    }
    good = examples[name]
    validate(good, name)
    with pytest.raises(jsonschema.ValidationError):
        validate({**good, **broken}, name)
    missing = dict(good)
    missing.pop(DEFINITIONS[name]["required"][0])
    with pytest.raises(jsonschema.ValidationError):
        validate(missing, name)
