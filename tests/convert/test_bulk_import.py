"""The sandbox's bulk importer: what it builds from a converted archive and what it refuses, by line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from convert_builder import RichArchive
from convert_validators.mattermost import validate_bulk_zip
from convert_zips import entries, jsonl, write_zip

from archive_builder import ArchiveBuilder
from mmtakeout.convert import ConvertOptions, convert_archive
from mmtakeout.sandbox.bulk_import import BulkImportError, import_bulk_zip
from mmtakeout.sandbox.world import User, World

Convert = Callable[..., tuple[Path, Any]]
VERSION = {"type": "version", "version": 1}


def _world() -> World:
    world = World(seed=3)
    at = world.now()
    me = world.add_user(User("me" + "0" * 24, "me", "me@example.org", "", "", at, at))
    world.primary_user_id = me.id
    return world


def _lines_zip(path: Path, rows: list[dict[str, Any]], extra: dict[str, bytes] | None = None) -> Path:
    body = "\n".join(json.dumps(row) for row in rows).encode()
    return write_zip(path, {"import.jsonl": body, **(extra or {})})


def _team(name: str = "acme") -> dict[str, Any]:
    return {"type": "team", "team": {"name": name, "display_name": name.title(), "type": "O"}}


def _user(name: str, email: str | None = None, **fields: Any) -> dict[str, Any]:
    address = f"{name}@example.org" if email is None else email
    return {"type": "user", "user": {"username": name, "email": address, **fields}}


def _post(message: str, create_at: int, **fields: Any) -> dict[str, Any]:
    post = {
        "team": "acme",
        "channel": "town-square",
        "user": "me",
        "message": message,
        "create_at": create_at,
    }
    return {"type": "post", "post": {**post, **fields}}


def test_the_converted_hostile_archive_imports_completely(
    convert_rich: Convert, rich_archive: RichArchive
) -> None:
    out, report = convert_rich("mattermost")
    world = _world()
    summary = import_bulk_zip(world, out)
    lines = [row for row in jsonl(out) if row["type"] in ("post", "direct_post")]
    entries_in_file = sum(1 + len(row[row["type"]].get("replies") or []) for row in lines)
    assert summary.counts["posts"] == entries_in_file == report.carried["posts"] + 1
    assert report.issues()["split_message"] == 1
    assert summary.counts["reactions"] == report.carried["reactions"]
    assert summary.counts["files"] == report.carried["files"]
    assert summary.counts["emoji"] == 1
    assert summary.warnings == []
    me = world.user_by_name("me")
    alice = world.user_by_name("alice")
    acme = next(team for team in world.teams.values() if team.name == "acme")
    town = world.channel_by_name(acme.id, "town-square")
    assert world.is_channel_member(alice.id, town.id) and world.is_team_member(alice.id, acme.id)
    assert town.id in world.favorites[me.id]
    assert world.user_by_name("gone").delete_at > 0
    assert world.channel_by_name(acme.id, "old-stuff").delete_at > 0
    self_dm = world.channel_by_name("", f"{me.id}__{me.id}")
    assert [post.message for post in world.posts_in_channel(self_dm.id)] == ["note to self"]
    root = next(post for post in world.posts_in_channel(town.id) if post.message.startswith("Hello"))
    assert root.is_pinned
    assert [reply.message for reply in world.thread_posts(root.id)[1:]] == [
        "@me agreed, see @bob.",
        "late reply",
    ]
    assert {reaction.emoji_name for reaction in world.reactions_for(root.id)} == {
        "+1",
        "party_parrot",
        "ghost",
        "thumbsup_tone3",
    }
    files_post = next(
        post
        for channel in world.channels.values()
        for post in world.posts_in_channel(channel.id)
        if post.message == "files attached"
    )
    assert {world.file(file_id).name for file_id in files_post.file_ids} >= {
        "CON.txt",
        "photo.png",
        "_gpj.exe",
    }
    assert b"root:x:0:0" in {world.file_bytes(file_id) for file_id in files_post.file_ids}


def test_importing_twice_changes_nothing(convert_rich: Convert) -> None:
    out, _ = convert_rich("mattermost")
    world = _world()
    import_bulk_zip(world, out)
    posts, files = len(world.posts), len(world.files)
    again = import_bulk_zip(world, out)
    assert len(world.posts) == posts and len(world.files) == files
    assert "posts" not in again.counts


def test_identical_posts_in_one_millisecond_survive_the_conversion(tmp_path: Path) -> None:
    builder = ArchiveBuilder(tmp_path / "archive")
    me = builder.add_user("me", email="me@example.org", owner=True)
    team = builder.add_team("acme", "ACME")
    town = builder.add_channel("O", "town-square", "Town Square", team_id=team)
    for _ in range(3):
        same = builder.add_post(town, me, "+1", create_at=1_700_000_000_000)
        builder.add_reaction(same, me, "+1", create_at=1_700_000_000_000)
    out = tmp_path / "bulk.zip"
    report = convert_archive(builder.close(), "mattermost", out, ConvertOptions())
    assert validate_bulk_zip(out) == []
    assert report.issues()["time_shifted"] == 2
    world = _world()
    import_bulk_zip(world, out)
    imported = world.posts_in_channel(
        next(iter(c for c in world.channels.values() if c.name == "town-square")).id
    )
    assert [(post.create_at, post.message) for post in imported] == [
        (1_700_000_000_000, "+1"),
        (1_700_000_000_001, "+1"),
        (1_700_000_000_002, "+1"),
    ]


def test_identical_post_lines_merge_only_across_batches(tmp_path: Path) -> None:
    rows = [VERSION, _team(), _user("me", teams=[{"name": "acme", "channels": [{"name": "town-square"}]}])]
    same = [_post("dup", 1_700_000_000_000) for _ in range(2)]
    world = _world()
    import_bulk_zip(world, _lines_zip(tmp_path / "one.zip", rows + same))
    town = next(c for c in world.channels.values() if c.name == "town-square")
    assert len(world.posts_in_channel(town.id)) == 2
    import_bulk_zip(world, _lines_zip(tmp_path / "two.zip", [VERSION, same[0]]))
    assert len(world.posts_in_channel(town.id)) == 2


def test_a_new_team_gets_its_default_channels_and_members_join_them(tmp_path: Path) -> None:
    rows = [
        VERSION,
        _team("fresh"),
        _user("zoe", teams=[{"name": "fresh", "roles": "team_user", "channels": []}]),
    ]
    world = _world()
    import_bulk_zip(world, _lines_zip(tmp_path / "team.zip", rows))
    team = next(team for team in world.teams.values() if team.name == "fresh")
    zoe = world.user_by_name("zoe")
    for name in ("town-square", "off-topic"):
        assert world.is_channel_member(zoe.id, world.channel_by_name(team.id, name).id)


def test_a_missing_attachment_is_skipped_with_a_warning(tmp_path: Path) -> None:
    rows = [VERSION, _team(), _post("with file", 1_700_000_000_000, attachments=[{"path": "files/none.txt"}])]
    world = _world()
    summary = import_bulk_zip(world, _lines_zip(tmp_path / "a.zip", rows))
    assert summary.counts["posts"] == 1
    assert summary.warnings == ["line 3: failed to import attachment 'files/none.txt'"]


@pytest.mark.parametrize(
    ("rows", "line", "error_id"),
    [
        ([_team()], 1, "app.import.bulk_import.unsupported_version.error"),
        ([{"type": "version", "version": 2}], 1, "app.import.bulk_import.unsupported_version.error"),
        ([VERSION, {"type": "widget", "widget": {}}], 2, "app.import.import_line.unknown_line_type.error"),
        ([VERSION, {"type": "team"}], 2, "app.import.import_line.null_team.error"),
        ([VERSION, _team("help-desk")], 2, "app.import.validate_team_import_data.name_reserved.error"),
        ([VERSION, _team("a")], 2, "app.import.validate_team_import_data.name_characters.error"),
        (
            [VERSION, {"type": "channel", "channel": {"team": "nope", "name": "c", "type": "O"}}],
            2,
            "app.import.import_channel.team_not_found.error",
        ),
        (
            [
                VERSION,
                _team(),
                {"type": "channel", "channel": {"team": "acme", "name": "c" * 65, "type": "O"}},
            ],
            3,
            "app.import.validate_channel_import_data.name_length.error",
        ),
        ([VERSION, _user("x", email="")], 2, "app.import.validate_user_import_data.email_length.error"),
        ([VERSION, _user("all")], 2, "app.import.validate_user_import_data.username_invalid.error"),
        (
            [VERSION, _user("x", teams=[{"name": "acme"}])],
            2,
            "app.import.import_user_teams.team_not_found.error",
        ),
        (
            [VERSION, _team(), _post("x" * 16384, 1)],
            3,
            "app.import.validate_post_import_data.message_length.error",
        ),
        ([VERSION, _team(), _post("x", 0)], 3, "app.import.validate_post_import_data.create_at_zero.error"),
        (
            [VERSION, _team(), _post("x", 1, user="ghost")],
            3,
            "app.import.get_users_by_username.some_users_not_found.error",
        ),
        (
            [VERSION, _team(), _post("x", 5, reactions=[{"user": "me", "emoji_name": "+1", "create_at": 4}])],
            3,
            "app.import.validate_reaction_import_data.create_at_before_parent.error",
        ),
        (
            [VERSION, {"type": "direct_channel", "direct_channel": {"members": ["me"]}}],
            2,
            "app.import.validate_direct_channel_import_data.members_too_few.error",
        ),
        (
            [VERSION, {"type": "emoji", "emoji": {"name": "x", "image": "../../etc/passwd"}}],
            2,
            "app.import.validate_emoji_import_data.invalid_image_path.error",
        ),
    ],
)
def test_a_rejected_file_names_the_line_and_leaves_the_world_alone(
    tmp_path: Path, rows: list[dict[str, Any]], line: int, error_id: str
) -> None:
    world = _world()
    before = (len(world.users), len(world.teams), len(world.channels), len(world.posts))
    with pytest.raises(BulkImportError) as caught:
        import_bulk_zip(world, _lines_zip(tmp_path / "bad.zip", rows))
    assert (caught.value.line, caught.value.error_id) == (line, error_id)
    assert (len(world.users), len(world.teams), len(world.channels), len(world.posts)) == before


def test_unusable_zips_are_refused(tmp_path: Path, convert_rich: Convert) -> None:
    with pytest.raises(BulkImportError, match="zip_invalid"):
        import_bulk_zip(_world(), b"not a zip")
    with pytest.raises(BulkImportError, match="jsonl_missing"):
        import_bulk_zip(_world(), write_zip(tmp_path / "empty.zip", {"data/x": b"x"}))
    out, _ = convert_rich("mattermost")
    files = entries(out)
    files["import.jsonl"] = files["import.jsonl"].replace(b"\n", b"\n" + b" " * (16 * 1024 * 1024 + 1), 1)
    with pytest.raises(BulkImportError) as caught:
        import_bulk_zip(_world(), write_zip(tmp_path / "long.zip", files))
    assert caught.value.line == 2 and "token too long" in str(caught.value)
