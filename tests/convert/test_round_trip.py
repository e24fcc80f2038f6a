"""The Mattermost round trip: export sandbox A, convert, import into a fresh sandbox B over HTTP with
the importer's rules, export B, and compare the conversations of the two archives."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mmtakeout.convert import ConvertOptions, convert_archive
from mmtakeout.sandbox.server import SandboxConfig, running_sandbox
from mmtakeout.sandbox.world import User, World
from mmtakeout.sync import ExportOptions, export_archive

ConversationKey = tuple[str, ...]
PostKey = tuple[str, str]


def _conversations(archive: Path) -> dict[ConversationKey, list[tuple[Any, ...]]]:
    """Every conversation's live, non-system posts as comparable tuples, keyed by names (not ids)."""
    database = sqlite3.connect(archive / "archive.sqlite")
    users = dict(database.execute("SELECT id, username FROM users"))
    teams = dict(database.execute("SELECT id, name FROM teams"))
    keys: dict[str, ConversationKey] = {}
    for channel_id, team_id, channel_type, name in database.execute(
        "SELECT id, team_id, type, name FROM channels"
    ):
        if channel_type in ("O", "P"):
            keys[channel_id] = ("channel", teams.get(team_id, f"team-{team_id[:8]}"), name)
        elif channel_type == "D":
            keys[channel_id] = ("direct", *sorted(users[member] for member in name.split("__")))
        elif channel_type == "G":
            members = database.execute(
                "SELECT user_id FROM channel_members WHERE channel_id = ?", (channel_id,)
            )
            keys[channel_id] = ("group", *sorted(users[member] for (member,) in members))
    live = {
        row[0]: row
        for row in database.execute(
            """SELECT id, channel_id, root_id, user_id, create_at, message, is_pinned, edit_at FROM posts
               WHERE delete_at = 0 AND type NOT LIKE 'system%'"""
        )
    }
    reactions: dict[str, list[tuple[str, str]]] = {}
    for post_id, user_id, emoji in database.execute("SELECT post_id, user_id, emoji_name FROM reactions"):
        reactions.setdefault(post_id, []).append((users[user_id], emoji))
    files: dict[str, list[str]] = {}
    for post_id, path in database.execute("SELECT post_id, path FROM files WHERE status = 'saved'"):
        files.setdefault(post_id, []).append(hashlib.sha256((archive / path).read_bytes()).hexdigest())

    def post_key(post_id: str) -> PostKey | None:
        row = live.get(post_id)
        return (users[row[3]], row[5]) if row else None

    conversations: dict[ConversationKey, list[tuple[Any, ...]]] = {key: [] for key in keys.values()}
    for post_id, channel_id, root_id, _, _, _, pinned, edit_at in live.values():
        if channel_id not in keys:
            continue
        conversations[keys[channel_id]].append(
            (
                live[post_id][4],
                post_key(post_id),
                post_key(root_id) if root_id else None,
                sorted(reactions.get(post_id, [])),
                sorted(files.get(post_id, [])),
                bool(pinned),
                edit_at > 0,
            )
        )
    return conversations


async def _import_and_export(zip_path: Path, owner: str, out: Path) -> tuple[int, dict[str, Any]]:
    world = World(seed=99)
    at = world.now()
    me = world.add_user(User("me" + "0" * 24, owner, f"{owner}@example.org", "", "", at, at))
    world.primary_user_id = me.id
    token = world.create_session(me.id)
    async with running_sandbox(world, SandboxConfig()) as sandbox:
        async with aiohttp.ClientSession() as client:
            response = await client.post(
                f"{sandbox.url}/sandbox/import",
                data=await asyncio.to_thread(zip_path.read_bytes),
                headers={"Authorization": f"Bearer {token}"},
            )
            status, body = response.status, await response.json()
        if status == 200:
            result = await export_archive(sandbox.url, token, out, ExportOptions())
            assert result.status == "complete", result.problems
    return status, body


@pytest.mark.slow
async def test_mattermost_round_trip_reproduces_the_conversations(
    exported_archive: Path, tmp_path: Path
) -> None:
    bulk = tmp_path / "import.zip"
    report = convert_archive(exported_archive, "mattermost", bulk, ConvertOptions())
    owner = (
        sqlite3.connect(exported_archive / "archive.sqlite")
        .execute("SELECT value FROM meta WHERE key = 'username'")
        .fetchone()[0]
    )
    status, body = await _import_and_export(bulk, owner, tmp_path / "b")
    assert status == 200, body
    assert body["counts"]["posts"] == report.carried["posts"]
    original = _conversations(exported_archive)
    copy = _conversations(tmp_path / "b")
    compared = shifted = 0
    for key, posts in original.items():
        copied = copy.get(key, [])
        assert sorted((post[1:] for post in copied), key=repr) == sorted(
            (post[1:] for post in posts), key=repr
        ), key
        times = zip(sorted(post[0] for post in posts), sorted(post[0] for post in copied), strict=True)
        differences = [after - before for before, after in times if after != before]
        assert all(0 < difference <= 3 for difference in differences), key
        compared += len(posts)
        shifted += len(differences)
    assert compared == report.carried["posts"]
    assert shifted <= report.issues().get("time_shifted", 0)
    assert all(not posts for key, posts in copy.items() if key not in original)


async def test_the_import_endpoint_rejects_a_broken_file_with_its_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.zip"
    with __import__("zipfile").ZipFile(broken, "w") as archive:
        archive.writestr(
            "import.jsonl",
            '{"type":"version","version":1}\n'
            '{"type":"team","team":{"name":"ok-team","display_name":"OK","type":"O"}}\n'
            '{"type":"user","user":{"username":"x","email":""}}\n',
        )
    status, body = await _import_and_export(broken, "me", tmp_path / "b")
    assert status == 400
    assert body["id"] == "app.import.validate_user_import_data.email_length.error"
    assert body["line_number"] == 3
