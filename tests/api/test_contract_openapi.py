"""Contract: every request the client (and a whole export) makes is one the OpenAPI spec documents.

Method, path template and query parameter names are checked against the vendored
`mattermost-openapi-v4.yaml` (plus the allow-list of real but undocumented parameters) with the
sandbox's checker; the requests are taken from the sandbox's own request log.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mmtakeout.api import MattermostClient
from mmtakeout.sandbox.context import RequestRecord
from mmtakeout.sandbox.generator import generate_world
from mmtakeout.sandbox.openapi_check import SpecNotFound, check_request, find_spec_path
from mmtakeout.sandbox.server import SandboxConfig, running_sandbox
from mmtakeout.sync import ExportOptions, export_archive

try:
    find_spec_path()
except SpecNotFound:  # pragma: no cover - the file is part of the shared reference material
    pytest.skip("the vendored OpenAPI file is not available", allow_module_level=True)


def contract_problems(records: list[RequestRecord]) -> list[str]:
    problems: dict[str, None] = {}
    for record in records:
        for problem in check_request(record.method, record.path, record.query_names):
            problems[problem] = None
    return list(problems)


def test_checker_catches_an_undocumented_request() -> None:
    """The check can fail: a made-up path and a made-up parameter are reported."""
    assert check_request("GET", "/api/v4/users/me/everything")
    assert check_request("GET", "/api/v4/channels/7wu1s4xd9fgwmk3tn5h8oqd1nh/posts", ["sneaky"])
    assert not check_request("GET", "/api/v4/channels/7wu1s4xd9fgwmk3tn5h8oqd1nh/posts", ["skipFetchThreads"])


async def test_every_client_method_makes_documented_requests(tmp_path: Path) -> None:
    setup = generate_world(seed=9, posts=300)
    world = setup.world
    async with (
        running_sandbox(world, SandboxConfig()) as served,
        MattermostClient(served.url, setup.token) as client,
    ):
        await client.ping()
        me = await client.get_me()
        for team in await client.get_my_teams():
            await client.get_sidebar_categories(team.id)
            await client.get_my_team_channel_members(team.id)
            await client.get_my_team_channels(team.id)
        channels = [channel for channel in await client.get_my_channels() if channel.is_chat]
        channel = channels[0]
        await client.get_channel(channel.id)
        await client.get_channel_members(channel.id)
        await client.get_users_in_channel(channel.id)
        first = await client.get_posts(channel.id)
        newest = first.order[0]
        await client.get_posts(channel.id, before=newest, page=1)
        await client.get_posts(channel.id, after=first.order[-1])
        await client.get_posts(channel.id, since=0)
        await client.get_post_thread(newest)
        async for _ in client.iter_thread(newest, per_page=1):
            pass
        await client.get_posts_by_ids(first.order)
        await client.get_reactions_for_posts(first.order)
        await client.get_users_by_ids([me.id])
        emoji = await client.list_custom_emoji()
        await client.download_emoji_image(emoji[0].id, tmp_path / "emoji")
        post = next(post for post in world.readable_posts(me.id) if post.file_ids)
        await client.get_file_info(post.file_ids[0])
        await client.download_file(post.file_ids[0], tmp_path / "file")
        await client.download_file_thumbnail(post.file_ids[0], tmp_path / "thumb")
        await client.download_file_preview(post.file_ids[0], tmp_path / "preview")
        await client.download_user_image(me.id, tmp_path / "avatar")
        records = list(served.requests)
    routes = {(record.method, record.route) for record in records}
    assert len(routes) >= 20
    assert contract_problems(records) == []


@pytest.mark.slow
async def test_a_whole_export_makes_only_documented_requests(tmp_path: Path) -> None:
    setup = generate_world(seed=9, posts=400)
    async with running_sandbox(setup.world, SandboxConfig()) as served:
        result = await export_archive(served.url, setup.token, tmp_path / "archive", ExportOptions())
        first_run = list(served.requests)
        setup.world.create_post(first_run_channel(first_run), setup.user_id, "one more after the export")
        await export_archive(served.url, setup.token, tmp_path / "archive", ExportOptions())
        records = list(served.requests)
    assert result.status in ("complete", "incomplete")
    assert len(records) > len(first_run) > 20
    assert contract_problems(records) == []


def first_run_channel(records: list[RequestRecord]) -> str:
    """A channel the export read posts from (so the second run has something new to find)."""
    for record in records:
        if record.route == "/api/v4/channels/{channel_id}/posts" and record.status == 200:
            return record.path.split("/")[4]
    raise AssertionError("the export read no channel")
