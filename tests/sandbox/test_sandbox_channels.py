"""Teams, channel lists (streamed, archived, deleted teams, unknown types), members, categories, users."""

from __future__ import annotations

import json

import pytest
from sandbox_support import Api, assert_app_error, validate

from mmtakeout.sandbox.generator import SandboxSetup
from mmtakeout.sandbox.server import RunningSandbox, SandboxConfig


async def test_channel_list_is_streamed_and_hides_archived_unless_asked(
    api: Api, world_setup: SandboxSetup, served: RunningSandbox
) -> None:
    world, me = world_setup.world, world_setup.user_id
    reply = await api.get("/api/v4/users/me/channels")
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers.get("Transfer-Encoding") == "chunked"
    current = reply.json
    validate(current, "Channel", array=True)
    ids = [c["id"] for c in current]
    assert ids == sorted(ids), "streamed in id order"
    everything = await api.get_json("/api/v4/users/me/channels", include_deleted="true")
    expected = {c.id for c in world.visible_channels(me)}
    assert {c["id"] for c in everything} == expected
    hidden = {c["id"] for c in everything} - set(ids)
    deleted_team = next(t.id for t in world.teams.values() if t.delete_at)
    assert hidden == {c.id for c in world.visible_channels(me) if c.delete_at or c.team_id == deleted_team}
    assert any(c["type"] == "S" for c in everything), "a channel type the exporter does not know"
    not_member = {c.id for c in world.channels.values() if me not in world.channel_members[c.id]}
    assert not_member and not not_member & set(ids)
    since = max(c.delete_at for c in world.channels.values())
    recent = await api.get_json(
        "/api/v4/users/me/channels", include_deleted="true", last_delete_at=str(since)
    )
    assert all(c["delete_at"] in (0, since) for c in recent)
    other = next(u for u in world.users.values() if u.id != me)
    assert_app_error(
        await api.get(f"/api/v4/users/{other.id}/channels"), 403, "api.context.permissions.app_error"
    )


@pytest.mark.parametrize("server_config", [SandboxConfig(channel_list_fault=2)])
async def test_channel_list_can_fail_mid_stream(api: Api) -> None:
    reply = await api.get("/api/v4/users/me/channels", include_deleted="true")
    assert reply.status == 200
    text = reply.body.decode()
    assert text.startswith("[{") and not text.rstrip().endswith("]")
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    assert '"id":"api.channel.get_channels_for_user.app_error"' in text


async def test_team_channels_include_direct_messages_and_members(api: Api, world_setup: SandboxSetup) -> None:
    world, me = world_setup.world, world_setup.user_id
    teams = await api.get_json("/api/v4/users/me/teams")
    validate(teams, "Team", array=True)
    assert {t["id"] for t in teams} == set(world.user_team_ids(me))
    members = await api.get_json("/api/v4/users/me/teams/members")
    validate(members, "TeamMember", array=True)
    alpha = next(t for t in teams if t["name"] == "alpha")
    channels = await api.get_json(f"/api/v4/users/me/teams/{alpha['id']}/channels", include_deleted="true")
    validate(channels, "Channel", array=True)
    types = {c["type"] for c in channels}
    assert {"O", "P", "D", "G"} <= types
    assert {c["team_id"] for c in channels} == {alpha["id"], ""}
    names = [c["display_name"] for c in channels]
    assert names == sorted(names)
    channel_members = await api.get_json(f"/api/v4/users/me/teams/{alpha['id']}/channels/members")
    validate(channel_members, "ChannelMember", array=True)
    assert {m["channel_id"] for m in channel_members} == {c["id"] for c in channels}
    gamma = next(t for t in world.teams.values() if t.name == "gamma")
    assert_app_error(
        await api.get(f"/api/v4/users/me/teams/{gamma.id}/channels"), 403, "api.context.permissions.app_error"
    )
    everything = await api.get_json("/api/v4/users/me/channel_members", per_page="200")
    assert {m["channel_id"] for m in everything} == {c.id for c in world.visible_channels(me)}


async def test_categories_are_one_object_with_favorites(api: Api, world_setup: SandboxSetup) -> None:
    world, me = world_setup.world, world_setup.user_id
    alpha = next(t for t in world.teams.values() if t.name == "alpha")
    categories = await api.get_json(f"/api/v4/users/me/teams/{alpha.id}/channels/categories")
    validate(categories, "OrderedSidebarCategories")
    by_type = {c["type"]: c for c in categories["categories"]}
    assert set(by_type) == {"favorites", "custom", "channels", "direct_messages"}
    assert by_type["favorites"]["channel_ids"] == world.favorites[me]
    assert categories["order"] == [c["id"] for c in categories["categories"]]
    preferences = await api.get_json("/api/v4/users/me/preferences")
    favorites = [p["name"] for p in preferences if p["category"] == "favorite_channel"]
    assert favorites == world.favorites[me]


async def test_channel_reads_follow_permissions(api: Api, world_setup: SandboxSetup) -> None:
    world, me = world_setup.world, world_setup.user_id
    lurkers = next(c for c in world.channels.values() if c.name == "lurkers")
    assert me not in world.channel_members[lurkers.id]
    assert (await api.get(f"/api/v4/channels/{lurkers.id}")).status == 200, "public channels of my team"
    assert (await api.get(f"/api/v4/channels/{lurkers.id}/posts")).status == 200
    for name in ("not-for-alice", "town-square"):
        locked = next(
            c for c in world.channels.values() if c.name == name and not world.can_read_channel(me, c.id)
        )
        reply = await api.get(f"/api/v4/channels/{locked.id}/posts")
        assert_app_error(reply, 403, "api.context.permissions.app_error")
    dm = next(c for c in world.channels.values() if c.type == "D" and me not in c.name)
    assert_app_error(await api.get(f"/api/v4/channels/{dm.id}"), 403, "api.context.permissions.app_error")
    assert_app_error(
        await api.get("/api/v4/channels/tooshort"), 400, "api.context.invalid_url_param.app_error"
    )
    gm = next(c for c in world.visible_channels(me) if c.type == "G")
    members = await api.get_json(f"/api/v4/channels/{gm.id}/members")
    validate(members, "ChannelMember", array=True)
    assert sorted(m["user_id"] for m in members) == world.channel_member_ids(gm.id)
    users = await api.get_json("/api/v4/users", in_channel=gm.id, per_page="200")
    validate(users, "User", array=True)
    assert sorted(u["id"] for u in users) == world.channel_member_ids(gm.id)


async def test_archived_channels_are_readable_by_default(api: Api, world_setup: SandboxSetup) -> None:
    archived = next(c for c in world_setup.world.visible_channels(world_setup.user_id) if c.delete_at)
    page = await api.get_json(f"/api/v4/channels/{archived.id}/posts")
    assert page["order"]
    assert (await api.get("/api/v4/users", in_channel=archived.id)).status == 200


@pytest.mark.parametrize("server_config", [SandboxConfig(view_archived_channels=False)])
async def test_archived_channels_can_be_locked(api: Api, world_setup: SandboxSetup) -> None:
    archived = next(c for c in world_setup.world.visible_channels(world_setup.user_id) if c.delete_at)
    listed = await api.get_json("/api/v4/users/me/channels", include_deleted="true")
    assert archived.id in {c["id"] for c in listed}
    assert_app_error(
        await api.get(f"/api/v4/channels/{archived.id}/posts"), 403, "api.context.permissions.app_error"
    )
    assert_app_error(
        await api.get("/api/v4/users", in_channel=archived.id),
        403,
        "api.user.view_archived_channels.get_users_in_channel.app_error",
    )


async def test_users_are_sanitized_for_others_but_not_for_me(api: Api, world_setup: SandboxSetup) -> None:
    world, me = world_setup.world, world_setup.user_id
    mine = await api.get_json("/api/v4/users/me")
    validate(mine, "User")
    assert mine["id"] == me and mine["email"] and "notify_props" in mine
    everyone = list(world.users)
    users = (await api.post_json("/api/v4/users/ids", [*everyone, "u" * 26])).json
    validate(users, "User", array=True)
    assert {u["id"] for u in users} == set(everyone)
    others = [u for u in users if u["id"] != me]
    assert all(u["email"] == "" and "notify_props" not in u for u in others)
    assert any(u["first_name"] for u in others), "full names are shown by default"
    deactivated = next(u for u in users if u["username"] == "heidi")
    assert deactivated["delete_at"] > 0
    bot = next(u for u in users if u["username"] == "sandbox-bot")
    assert bot["is_bot"] is True and bot["bot_description"]
    newest = max(u.update_at for u in world.users.values())
    assert (
        await api.request("POST", "/api/v4/users/ids", params={"since": str(newest)}, body=everyone)
    ).json == []
    assert_app_error(await api.post_json("/api/v4/users/ids", []), 400, "api.context.invalid_param.app_error")
    other = await api.get_json(f"/api/v4/users/{others[0]['id']}")
    assert other == others[0]
    assert_app_error(await api.get("/api/v4/users/" + "u" * 26), 404, "app.user.missing_account.const")


@pytest.mark.parametrize("server_config", [SandboxConfig(show_email=True, show_full_name=False)])
async def test_privacy_settings_change_what_others_see(api: Api, world_setup: SandboxSetup) -> None:
    bob = world_setup.world.user_by_name("bob")
    shown = await api.get_json(f"/api/v4/users/{bob.id}")
    assert shown["email"] == bob.email and shown["first_name"] == "" and shown["last_name"] == ""
    mine = await api.get_json("/api/v4/users/me")
    assert mine["first_name"] == "Alice"


async def test_user_etag_and_team(api: Api, world_setup: SandboxSetup) -> None:
    first = await api.get("/api/v4/users/me")
    etag = first.headers["ETag"]
    cached = await api.request("GET", "/api/v4/users/me", headers={"If-None-Match": etag})
    assert cached.status == 304
    alpha = next(t for t in world_setup.world.teams.values() if t.name == "alpha")
    validate(await api.get_json(f"/api/v4/teams/{alpha.id}"), "Team")
    gamma = next(t for t in world_setup.world.teams.values() if t.name == "gamma")
    assert_app_error(await api.get(f"/api/v4/teams/{gamma.id}"), 403, "api.context.permissions.app_error")
