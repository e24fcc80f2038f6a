"""What the Zulip, Slack and Rocket.Chat outputs carry from the hostile archive, and what they report."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import html2text
from convert_builder import PNG_BYTES, RichArchive
from convert_zips import entries, jsonl, payloads

from mmtakeout.convert.slack import slack_id

Convert = Callable[..., tuple[Path, Any]]


# --- Zulip ------------------------------------------------------------------------------------------


def test_zulip_layout_single_team_and_subscriptions(convert_rich: Convert) -> None:
    out, report = convert_rich("zulip")
    files = entries(out)
    assert "export.json" in files and "import.jsonl" not in files
    types = {row["type"] for row in jsonl(out, "export.json")}
    assert types <= {"version", "team", "channel", "user", "post", "direct_post", "emoji", "direct_channel"}
    assert [team["name"] for team in payloads(out, "team", "export.json")] == ["acme"]
    channels = payloads(out, "channel", "export.json")
    assert {channel["team"] for channel in channels} == {"acme"}
    displays = [channel["display_name"].lower() for channel in channels]
    assert len(displays) == len(set(displays)) and all(len(name) <= 60 for name in displays)
    assert "off-topic (helpdesk)" in displays
    for user in payloads(out, "user", "export.json"):
        assert [team["name"] for team in user["teams"]] == ["acme"]
    emoji = payloads(out, "emoji", "export.json")[0]
    assert emoji["image"].startswith("exported_emoji/") and files[emoji["image"]] == PNG_BYTES
    assert report.issues()["teams_merged"] == 2
    assert report.issues()["archived_channel_kept_open"] == 1
    assert "avatar_dropped" in report.issues()
    assert any("single" in note or "one team" in note for note in report.notes)


def test_zulip_messages_survive_html2text(convert_rich: Convert) -> None:
    out, _ = convert_rich("zulip")
    root = next(
        post for post in payloads(out, "post", "export.json") if post["message"].startswith("Hello **world**")
    )
    rendered = html2text.HTML2Text().handle(root["message"])
    assert "<script>alert(1)</script> & friends" in rendered
    assert "code <x>" in rendered
    assert rendered.count("\n") >= 5
    direct = payloads(out, "direct_post", "export.json")
    assert all("team" not in post and len(post["channel_members"]) >= 2 for post in direct)


def test_zulip_splits_messages_below_its_10000_character_skip(
    convert_rich: Convert, rich_archive: RichArchive
) -> None:
    out, _ = convert_rich("zulip")
    post = next(
        post for post in payloads(out, "post", "export.json") if post["message"].startswith("long line long")
    )
    pieces = [post["message"], *(reply["message"] for reply in post["replies"])]
    assert len(pieces) == 3
    assert "".join(pieces) == rich_archive.long_message


# --- Slack ------------------------------------------------------------------------------------------


def _slack(out: Path) -> tuple[dict[str, bytes], dict[str, list[dict[str, Any]]]]:
    files = entries(out)
    lists = {
        name[:-5]: json.loads(files[name])
        for name in ("users.json", "channels.json", "groups.json", "dms.json", "mpims.json")
    }
    return files, lists


def _messages(files: dict[str, bytes], folder: str) -> list[dict[str, Any]]:
    return [
        message
        for name in sorted(files)
        if name.startswith(f"{folder}/")
        for message in json.loads(files[name])
    ]


def test_slack_lists_every_kind_of_conversation(convert_rich: Convert, rich_archive: RichArchive) -> None:
    out, report = convert_rich("slack")
    _, lists = _slack(out)
    me = slack_id("U", rich_archive.ids["me"])
    assert {"town-square", "off-topic", "helpdesk-off-topic", "old-stuff"} <= {
        c["name"] for c in lists["channels"]
    }
    assert next(c for c in lists["channels"] if c["name"] == "old-stuff")["is_archived"] is True
    town = next(c for c in lists["channels"] if c["name"] == "town-square")
    assert town["is_general"] is True and town["topic"]["value"] == "Welcome <b>all</b>"
    assert "secret-plans" in {group["name"] for group in lists["groups"]}
    self_dm = next(dm for dm in lists["dms"] if dm["id"] == slack_id("D", rich_archive.ids["self_dm"]))
    assert self_dm["members"] == [me, me]
    assert [mpim["name"] for mpim in lists["mpims"]] == ["mpdm-alice--bob--me-1"]
    users = {user["name"]: user for user in lists["users"]}
    assert users["gone"]["deleted"] is True and users["robot"]["is_bot"] is True
    assert users["alice"]["profile"]["email"] == "alice@users.invalid"
    assert report.issues()["emoji_dropped"] == 3


def test_slack_threads_mentions_reactions_and_times(convert_rich: Convert, rich_archive: RichArchive) -> None:
    out, _ = convert_rich("slack")
    files, _ = _slack(out)
    messages = _messages(files, "town-square")
    root = next(message for message in messages if message["text"].startswith("Hello"))
    assert "&lt;script&gt;" in root["text"] and "&amp; friends" in root["text"]
    assert root["reply_count"] == 2 and root["thread_ts"] == root["ts"]
    replies = [
        message for message in messages if message.get("thread_ts") == root["ts"] and message is not root
    ]
    assert [reply["ts"] for reply in replies] == [entry["ts"] for entry in root["replies"]]
    me, bob = slack_id("U", rich_archive.ids["me"]), slack_id("U", rich_archive.ids["bob"])
    assert replies[0]["text"] == f"<@{me}> agreed, see <@{bob}>."
    assert {reaction["name"] for reaction in root["reactions"]} == {
        "+1",
        "party_parrot",
        "ghost",
        "thumbsup::skin-tone-4",
    }
    assert root["pinned_to"] == [slack_id("C", rich_archive.ids["town"])]
    same = [message for message in messages if message["text"].startswith("same millisecond")]
    assert same[0]["ts"] != same[1]["ts"] and same[0]["ts"][:-3] == same[1]["ts"][:-3]
    edited = next(message for message in messages if message["text"] == "edited text")
    assert edited["edited"]["user"] == me
    assert next(message for message in messages if message["text"] == "/me waves")["subtype"] == "me_message"


def test_slack_files_are_under_uploads_with_their_bytes(convert_rich: Convert) -> None:
    out, report = convert_rich("slack")
    files, _ = _slack(out)
    message = next(
        message for message in _messages(files, "off-topic") if message["text"] == "files attached"
    )
    assert len(message["files"]) == 7
    for attached in message["files"]:
        data = files[f"__uploads/{attached['id']}/{attached['name']}"]
        assert len(data) == attached["size"]
    photo = next(attached for attached in message["files"] if attached["name"] == "photo.png")
    assert files[f"__uploads/{photo['id']}/photo.png"] == PNG_BYTES
    assert photo["url_private"].startswith("https://chat.example.org/api/v4/files/")
    assert set(report.examples("file_missing")) == {"pending.bin", "vanished.bin"}


# --- Rocket.Chat ------------------------------------------------------------------------------------


def _csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_rocketchat_users_channels_and_messages(convert_rich: Convert, rich_archive: RichArchive) -> None:
    out, report = convert_rich("rocketchat-csv")
    files = entries(out)
    users = {row[0]: row for row in _csv(files["users.csv"])}
    assert users["alice"][1:] == ["alice@users.invalid", "Alice Liddell"]
    channels = {row[0]: row for row in _csv(files["channels.csv"])}
    assert channels["town-square"][1:3] == ["me", "public"]
    assert channels["secret-plans"][2] == "private"
    assert channels["me-notes"][3] == "me"
    assert sorted(channels["group-alice-bob-me"][3].split(";")) == ["alice", "bob", "me"]
    town = _csv(files["town-square/messages-0001.csv"])
    assert [int(row[1]) for row in town] == sorted(int(row[1]) for row in town)
    assert [town[1][0], town[1][2]] == ["alice", "@me agreed, see @bob."]
    attached = next(
        row for row in _csv(files["off-topic/messages-0001.csv"]) if row[2].startswith("files attached")
    )
    assert "[file: photo.png]" in attached[2] and "[file: ../../etc/passwd]" in attached[2]
    direct = next(name for name in files if name.startswith("directmessages/") and "alice" in name)
    rows = _csv(files[direct])
    assert rows[0][:2] == ["me", "alice"] and rows[1][:2] == ["alice", "me"] and len(rows[0]) == 4
    issues = report.issues()
    assert issues["reaction_dropped"] == 6
    assert issues["self_dm_as_channel"] == 1
    assert issues["flattened_thread"] >= 3
    assert issues["pin_dropped"] == 1
