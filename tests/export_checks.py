"""Running exports from test code, and comparing an archive folder with the sandbox world it came from."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mmtakeout.archive.verify import verify_archive
from mmtakeout.sandbox.world import World
from mmtakeout.sync import ExportOptions, ExportResult, ProgressSnapshot, export_archive


def export_now(
    url: str,
    token: str,
    out: Path,
    *,
    progress: Callable[[ProgressSnapshot], None] | None = None,
    **options: Any,
) -> ExportResult:
    """Run one export to completion from synchronous code (the sandbox runs on its own thread)."""
    return asyncio.run(export_archive(url, token, out, ExportOptions(**options), progress=progress))


def query(archive: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(f"{(archive / 'archive.sqlite').resolve().as_uri()}?mode=ro", uri=True)
    try:
        return list(db.execute(sql, params))
    finally:
        db.close()


def archived_posts(archive: Path) -> dict[str, tuple[str, str, int, int, int]]:
    """id → (channel_id, message, delete_at, is_pinned, edit_at)."""
    return {
        row[0]: tuple(row[1:])  # type: ignore[misc]
        for row in query(archive, "SELECT id, channel_id, message, delete_at, is_pinned, edit_at FROM posts")
    }


def expected_channels(world: World) -> set[str]:
    return {channel.id for channel in world.visible_channels(world.primary_user_id)}


def assert_matches_world(archive: Path, world: World, *, channels: set[str] | None = None) -> None:
    """Every live post, reaction and referenced user of the readable channels is archived, once."""
    me = world.primary_user_id
    channels = expected_channels(world) if channels is None else channels
    posts = archived_posts(archive)
    assert len(posts) == len(query(archive, "SELECT id FROM posts")), "duplicate post rows"
    live = [
        post
        for channel_id in channels
        if world.can_read_channel(me, channel_id)
        for post in world.posts_in_channel(channel_id)
    ]
    missing = [post.id for post in live if post.id not in posts]
    assert not missing, f"{len(missing)} posts missing, e.g. {missing[:3]}"
    for post in live:
        channel_id, message, delete_at, pinned, edit_at = posts[post.id]
        assert (channel_id, message, delete_at, bool(pinned), edit_at) == (
            post.channel_id,
            post.message,
            0,
            post.is_pinned,
            post.edit_at,
        ), post.id
    archived_channels = {row[0] for row in query(archive, "SELECT id FROM channels")}
    assert channels <= archived_channels
    expected_reactions = {
        (reaction.post_id, reaction.user_id, reaction.emoji_name)
        for post in live
        for reaction in world.reactions_for(post.id)
    }
    archived_reactions = set(query(archive, "SELECT post_id, user_id, emoji_name FROM reactions"))
    live_ids = {post.id for post in live}
    assert {r for r in archived_reactions if r[0] in live_ids} == expected_reactions
    users = {row[0] for row in query(archive, "SELECT id FROM users")}
    referenced = {post.user_id for post in live} | {user for (_, user, _) in expected_reactions}
    assert referenced <= users, referenced - users


def assert_files_intact(archive: Path, world: World) -> int:
    """Every saved attachment holds exactly the server's bytes; returns how many were checked."""
    checked = 0
    for file_id, path, sha256 in query(archive, "SELECT id, path, sha256 FROM files WHERE status = 'saved'"):
        data = (archive / path).read_bytes()
        assert data == world.file_bytes(file_id), file_id
        assert hashlib.sha256(data).hexdigest() == sha256
        checked += 1
    report = verify_archive(archive)
    assert report.ok, report.issues
    return checked


def all_files_under(root: Path) -> list[Path]:
    return [Path(directory, name) for directory, _, names in os.walk(root) for name in names]


def assert_nothing_outside(archive: Path, parent: Path) -> None:
    """Everything under `parent` is inside the archive folder, and the folder holds only known entries."""
    archive = archive.resolve()
    for path in all_files_under(parent):
        assert archive in path.resolve().parents, f"{path} was written outside the archive"
    top = {entry.name for entry in archive.iterdir()}
    assert top <= {
        "archive.sqlite",
        "archive.sqlite-wal",
        "archive.sqlite-shm",
        ".export.lock",
        "files",
        "avatars",
        "emoji",
        "report.txt",
        "index.html",
        "site",
    }, top
    leftovers = [p for p in all_files_under(archive) if p.name.endswith(".part")]
    assert not leftovers, leftovers
