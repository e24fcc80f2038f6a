"""Checks a zip for Zulip's `manage.py convert_mattermost_data` (zerver/data_import/mattermost.py).

Rules as recorded in formats-and-viewers.md §2.2: `export.json` at the top, only the line types the
parser knows (anything else raises KeyError), the keys it reads unconditionally, `direct_post`
without `team`, `channel_members` of two or more, attachments at `data/<path>` (it stats them), emoji
images at `<top>/<image>`, DMs only from a single-team file, stream names unique and at most 60
characters. Zulip runs each message through html2text and skips results over 10000 characters, so
every message is put through html2text here too and must keep its visible text.
"""

from __future__ import annotations

import html
import json
import posixpath
import re
import zipfile
from pathlib import Path
from typing import Any

import html2text

KNOWN_TYPES = {"version", "team", "channel", "user", "post", "direct_post", "emoji", "direct_channel"}
MESSAGE_LIMIT = 10000
STREAM_NAME_MAX = 60


def _visible(text: str) -> str:
    return re.sub(r"[\s\\]", "", text)


def check_message(message: str) -> str | None:
    """Why html2text (as Zulip runs it) would lose or skip this message, or None."""
    converted = html2text.HTML2Text().handle(message)
    if len(converted) > MESSAGE_LIMIT:
        return f"{len(converted)} characters after html2text (Zulip skips over {MESSAGE_LIMIT})"
    original = html.unescape(message.replace("<br>", ""))
    if _visible(converted) != _visible(original):
        return f"html2text changes the text: {message[:80]!r} -> {converted[:80]!r}"
    return None


def validate_zulip_zip(zip_path: Path) -> list[str]:
    problems: list[str] = []
    with zipfile.ZipFile(zip_path) as archive:
        names = {info.filename for info in archive.infolist() if not info.is_dir()}
        if "export.json" not in names:
            return ["no export.json at the top of the zip"]
        rows = [json.loads(line) for line in archive.read("export.json").decode("utf-8").splitlines() if line]
    by_type: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for number, row in enumerate(rows, 1):
        line_type = row.get("type")
        if line_type not in KNOWN_TYPES:
            problems.append(f"line {number}: line type {line_type!r} makes Zulip's parser raise KeyError")
            continue
        by_type.setdefault(line_type, []).append((number, row[line_type]))
    teams = {team["name"] for _, team in by_type.get("team", [])}
    if (by_type.get("direct_post") or by_type.get("direct_channel")) and len(teams) != 1:
        problems.append(
            f"direct messages with {len(teams)} teams: Zulip imports them only from single-team exports"
        )
    users: dict[str, dict[str, Any]] = {}
    for number, user in by_type.get("user", []):
        for key in ("username", "email", "first_name", "last_name", "teams"):
            if key not in user:
                problems.append(f"line {number}: user without {key!r}")
        users[user.get("username", "")] = user
        for team in user.get("teams") or []:
            if "channels" not in team or "roles" not in team:
                problems.append(f"line {number}: team entry without channels or roles")
            for channel in team.get("channels") or []:
                if "name" not in channel or "roles" not in channel:
                    problems.append(f"line {number}: channel entry without name or roles")
    in_team = {
        name for name, user in users.items() if any(t.get("name") in teams for t in user.get("teams") or [])
    }
    stream_names: set[str] = set()
    channel_names: set[str] = set()
    for number, channel in by_type.get("channel", []):
        for key in ("team", "name", "display_name", "type", "purpose", "header"):
            if key not in channel:
                problems.append(f"line {number}: channel without {key!r}")
        if channel.get("type") not in ("O", "P"):
            problems.append(
                f"line {number}: channel type {channel.get('type')!r} (Zulip raises on anything but O/P)"
            )
        display = str(channel.get("display_name", ""))
        if not display.strip() or len(display) > STREAM_NAME_MAX:
            problems.append(f"line {number}: stream name {display!r} empty or longer than {STREAM_NAME_MAX}")
        if display.lower() in stream_names:
            problems.append(f"line {number}: stream name {display!r} twice")
        stream_names.add(display.lower())
        channel_names.add(channel.get("name", ""))

    def check_post(number: int, post: dict[str, Any], is_reply: bool) -> None:
        if post.get("user") not in users:
            problems.append(f"line {number}: post by {post.get('user')!r}, who has no user line")
        elif post.get("user") not in in_team:
            problems.append(f"line {number}: post by {post.get('user')!r}, who is not in the team")
        if not isinstance(post.get("create_at"), int):
            problems.append(f"line {number}: post without create_at")
        if not is_reply and "replies" not in post:
            problems.append(f"line {number}: post without the 'replies' key")
        reason = check_message(str(post.get("message", "")))
        if reason:
            problems.append(f"line {number}: {reason}")
        for reaction in post.get("reactions") or []:
            if "user" not in reaction or "emoji_name" not in reaction:
                problems.append(f"line {number}: reaction without user or emoji_name")
        for attachment in post.get("attachments") or []:
            path = posixpath.normpath(posixpath.join("data", str(attachment.get("path", ""))))
            if not path.startswith("data/") or path not in names:
                problems.append(f"line {number}: attachment {path!r} missing (Zulip stats it and fails)")
        for reply in post.get("replies") or []:
            check_post(number, reply, True)

    for number, post in by_type.get("post", []):
        if post.get("team") not in teams or post.get("channel") not in channel_names:
            problems.append(
                f"line {number}: post in unknown team/channel {post.get('team')}/{post.get('channel')}"
            )
        check_post(number, post, False)
    for number, post in by_type.get("direct_post", []):
        if "team" in post:
            problems.append(f"line {number}: direct_post with a team (Zulip asserts it has none)")
        members = post.get("channel_members")
        if (
            not isinstance(members, list)
            or len(members) < 2
            or any(member not in users for member in members)
        ):
            problems.append(f"line {number}: direct_post channel_members {members!r} (need 2+ known users)")
        check_post(number, post, False)
    for number, channel in by_type.get("direct_channel", []):
        members = channel.get("members")
        if not isinstance(members, list) or any(member not in users for member in members):
            problems.append(f"line {number}: direct_channel with unknown members {members!r}")
    for number, emoji in by_type.get("emoji", []):
        image = str(emoji.get("image", ""))
        if not emoji.get("name") or posixpath.normpath(image) not in names or image.startswith(("/", "..")):
            problems.append(f"line {number}: emoji image {image!r} not at the top of the zip")
    return problems
