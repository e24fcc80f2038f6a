"""Full and incremental exports of the hand-built scenario world over real HTTP, checked against its truth."""

from __future__ import annotations

from pathlib import Path

import pytest

from export_checks import (
    archived_posts,
    assert_files_intact,
    assert_matches_world,
    assert_nothing_outside,
    export_now,
    query,
)
from mmtakeout.sandbox.server import RunningSandbox, SandboxConfig
from mmtakeout.sync import ProgressSnapshot
from sandbox_worlds import HOSTILE_FILE_NAMES, Scenario

POSTS_ROUTE = ("GET", "/api/v4/channels/{channel_id}/posts")


def test_full_export_holds_everything_the_user_can_see(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    snapshots: list[ProgressSnapshot] = []
    result = export_now(scenario_sandbox.url, scenario.token, archive, progress=snapshots.append)
    assert (result.status, result.problems) == ("complete", [])
    world = scenario.world
    assert_matches_world(archive, world)
    assert set(scenario.channel_ids) == {row[0] for row in query(archive, "SELECT id FROM channels")}

    burst = query(archive, "SELECT count(*) FROM posts WHERE create_at = ?", scenario.burst_time)
    assert burst == [(260,)], "posts sharing one millisecond across a page boundary"
    types = dict(query(archive, "SELECT id, type FROM channels"))
    assert types[scenario.self_dm] == "D" and types[scenario.gm] == "G"
    assert query(archive, "SELECT delete_at > 0 FROM channels WHERE id = ?", scenario.archived) == [(1,)]
    assert {row[0] for row in query(archive, "SELECT type FROM posts")} >= {
        "",
        "system_add_to_channel",
        "burn_on_read",
    }

    members = set(query(archive, "SELECT channel_id, user_id FROM channel_members"))
    assert {(scenario.gm, u) for u in (scenario.me, scenario.bob, scenario.carol)} <= members
    assert (scenario.self_dm, scenario.me) in members and (scenario.dm_dave, scenario.dave) in members
    users = {row[0]: row[1:] for row in query(archive, "SELECT id, username, is_bot, delete_at FROM users")}
    assert users[scenario.bot][1] == 1
    assert users[scenario.dave][2] > 0, "deactivated users are kept, marked"
    assert scenario.carol in users, "users named by system posts are fetched"
    avatars = query(archive, "SELECT count(*) FROM users WHERE avatar_path IS NOT NULL")
    assert avatars == [(len(users),)]

    edited = query(archive, "SELECT message, edit_at > 0 FROM posts WHERE id = ?", scenario.edited_post)
    assert edited == [("second version", 1)]
    assert query(archive, "SELECT count(*) FROM post_history") == [(0,)], "servers blank history copies"
    emoji = query(archive, "SELECT name, path FROM emoji ORDER BY name")
    assert [name for name, _ in emoji] == ["partyparrot", "shipit"]
    assert all(path and (archive / path).is_file() for _, path in emoji)

    assert assert_files_intact(archive, world) == query(archive, "SELECT count(*) FROM files")[0][0]
    assert not (archive / "report.txt").exists()
    percents = [s.percent for s in snapshots]
    assert percents == sorted(percents) and percents[-1] == 100.0
    assert snapshots[-1].channels_done == snapshots[-1].channels_total == len(scenario.channel_ids)
    assert snapshots[-1].posts_saved == len(archived_posts(archive))


def test_hostile_file_names_stay_data(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    archive = tmp_path / "out" / "archive"
    export_now(scenario_sandbox.url, scenario.token, archive)
    assert_nothing_outside(archive, tmp_path)
    rows = query(archive, "SELECT name, path, status FROM files WHERE post_id = ?", scenario.hostile_post)
    assert sorted(name for name, _, _ in rows) == sorted(HOSTILE_FILE_NAMES)
    paths = [path for _, path, _ in rows]
    assert len(set(paths)) == len(paths) == len(HOSTILE_FILE_NAMES), "duplicate names get distinct paths"
    for _, path, status in rows:
        assert status == "saved"
        assert path.startswith("files/") and ".." not in path and "\\" not in path and len(path) < 60
        assert (archive / path).is_file()
    assert_files_intact(archive, scenario.world)


def test_rerun_without_changes_asks_once_per_channel(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    export_now(scenario_sandbox.url, scenario.token, archive)
    before = len(scenario_sandbox.requests)
    result = export_now(scenario_sandbox.url, scenario.token, archive)
    second = scenario_sandbox.requests[before:]
    assert result.status == "complete"
    post_requests = [r for r in second if (r.method, r.route) == POSTS_ROUTE]
    assert len(post_requests) == len(scenario.channel_ids)
    assert all(r.query_names.count("since") == 1 for r in post_requests)
    assert len(second) <= len(scenario.channel_ids) + 10, [r.route for r in second]
    assert (result.stats["posts_new"], result.stats["files_saved"], result.stats["avatars_saved"]) == (
        0,
        0,
        0,
    )


def test_incremental_round_applies_every_kind_of_change(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    export_now(scenario_sandbox.url, scenario.token, archive)
    world = scenario.world
    s = scenario
    old_posts = world.posts_in_channel(s.town)
    oldest_root = next(p for p in old_posts if not p.root_id)
    victim, edited, unpinned = old_posts[3], old_posts[4], world.post(s.edited_post)
    reacted = next(p for p in old_posts if world.reactions_for(p.id))
    with world.lock:
        reply = world.create_post(
            s.town, s.bob, "a late reply to the very first thread", root_id=oldest_root.id
        )
        fresh = world.create_post(s.town, s.carol, "brand new", file_names=("new.png",))
        edited_text = edited.message
        world.edit_post(edited.id, "edited much later")
        victim_text = victim.message
        world.delete_post(victim.id)
        world.remove_reaction(reacted.id, s.bob, "+1")
        world.add_reaction(fresh.id, s.me, "tada")
        world.set_pinned(old_posts[6].id, True)
        world.set_pinned(unpinned.id, False)
        new_dm = world.create_direct_channel(s.me, s.carol)
        dm_post = world.create_post(new_dm.id, s.carol, "hello in a new DM")
        world.archive_channel(s.private)
    result = export_now(scenario_sandbox.url, s.token, archive)
    assert (result.status, result.problems) == ("complete", [])
    posts = archived_posts(archive)
    assert reply.id in posts and fresh.id in posts and dm_post.id in posts
    assert posts[edited.id][1] == "edited much later"
    history = query(archive, "SELECT message FROM post_history WHERE post_id = ?", edited.id)
    assert history == [(edited_text,)]
    assert posts[victim.id][1] == victim_text and posts[victim.id][2] > 0, "deleted posts keep their text"
    reactions = set(query(archive, "SELECT post_id, user_id, emoji_name FROM reactions"))
    assert (reacted.id, s.bob, "+1") not in reactions and (fresh.id, s.me, "tada") in reactions
    assert posts[old_posts[6].id][3] == 1 and posts[unpinned.id][3] == 0
    assert query(archive, "SELECT delete_at > 0 FROM channels WHERE id = ?", s.private) == [(1,)]
    assert (new_dm.id,) in query(archive, "SELECT id FROM channels")
    live_channels = set(scenario.channel_ids) | {new_dm.id}
    assert_matches_world(archive, world, channels=live_channels)
    assert_files_intact(archive, world)
    assert result.stats["channel_walks"] == 1, "only the new DM needs a history walk"


def test_edit_history_is_kept_once(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    export_now(scenario_sandbox.url, scenario.token, archive)
    post = scenario.world.posts_in_channel(scenario.dm_bob)[0]
    original = post.message
    scenario.world.edit_post(post.id, "second text")
    export_now(scenario_sandbox.url, scenario.token, archive)
    scenario.world.edit_post(post.id, "third text")
    export_now(scenario_sandbox.url, scenario.token, archive)
    export_now(scenario_sandbox.url, scenario.token, archive)
    history = query(
        archive, "SELECT message FROM post_history WHERE post_id = ? ORDER BY replaced_at", post.id
    )
    assert history == [(original,), ("second text",)]
    assert archived_posts(archive)[post.id][1] == "third text"


def test_direct_only(scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    result = export_now(scenario_sandbox.url, scenario.token, archive, scope="direct")
    assert result.status == "complete"
    direct = {scenario.dm_bob, scenario.self_dm, scenario.dm_dave, scenario.dm_bot, scenario.gm}
    assert {row[0] for row in query(archive, "SELECT id FROM channels")} == direct
    assert {row[0] for row in query(archive, "SELECT DISTINCT channel_id FROM posts")} == direct
    assert_matches_world(archive, scenario.world, channels=direct)


def test_no_files_then_files(scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    export_now(scenario_sandbox.url, scenario.token, archive, include_files=False)
    statuses = {row[0] for row in query(archive, "SELECT DISTINCT status FROM files")}
    assert statuses == {"skipped"}
    assert not (archive / "files").exists()
    assert not [r for r in scenario_sandbox.requests if r.route.startswith("/api/v4/files/")]
    export_now(scenario_sandbox.url, scenario.token, archive)
    assert {row[0] for row in query(archive, "SELECT DISTINCT status FROM files")} == {"saved"}
    assert_files_intact(archive, scenario.world)


def test_max_file_size(scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    limit = 3000
    result = export_now(scenario_sandbox.url, scenario.token, archive, max_file_size=limit)
    assert result.status == "complete"
    rows = query(archive, "SELECT id, status, size FROM files")
    assert {status for _, status, size in rows if size > limit} == {"skipped"}
    assert {status for _, status, size in rows if size <= limit} == {"saved"}
    downloaded = {
        r.path.rsplit("/", 1)[-1] for r in scenario_sandbox.requests if r.route == "/api/v4/files/{file_id}"
    }
    assert downloaded == {file_id for file_id, _, size in rows if size <= limit}


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(custom_emoji_enabled=False)])
def test_custom_emoji_disabled_is_not_a_problem(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    result = export_now(scenario_sandbox.url, scenario.token, archive)
    assert (result.status, result.problems) == ("complete", [])
    assert query(archive, "SELECT count(*) FROM emoji") == [(0,)]
    assert any(r.route == "/api/v4/emoji" and r.status == 501 for r in scenario_sandbox.requests)


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(view_archived_channels=False)])
def test_unreadable_archived_channel_is_reported_and_the_rest_exported(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    result = export_now(scenario_sandbox.url, scenario.token, archive)
    assert result.status == "incomplete"
    assert [(p.kind, p.item_id) for p in result.problems] == [("channel", scenario.archived)]
    assert "archived" in result.problems[0].message
    report = (archive / "report.txt").read_text()
    assert scenario.archived in report
    readable = set(scenario.channel_ids) - {scenario.archived}
    assert_matches_world(archive, scenario.world, channels=readable)


def test_image_previews_are_saved_only_when_asked_for(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    with_previews = tmp_path / "with"
    export_now(scenario_sandbox.url, scenario.token, with_previews, include_previews=True)
    images = query(
        with_previews, "SELECT thumbnail_path, preview_path FROM files WHERE mime_type LIKE 'image/%'"
    )
    assert images and all(thumb and preview for thumb, preview in images)
    assert all((with_previews / p).read_bytes()[:3] == b"\xff\xd8\xff" for row in images for p in row)
    before = len(scenario_sandbox.requests)
    without = tmp_path / "without"
    export_now(scenario_sandbox.url, scenario.token, without)
    routes = {r.route for r in scenario_sandbox.requests[before:]}
    assert not routes & {"/api/v4/files/{file_id}/thumbnail", "/api/v4/files/{file_id}/preview"}
    assert query(without, "SELECT count(*) FROM files WHERE thumbnail_path IS NOT NULL") == [(0,)]
    originals = (
        "SELECT count(*) FROM files WHERE mime_type LIKE 'image/%' AND status = 'saved' AND path IS NOT NULL"
    )
    assert query(without, originals) == [(len(images),)]
