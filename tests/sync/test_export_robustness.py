"""The export under hostile conditions: faults, rate limits, a revoked token, changes during the walk."""

from __future__ import annotations

import asyncio
import errno
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import pytest

from export_checks import assert_files_intact, assert_matches_world, export_now, query
from mmtakeout.api.client import MattermostClient
from mmtakeout.api.errors import AuthenticationError
from mmtakeout.archive.folder import ArchiveBusyError, export_lock
from mmtakeout.archive.store import ArchiveStore
from mmtakeout.archive.verify import verify_archive
from mmtakeout.sandbox import responses
from mmtakeout.sandbox.faults import RequestInfo
from mmtakeout.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox_thread
from mmtakeout.sandbox.world import Team, TeamMember, User, World, real_clock_ms
from mmtakeout.sync import DiskFullError, ExportOptions, ProgressSnapshot, export_archive
from sandbox_worlds import Scenario


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(fault_rate=0.05, fault_seed=3)])
def test_injected_faults_at_five_percent(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    result = export_now(scenario_sandbox.url, scenario.token, archive)
    failed = [r for r in scenario_sandbox.requests if r.status >= 500 or r.status == 0]
    assert len(failed) >= 3, "the sandbox did inject faults"
    assert (result.status, result.problems) == ("complete", [])
    assert_matches_world(archive, scenario.world)
    assert_files_intact(archive, scenario.world)


@pytest.mark.parametrize("sandbox_config", [SandboxConfig(rate_limit_per_s=100, rate_burst=5)])
def test_rate_limited_server_loses_nothing(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    started = time.monotonic()
    result = export_now(scenario_sandbox.url, scenario.token, archive)
    elapsed = time.monotonic() - started
    allowed = sum(1 for r in scenario_sandbox.requests if r.status != 429)
    assert elapsed >= 0.9 * (allowed - 6) / 100, "the export was held to the server's rate"
    assert (result.status, result.problems) == ("complete", [])
    assert_matches_world(archive, scenario.world)


def test_token_revoked_mid_export_stops_cleanly_and_resumes(scenario: Scenario, tmp_path: Path) -> None:
    world = scenario.world
    posts_requests = 0

    def revoke_after_some_pages(info: RequestInfo) -> None:
        nonlocal posts_requests
        if info.route == "/api/v4/channels/{channel_id}/posts":
            posts_requests += 1
            if posts_requests == 4:
                world.revoke_token(scenario.token)

    running = start_sandbox_thread(world, SandboxConfig(fault_hook=revoke_after_some_pages))
    archive = tmp_path / "archive"
    try:
        with pytest.raises(AuthenticationError):
            export_now(running.url, scenario.token, archive)
        rejected = [r for r in running.requests if r.status == 401]
        assert rejected and len(running.requests) - running.requests.index(rejected[0]) <= 20, (
            "stops promptly"
        )
        report = verify_archive(archive)
        assert report.ok, report.issues
        assert query(archive, "SELECT status FROM runs") == [("failed",)]
        saved_before = query(archive, "SELECT count(*) FROM posts")[0][0]
        assert saved_before > 0
        new_token = world.create_session(scenario.me)
        result = export_now(running.url, new_token, archive)
    finally:
        running.stop()
    assert (result.status, result.problems) == ("complete", [])
    assert_matches_world(archive, world)
    assert_files_intact(archive, world)


def _plain_world(posts: int, *, clock_offset_ms: int = 0, channels: int = 1) -> tuple[World, str, str, str]:
    """`channels` channels of `posts` posts each; returns the world, a token, the first channel and me."""
    world = World(seed=9, clock=lambda: real_clock_ms() + clock_offset_ms)
    at = world.now()
    me = world.add_user(User("me" + "0" * 24, "me", "me@example.org", "Me", "", at, at))
    world.primary_user_id = me.id
    team = world.add_team(Team("team" + "0" * 22, "team", "Team", at, at))
    world.add_team_member(TeamMember(team.id, me.id, at))
    long_ago = at - 400 * 24 * 3600 * 1000
    channel_ids = []
    for number in range(channels):
        channel = world.create_channel(team.id, f"busy{number}", f"Busy {number}", "O", me.id)
        channel_ids.append(channel.id)
        for index in range(posts):
            world.create_post(channel.id, me.id, f"post {index}", create_at=long_ago + index * 1000)
    return world, world.create_session(me.id), channel_ids[0], me.id


def test_deletions_during_the_walk_do_not_hide_posts(tmp_path: Path) -> None:
    """Deleting posts the walk already passed moves older posts to earlier offsets, across a page
    boundary the walk has not reached yet; the reconciliation notices and fetches them."""
    world, token, channel_id, _ = _plain_world(1000)
    newest_first = list(reversed(world.posts_in_channel(channel_id)))
    page_requests = 0

    def delete_when_page_two_is_asked(info: RequestInfo) -> None:
        nonlocal page_requests
        if info.path == f"/api/v4/channels/{channel_id}/posts":
            page_requests += 1
            if page_requests == 3:
                for post in newest_first[5:8]:
                    world.delete_post(post.id)

    running = start_sandbox_thread(world, SandboxConfig(fault_hook=delete_when_page_two_is_asked))
    archive = tmp_path / "archive"
    try:
        result = export_now(running.url, token, archive, concurrency=1)
    finally:
        running.stop()
    assert result.status == "complete"
    assert page_requests >= 3
    assert result.stats["heal_requests"] > 0
    assert_matches_world(archive, world)
    deleted = query(archive, "SELECT count(*) FROM posts WHERE delete_at > 0")
    assert deleted == [(3,)], "the deleted posts stay, marked deleted"


@pytest.mark.parametrize("server_ahead_ms", [-10 * 60_000, 10 * 60_000])
def test_changes_during_the_walk_are_caught_whatever_this_machine_clock_says(
    tmp_path: Path, server_ahead_ms: int
) -> None:
    """`since` compares with the server's own times: with the server ten minutes behind (or ahead of)
    this machine, what changed while the walk ran is still picked up by the reconciliation."""
    world, token, channel_id, me = _plain_world(1000, clock_offset_ms=server_ahead_ms)
    newest = world.posts_in_channel(channel_id)[-1]
    page_requests = 0

    def change_the_newest_page_once_it_was_read(info: RequestInfo) -> None:
        nonlocal page_requests
        if info.path == f"/api/v4/channels/{channel_id}/posts":
            page_requests += 1
            if page_requests == 3:
                world.edit_post(newest.id, "edited while the walk ran")
                world.create_post(channel_id, me, "posted while the walk ran")

    running = start_sandbox_thread(world, SandboxConfig(fault_hook=change_the_newest_page_once_it_was_read))
    archive = tmp_path / "archive"
    try:
        result = export_now(running.url, token, archive, concurrency=1)
        requests_before_update = len(running.requests)
        export_now(running.url, token, archive, concurrency=1)
        update_requests = running.requests[requests_before_update:]
    finally:
        running.stop()
    assert result.status == "complete"
    assert page_requests >= 3
    assert query(archive, "SELECT message FROM posts WHERE id = ?", newest.id) == [
        ("edited while the walk ran",)
    ]
    assert_matches_world(archive, world)
    walked_again = [r for r in update_requests if r.route.endswith("/posts") and dict(r.query).get("page")]
    assert not walked_again, "the update trusted the cursor and did not walk the channel again"


def test_more_than_a_thousand_changes_rewalk_the_channel(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    export_now(scenario_sandbox.url, scenario.token, archive)
    world = scenario.world
    with world.lock:
        for post in world.posts_in_channel(scenario.town)[:700]:
            world.add_reaction(post.id, scenario.carol, "eyes")
        for index in range(400):
            world.create_post(scenario.town, scenario.bob, f"flood {index}")
    result = export_now(scenario_sandbox.url, scenario.token, archive)
    assert (result.status, result.problems) == ("complete", [])
    assert result.stats["channel_walks"] >= 1
    assert_matches_world(archive, world)


def test_cancel_leaves_a_resumable_archive(scenario: Scenario, tmp_path: Path) -> None:
    running = start_sandbox_thread(scenario.world, SandboxConfig(latency_ms=15))
    archive = tmp_path / "archive"

    async def cancelled_run() -> str:
        cancel = asyncio.Event()

        def on_progress(snapshot: ProgressSnapshot) -> None:
            if snapshot.posts_saved > 0:
                cancel.set()

        result = await export_archive(
            running.url, scenario.token, archive, ExportOptions(), on_progress, cancel
        )
        return result.status

    try:
        assert asyncio.run(cancelled_run()) == "cancelled"
        assert verify_archive(archive).ok
        assert query(archive, "SELECT status FROM runs") == [("cancelled",)]
        result = export_now(running.url, scenario.token, archive)
    finally:
        running.stop()
    assert result.status == "complete"
    assert_matches_world(archive, scenario.world)


def test_the_token_is_never_written(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    archive = tmp_path / "archive"
    scenario.world.drop_file_blob(scenario.world.post(scenario.hostile_post).file_ids[0])
    export_now(scenario_sandbox.url, scenario.token, archive)
    scenario.world.revoke_token(scenario.token)
    with pytest.raises(AuthenticationError) as failure:
        export_now(scenario_sandbox.url, scenario.token, archive)
    assert scenario.token not in str(failure.value) and scenario.token not in repr(failure.value)
    sqlite3.connect(archive / "archive.sqlite").execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    assert caplog.records and scenario.token not in caplog.text
    secret = scenario.token.encode()
    for path in archive.rglob("*"):
        if path.is_file():
            assert secret not in path.read_bytes(), path


def test_disk_full_while_saving_a_file_stops_cleanly(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(self: MattermostClient, part: Path, *, append: bool) -> BinaryIO:
        raise OSError(errno.ENOSPC, "No space left on device", str(part))

    monkeypatch.setattr(MattermostClient, "_open_part_file", no_space)
    archive = tmp_path / "archive"
    with pytest.raises(DiskFullError, match="is full"):
        export_now(scenario_sandbox.url, scenario.token, archive)
    assert verify_archive(archive).ok
    monkeypatch.undo()
    result = export_now(scenario_sandbox.url, scenario.token, archive)
    assert result.status == "complete"
    assert_files_intact(archive, scenario.world)


def test_disk_full_in_the_database_stops_cleanly(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "archive"
    real_open = ArchiveStore.open.__func__  # type: ignore[attr-defined]

    def small_database(cls: type[ArchiveStore], folder: Path) -> ArchiveStore:
        store = real_open(cls, folder)
        store._db.execute("PRAGMA max_page_count = 60")  # a database that cannot grow past 240 KB
        return store

    monkeypatch.setattr(ArchiveStore, "open", classmethod(small_database))
    with pytest.raises(DiskFullError):
        export_now(scenario_sandbox.url, scenario.token, archive)
    monkeypatch.undo()
    assert verify_archive(archive).ok
    result = export_now(scenario_sandbox.url, scenario.token, archive)
    assert result.status == "complete"
    assert_matches_world(archive, scenario.world)


def test_two_exports_into_one_folder_do_not_mix(
    scenario: Scenario, scenario_sandbox: RunningSandbox, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    with export_lock(archive), pytest.raises(ArchiveBusyError, match="Another export"):
        export_now(scenario_sandbox.url, scenario.token, archive)
    assert export_now(scenario_sandbox.url, scenario.token, archive).status == "complete"


def _slow_writer(monkeypatch: pytest.MonkeyPatch, on_save: Callable[[int], None]) -> None:
    """Every page save first calls `on_save(n)` (n counts from 1) and takes 20 ms, so the walks have
    several pages queued with the writer at any time."""
    original = ArchiveStore.save_posts
    calls = 0

    def save_posts(self: ArchiveStore, posts: Any, **options: Any) -> Any:
        nonlocal calls
        calls += 1
        on_save(calls)
        time.sleep(0.02)
        return original(self, posts, **options)

    monkeypatch.setattr(ArchiveStore, "save_posts", save_posts)


@pytest.mark.parametrize("cancel_at", [8, 11, 14])
def test_cancelled_while_pages_wait_for_the_writer_then_resumed_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cancel_at: int
) -> None:
    """Pages handed to the writer but dropped by the cancel must hold the committed prefix back (with
    three walks, a walk's oldest page often still waits behind the others' when the cancel comes)."""
    world, token, _, _ = _plain_world(3000, channels=3)
    running = start_sandbox_thread(world, SandboxConfig())
    archive = tmp_path / "archive"
    cancel_soon: list[Callable[[], None]] = []

    def cancel_at_save(n: int) -> None:
        if n == cancel_at:
            cancel_soon[0]()

    async def first_run() -> str:
        cancel = asyncio.Event()
        loop = asyncio.get_running_loop()
        cancel_soon.append(lambda: loop.call_soon_threadsafe(cancel.set))
        options = ExportOptions(include_files=False)
        result = await export_archive(running.url, token, archive, options, cancel=cancel)
        return result.status

    try:
        with monkeypatch.context() as patch:
            _slow_writer(patch, cancel_at_save)
            assert asyncio.run(first_run()) == "cancelled"
        for channel_id, page in query(archive, "SELECT channel_id, backfill_page FROM sync_channels"):
            [(stored,)] = query(archive, "SELECT count(*) FROM posts WHERE channel_id = ?", channel_id)
            assert page * 200 <= stored, "the committed prefix names only stored pages"
        result = export_now(running.url, token, archive, include_files=False)
    finally:
        running.stop()
    assert (result.status, result.problems) == ("complete", [])
    assert_matches_world(archive, world)


def test_a_page_whose_save_failed_is_fetched_again_on_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saves queued behind a failed one still commit; they must not move the prefix past it."""
    world, token, _, _ = _plain_world(4000)
    running = start_sandbox_thread(world, SandboxConfig())
    archive = tmp_path / "archive"

    def disk_full_once(n: int) -> None:
        if n == 5:
            raise sqlite3.OperationalError("database or disk is full")

    try:
        with monkeypatch.context() as patch:
            _slow_writer(patch, disk_full_once)
            with pytest.raises(DiskFullError):
                export_now(running.url, token, archive, include_files=False)
        result = export_now(running.url, token, archive, include_files=False)
    finally:
        running.stop()
    assert (result.status, result.problems) == ("complete", [])
    assert_matches_world(archive, world)


def test_a_lone_surrogate_in_a_post_is_stored_as_a_replacement_character(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Valid JSON that is not valid text (a hostile or broken server): the post is kept, readable."""
    world, token, channel_id, _ = _plain_world(600)
    victim = world.posts_in_channel(channel_id)[300]
    original = responses.go_json

    def with_lone_surrogate(data: Any, *, newline: bool = True) -> bytes:
        return original(data, newline=newline).replace(b'post 300"', b'post \\ud800"')

    monkeypatch.setattr(responses, "go_json", with_lone_surrogate)
    running = start_sandbox_thread(world, SandboxConfig())
    archive = tmp_path / "archive"
    try:
        result = export_now(running.url, token, archive, include_files=False)
    finally:
        running.stop()
    assert (result.status, result.problems) == ("complete", [])
    stored = "SELECT message, json_extract(raw, '$.message') FROM posts WHERE id = ?"
    assert query(archive, stored, victim.id) == [("post \ufffd", "post \ufffd")]
    assert query(archive, "SELECT count(*) FROM posts")[0][0] == 600
