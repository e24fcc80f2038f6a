"""What the Mattermost bulk-import zip carries from the hostile archive, and what it reports."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from convert_builder import PNG_BYTES, RichArchive
from convert_zips import entries, jsonl, payloads

from archive_builder import ArchiveBuilder
from mmtakeout.convert import ConvertOptions, convert_archive

Convert = Callable[..., tuple[Path, Any]]


def _post(out: Path, message: str, line_type: str = "post") -> dict[str, Any]:
    return next(post for post in payloads(out, line_type) if post["message"] == message)


def test_lines_come_in_the_importers_order_with_the_version_first(convert_rich: Convert) -> None:
    out, _ = convert_rich("mattermost")
    types = [row["type"] for row in jsonl(out)]
    assert types[0] == "version"
    order = ["version", "team", "channel", "user", "post", "emoji", "direct_channel", "direct_post"]
    assert types == sorted(types, key=order.index)
    assert set(types) == set(order)


def test_threads_reactions_pins_and_edits_are_carried(
    convert_rich: Convert, rich_archive: RichArchive
) -> None:
    out, report = convert_rich("mattermost")
    root = _post(out, "Hello **world** <script>alert(1)</script> & friends\n\n```\n  code <x>\n```")
    assert root["team"] == "acme" and root["channel"] == "town-square" and root["user"] == "me"
    assert root["is_pinned"] is True
    assert [reply["message"] for reply in root["replies"]] == ["@me agreed, see @bob.", "late reply"]
    assert [reply["user"] for reply in root["replies"]] == ["alice", "bob"]
    reactions = {(reaction["user"], reaction["emoji_name"]) for reaction in root["reactions"]}
    assert reactions == {
        ("alice", "+1"),
        ("bob", "party_parrot"),
        ("carol", "ghost"),
        ("me", "thumbsup_tone3"),
    }
    assert all(reaction["create_at"] >= root["create_at"] for reaction in root["reactions"])
    edited = _post(out, "edited text")
    assert edited["edit_at"] > edited["create_at"]
    assert rich_archive.ids["edited"] in report.examples("edit_history_dropped")
    assert report.issues()["reaction_time_fixed"] == 1
    assert report.examples("reaction_custom_emoji_missing") == [":ghost:"]
    assert report.examples("reaction_unknown_emoji") == [":no_such_emoji:"]
    thread = _post(out, "hi alice", "direct_post")
    assert thread["reactions"][0]["emoji_name"] == "no_such_emoji"


def test_deleted_system_and_orphaned_posts(convert_rich: Convert) -> None:
    out, report = convert_rich("mattermost")
    messages = [post["message"] for post in payloads(out, "post")]
    assert "deleted text" not in messages
    assert "system" not in messages
    assert "reply to deleted root" in messages
    assert "reply to a root the archive never saw" in messages
    assert _post(out, "/me waves")["type"] == "me"
    assert "type" not in _post(out, "poll")
    card = _post(out, "")
    assert card["type"] == "slack_attachment" and card["props"]["attachments"][0]["title"] == "Card"
    assert _post(out, "nulinside")["user"] == "nul"
    issues = report.issues()
    assert issues["deleted_post"] == 1
    assert issues["system_post"] == 1
    assert issues["detached_reply"] == 2
    assert issues["custom_type_post"] == 1
    assert issues["control_characters"] == 2


def test_a_message_over_the_limit_is_split_without_losing_text(
    convert_rich: Convert, rich_archive: RichArchive
) -> None:
    out, report = convert_rich("mattermost")
    start = rich_archive.long_message[:100]
    post = next(post for post in payloads(out, "post") if post["message"].startswith(start))
    pieces = [post["message"], *(reply["message"] for reply in post["replies"])]
    assert all(len(piece) <= 16383 for piece in pieces)
    assert "".join(pieces) == rich_archive.long_message
    assert all(reply["user"] == post["user"] for reply in post["replies"])
    assert report.issues()["split_message"] == 1


def test_attachments_are_in_the_zip_with_their_bytes_and_safe_names(
    convert_rich: Convert, rich_archive: RichArchive
) -> None:
    out, report = convert_rich("mattermost")
    files = entries(out)
    post = _post(out, "files attached")
    paths = [attachment["path"] for attachment in post["attachments"]]
    assert len(paths) == 7
    names = [path.rsplit("/", 1)[1] for path in paths]
    assert "CON.txt" in names and "photo.png" in names and names.count("report.txt") == 2
    assert "_.._etc_passwd" in names
    assert "_gpj.exe" in names
    assert all(len(name.encode()) <= 200 for name in names)
    database = sqlite3.connect(rich_archive.root / "archive.sqlite")
    digests = {row[0] for row in database.execute("SELECT sha256 FROM files WHERE sha256 IS NOT NULL")}
    for path in paths:
        assert hashlib.sha256(files[f"data/{path}"]).hexdigest() in digests
    assert set(report.examples("file_missing")) == {"pending.bin", "vanished.bin"}
    assert all(not name.startswith("/") and ".." not in name.split("/") for name in files)


def test_users_get_valid_names_and_placeholder_emails(convert_rich: Convert) -> None:
    out, report = convert_rich("mattermost")
    users = {user["username"]: user for user in payloads(out, "user")}
    assert users["alice"]["email"] == "alice@users.invalid"
    assert users["bob"]["email"] == "bob@example.com"
    assert "carol" in users and len(users["carol"]["first_name"]) == 64
    assert "remote-dave" in users
    assert users["gone"]["delete_at"] > 0
    assert users["me"]["profile_image"].startswith("avatars/")
    assert entries(out)["data/" + users["me"]["profile_image"]] == PNG_BYTES
    assert set(report.examples("placeholder_email")) >= {"alice", "robot"}
    assert report.examples("renamed_user") == ["remote:dave -> remote-dave"]
    assert report.examples("bot_as_user") == ["robot"]
    unknown = [name for name in users if name.startswith("unknown-")]
    assert len(unknown) == 1 and _post(out, "from someone the archive does not know")["user"] == unknown[0]
    town = next(team for team in users["me"]["teams"] if team["name"] == "acme")
    favorite = next(channel for channel in town["channels"] if channel["name"] == "town-square")
    assert favorite["favorite"] is True


def test_teams_and_channels_follow_the_naming_rules(convert_rich: Convert) -> None:
    out, report = convert_rich("mattermost")
    teams = {team["name"] for team in payloads(out, "team")}
    assert teams == {"acme", "team-helpdesk"}
    channels = {(channel["team"], channel["name"]): channel for channel in payloads(out, "channel")}
    assert ("team-helpdesk", "bad-name") in channels
    assert channels[("acme", "old-stuff")]["deleted_at"] > 0
    assert len(channels[("acme", "unicode")]["display_name"]) == 64
    assert len(channels[("acme", "secret-plans")]["purpose"]) == 250
    assert not any(name == "a-space" for _, name in channels)
    assert report.examples("skipped_channel_type") == ["A space (type S)"]


def test_direct_and_group_messages(convert_rich: Convert) -> None:
    out, report = convert_rich("mattermost")
    direct = {tuple(channel["members"]): channel for channel in payloads(out, "direct_channel")}
    assert ("me", "me") in direct
    assert direct[("alice", "me")]["favorited_by"] == ["me"]
    assert any(sorted(members) == ["alice", "bob", "me"] for members in direct)
    assert not any(len(members) > 8 for members in direct)
    big = next(channel for channel in payloads(out, "channel") if channel["name"].startswith("group-"))
    assert big["type"] == "P"
    assert _post(out, "a group too big for Mattermost")["channel"] == big["name"]
    assert report.issues()["group_as_channel"] == 1
    note = _post(out, "note to self", "direct_post")
    assert note["channel_members"] == ["me", "me"]
    thread = _post(out, "hi alice", "direct_post")
    assert [reply["message"] for reply in thread["replies"]] == ["hi back"]
    file_post = _post(out, "a file for you", "direct_post")
    assert entries(out)["data/" + file_post["attachments"][0]["path"]] == b"# notes\n"


def test_custom_emoji_with_images_only(convert_rich: Convert) -> None:
    out, report = convert_rich("mattermost")
    emoji = payloads(out, "emoji")
    assert [item["name"] for item in emoji] == ["party_parrot"]
    assert entries(out)["data/" + emoji[0]["image"]] == PNG_BYTES
    assert report.examples("emoji_missing_image") == [":ghost:"]
    assert report.examples("emoji_invalid_name") == [":bad name!:"]


def test_team_option_puts_every_channel_and_user_into_one_team(convert_rich: Convert) -> None:
    out, report = convert_rich("mattermost", team="newteam")
    assert [team["name"] for team in payloads(out, "team")] == ["newteam"]
    names = sorted(channel["name"] for channel in payloads(out, "channel"))
    assert "off-topic" in names and "helpdesk-off-topic" in names
    assert all(channel["team"] == "newteam" for channel in payloads(out, "channel"))
    assert all([team["name"] for team in user["teams"]] == ["newteam"] for user in payloads(out, "user"))
    assert report.issues()["teams_merged"] == 2


def test_direct_only_leaves_out_team_channels(convert_rich: Convert) -> None:
    out, report = convert_rich("mattermost", direct_only=True)
    types = {row["type"] for row in jsonl(out)}
    assert types == {"version", "user", "emoji", "direct_channel", "direct_post"}
    assert any("--direct-only" in note for note in report.notes)
    with_team, _ = convert_rich("mattermost", direct_only=True, team="newteam")
    assert [team["name"] for team in payloads(with_team, "team")] == ["newteam"]
    assert all(user["teams"][0]["name"] == "newteam" for user in payloads(with_team, "user"))


def test_output_is_byte_identical_across_runs(rich_archive: RichArchive, tmp_path: Path) -> None:
    first = tmp_path / "one" / "out.zip"
    second = tmp_path / "two" / "other-name.zip"
    first.parent.mkdir()
    second.parent.mkdir()
    for target in ("mattermost", "zulip", "slack", "rocketchat-csv"):
        convert_archive(rich_archive.root, target, first, ConvertOptions())
        convert_archive(rich_archive.root, target, second, ConvertOptions())
        assert first.read_bytes() == second.read_bytes(), target
    assert sorted(path.name for path in first.parent.iterdir()) == ["out.zip", "out.zip.report.txt"]


def test_files_outside_the_archive_are_never_copied(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"do not leak")
    builder = ArchiveBuilder(tmp_path / "archive")
    me = builder.add_user("me", email="me@example.org", owner=True)
    town = builder.add_channel("O", "town-square", "Town Square", team_id=builder.add_team("acme", "ACME"))
    post = builder.add_post(town, me, "sneaky")
    file_id = builder.add_file(post, "innocent.txt", b"placeholder")
    archive = builder.close()
    stored = next((archive / "files").rglob(f"{file_id}.*"))
    stored.unlink()
    stored.symlink_to(secret)
    database = sqlite3.connect(archive / "archive.sqlite")
    database.execute(
        "INSERT INTO files (id, post_id, name, status, path, raw) VALUES (?, ?, ?, 'saved', ?, '{}')",
        ("x" * 26, post, "escape.txt", "../secret.txt"),
    )
    database.commit()
    out = tmp_path / "out.zip"
    report = convert_archive(archive, "mattermost", out, ConvertOptions())
    assert b"do not leak" not in b"".join(entries(out).values())
    assert report.issues()["file_missing"] == 2
