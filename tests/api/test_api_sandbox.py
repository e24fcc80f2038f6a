"""The client against the sandbox server: every endpoint method on a realistic world, faults, limits."""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from api_scripted_server import assert_token_hidden

from mmtakeout.api import (
    AuthenticationError,
    BadResponse,
    FeatureDisabled,
    MattermostClient,
    Post,
)
from mmtakeout.sandbox.generator import SandboxSetup, generate_world
from mmtakeout.sandbox.server import RunningSandbox, SandboxConfig, running_sandbox

ALL_FAULTS = ("500", "502", "503", "reset", "truncate")


@pytest.fixture
def world_setup() -> SandboxSetup:
    return generate_world(seed=5, posts=600)


@pytest.fixture
def config() -> SandboxConfig:
    return SandboxConfig()


@pytest.fixture
async def served(world_setup: SandboxSetup, config: SandboxConfig) -> AsyncIterator[RunningSandbox]:
    async with running_sandbox(world_setup.world, config) as running:
        yield running


def fast_client(served: RunningSandbox, token: str, **options: object) -> MattermostClient:
    settings: dict[str, object] = {"backoff_base": 0.01, "backoff_cap": 0.05}
    settings.update(options)
    return MattermostClient(served.url, token, **settings)  # type: ignore[arg-type]


async def walk_channel(client: MattermostClient, channel_id: str) -> dict[str, Post]:
    """Anchored offset paging (tie-safe): anchor on the newest post, then before=anchor&page=k."""
    first = await client.get_posts(channel_id, per_page=200)
    posts = dict(first.posts)
    if len(first.order) < 200:
        return posts
    anchor, page = first.order[0], 0
    while True:
        result = await client.get_posts(channel_id, before=anchor, page=page, per_page=200)
        posts.update(result.posts)
        if len(result.order) < 200:
            return posts
        page += 1


async def test_every_read_method_against_the_sandbox(
    served: RunningSandbox, world_setup: SandboxSetup, tmp_path: Path
) -> None:
    world = served.world
    me_id = world_setup.user_id
    async with fast_client(served, world_setup.token) as client:
        ping = await client.ping()
        assert ping.status == "OK"
        assert ping.server_version and ping.server_version.startswith("9.11.0")

        me = await client.get_me()
        assert me.id == me_id
        teams = await client.get_my_teams()
        assert {team.id for team in teams} == set(world.user_team_ids(me_id))

        channels = await client.get_my_channels()
        assert {channel.id for channel in channels} == {c.id for c in world.visible_channels(me_id)}
        assert any(not channel.is_chat for channel in channels)
        assert any(channel.is_archived for channel in channels)

        for team in teams:
            categories = await client.get_sidebar_categories(team.id)
            assert categories.categories
            members = await client.get_my_team_channel_members(team.id)
            assert all(member.user_id == me_id for member in members)

        chat = [
            channel for channel in channels if channel.is_chat and world.can_read_channel(me_id, channel.id)
        ]
        busiest = max(chat, key=lambda channel: len(world.posts_in_channel(channel.id)))
        assert (await client.get_channel(busiest.id)).name == busiest.name
        posts = await walk_channel(client, busiest.id)
        expected = {post.id for post in world.posts_in_channel(busiest.id)}
        assert expected <= set(posts)

        member_ids = {member.user_id for member in await client.get_channel_members(busiest.id)}
        assert member_ids == set(world.channel_member_ids(busiest.id))
        in_channel = await client.get_users_in_channel(busiest.id)
        assert {user.id for user in in_channel} == member_ids

        users = await client.get_users_by_ids([post.user_id for post in posts.values()])
        assert {user.id for user in users} == {post.user_id for post in posts.values()}

        sample = sorted(posts)[:50]
        by_ids = await client.get_posts_by_ids(sample)
        assert {post.id for post in by_ids} == set(sample)
        reactions = await client.get_reactions_for_posts(sample)
        for post_id in sample:
            assert len(reactions.get(post_id, ())) == len(world.reactions_for(post_id))

        root = max(
            (post for post in posts.values() if not post.root_id),
            key=lambda post: len(world.thread_posts(post.id)),
        )
        whole = await client.get_post_thread(root.id)
        paged: set[str] = set()
        async for page in client.iter_thread(root.id, per_page=2):
            paged.update(page.posts)
        assert set(whole.posts) == paged == {post.id for post in world.thread_posts(root.id)}

        emoji = await client.list_custom_emoji()
        assert emoji
        saved_emoji = await client.download_emoji_image(emoji[0].id, tmp_path / "emoji" / emoji[0].id)
        assert saved_emoji.size > 0

        with_file = next(post for post in world.readable_posts(me_id) if post.file_ids)
        file_id = with_file.file_ids[0]
        info = await client.get_file_info(file_id)
        saved = await client.download_file(file_id, tmp_path / "files" / file_id)
        assert saved.size == info.size
        assert saved.sha256 == hashlib.sha256(world.file_bytes(file_id)).hexdigest()
        if info.has_preview_image:
            assert await client.download_file_thumbnail(file_id, tmp_path / "t.jpg") is not None
        else:
            assert await client.download_file_thumbnail(file_id, tmp_path / "t.jpg") is None

        avatar = await client.download_user_image(me_id, tmp_path / "me.png")
        again = await client.download_user_image(me_id, tmp_path / "me2.png", etag=avatar.etag)
        assert avatar.etag is not None and again.not_modified


@pytest.mark.parametrize("config", [SandboxConfig(fault_rate=0.25, fault_kinds=ALL_FAULTS, fault_seed=4)])
async def test_injected_faults_are_retried_without_losing_posts(
    served: RunningSandbox, world_setup: SandboxSetup
) -> None:
    me_id = world_setup.user_id
    world = served.world
    async with fast_client(served, world_setup.token, max_retries=8) as client:
        channels = [
            channel
            for channel in await client.get_my_channels()
            if channel.is_chat and world.can_read_channel(me_id, channel.id)
        ]
        for channel in channels:
            posts = await walk_channel(client, channel.id)
            assert {post.id for post in world.posts_in_channel(channel.id)} <= set(posts)
    assert client.stats.retries >= 5
    faulted = [record for record in served.requests if record.status >= 500 or record.status == 0]
    assert faulted


@pytest.mark.parametrize("config", [SandboxConfig(channel_list_fault=3)])
async def test_channel_list_cut_mid_stream_is_a_clear_error(
    served: RunningSandbox, world_setup: SandboxSetup
) -> None:
    async with fast_client(served, world_setup.token, max_retries=2) as client:
        with pytest.raises(BadResponse, match="invalid JSON") as caught:
            await client.get_my_channels()
    assert len([r for r in served.requests if r.route.endswith("/channels") and "users" in r.route]) == 3
    assert_token_hidden(caught.value)


@pytest.mark.parametrize("config", [SandboxConfig(rate_limit_per_s=40, rate_burst=40)])
async def test_sandbox_rate_limit_is_followed_without_failures(
    served: RunningSandbox, world_setup: SandboxSetup
) -> None:
    async with fast_client(served, world_setup.token, max_retries=0) as client:
        started = time.monotonic()
        channels = [channel for channel in await client.get_my_channels() if channel.is_chat]
        done = 0
        while time.monotonic() - started < 3:
            await client.get_channel(channels[done % len(channels)].id)
            done += 1
        elapsed = time.monotonic() - started
    refused = sum(1 for record in served.requests if record.status == 429)
    answered = sum(1 for record in served.requests if record.status == 200)
    assert refused <= 3
    assert answered >= 0.85 * (41 + 40 * elapsed)


@pytest.mark.parametrize("config", [SandboxConfig(custom_emoji_enabled=False)])
async def test_emoji_switched_off_on_the_sandbox(served: RunningSandbox, world_setup: SandboxSetup) -> None:
    async with fast_client(served, world_setup.token) as client:
        with pytest.raises(FeatureDisabled) as caught:
            await client.list_custom_emoji()
    assert caught.value.error_id == "api.emoji.disabled.app_error"


async def test_expired_session_on_the_sandbox(served: RunningSandbox, world_setup: SandboxSetup) -> None:
    async with fast_client(served, world_setup.token) as client:
        await client.get_me()
        served.call(lambda: served.world.expire_token(world_setup.token))
        with pytest.raises(AuthenticationError) as caught:
            await client.get_my_teams()
    assert caught.value.error_id == "api.context.session_expired.app_error"
    assert_token_hidden(caught.value, client)
