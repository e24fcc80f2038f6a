"""Checks a Mattermost bulk-import zip against the importer's published rules.

Written from mattermost/mattermost `app/imports/import_validators.go`, `import_functions.go` and
`model/{team,channel,user,emoji,post}.go` as recorded in formats-and-viewers.md §1 — independently
of the converter, so a converter bug shows up here. Returns a list of problems, each naming the
line number like the importer does; an empty list means the importer would accept the file.
"""

from __future__ import annotations

import json
import posixpath
import re
import zipfile
from pathlib import Path
from typing import Any

LINE_ORDER = [
    "version",
    "role",
    "scheme",
    "team",
    "channel",
    "user",
    "bot",
    "post",
    "emoji",
    "direct_channel",
    "direct_post",
]
MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_POST_RUNES = 16383
MAX_PROPS_RUNES = 800000
RESERVED_TEAM_PREFIXES = (
    "admin",
    "api",
    "channel",
    "claim",
    "error",
    "files",
    "help",
    "landing",
    "login",
    "mfa",
    "oauth",
    "plug",
    "plugins",
    "post",
    "signup",
    "boards",
    "playbooks",
)
RESTRICTED_USERNAMES = {"all", "channel", "matterbot", "system"}
POST_TYPES = {
    "",
    "system_generic",
    "system_join_leave",
    "system_auto_responder",
    "system_add_remove",
    "system_join_channel",
    "system_guest_join_channel",
    "system_leave_channel",
    "system_join_team",
    "system_leave_team",
    "system_add_to_channel",
    "system_add_guest_to_chan",
    "system_remove_from_channel",
    "system_move_channel",
    "system_add_to_team",
    "system_remove_from_team",
    "slack_attachment",
    "system_header_change",
    "system_purpose_change",
    "system_displayname_change",
    "system_convert_channel",
    "system_channel_deleted",
    "system_channel_restored",
    "system_change_chan_privacy",
    "add_bot_teams_channels",
    "reminder",
    "me",
    "system_wrangler",
    "system_gm_to_channel",
    "burn_on_read",
}
TEAM_NAME = re.compile(r"^[a-z0-9]+([a-z\-0-9]+|(__)?)[a-z0-9]+$")
CHANNEL_NAME = re.compile(r"^[a-z0-9]+([a-z\-_0-9]+|(__)?)[a-z0-9]*$")
USERNAME = re.compile(r"^[a-z0-9.\-_]+$")
EMOJI_NAME = re.compile(r"^[a-zA-Z0-9+_-]+$")
EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
ID = re.compile(r"^[a-z0-9]{26}$")


def _runes(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _inside_data(path: Any) -> str | None:
    """The zip entry a `data/`-relative path names, or None if it escapes `data/`."""
    if not isinstance(path, str) or not path:
        return None
    joined = posixpath.normpath(posixpath.join("data", path))
    return joined if joined.startswith("data/") else None


class _Checker:
    def __init__(self, names: set[str], max_post_runes: int) -> None:
        self.names = names
        self.max_post_runes = max_post_runes
        self.problems: list[str] = []
        self.teams: set[str] = set()
        self.channels: set[tuple[str, str]] = set()
        self.users: set[str] = set()
        self.emails: set[str] = set()
        self.direct_channels: set[tuple[str, ...]] = set()
        self.referenced: set[str] = set()

    def fail(self, line: int, message: str) -> None:
        self.problems.append(f"line {line}: {message}")

    def team(self, line: int, team: dict[str, Any]) -> None:
        name = team.get("name")
        if not isinstance(name, str) or len(name) > 64 or not TEAM_NAME.match(name.lower()) or len(name) < 2:
            self.fail(line, f"invalid team name {name!r}")
        elif name.lower().startswith(RESERVED_TEAM_PREFIXES):
            self.fail(line, f"reserved team name {name!r}")
        display = team.get("display_name")
        if not isinstance(display, str) or not 0 < _runes(display) <= 64:
            self.fail(line, "team display_name missing or longer than 64")
        if team.get("type") not in ("O", "I"):
            self.fail(line, f"team type {team.get('type')!r}")
        if len(team.get("description") or "") > 255:
            self.fail(line, "team description longer than 255")
        self.teams.add(str(name).lower())

    def channel(self, line: int, channel: dict[str, Any]) -> None:
        team, name = channel.get("team"), channel.get("name")
        if not isinstance(team, str) or team.lower() not in self.teams:
            self.fail(line, f"channel of unknown team {team!r}")
        if not isinstance(name, str) or len(name) > 64 or not CHANNEL_NAME.match(name.lower()):
            self.fail(line, f"invalid channel name {name!r}")
        elif re.fullmatch(r"[a-f0-9]{40}", name) or (
            len(name.split("__")) == 2 and all(ID.match(part) for part in name.split("__"))
        ):
            self.fail(line, f"channel name {name!r} looks like a direct or group channel")
        if _runes(channel.get("display_name")) > 64:
            self.fail(line, "channel display_name longer than 64 characters")
        if channel.get("type") not in ("O", "P"):
            self.fail(line, f"channel type {channel.get('type')!r}")
        if _runes(channel.get("header")) > 1024 or _runes(channel.get("purpose")) > 250:
            self.fail(line, "channel header or purpose too long")
        key = (str(team).lower(), str(name).lower())
        if key in self.channels:
            self.fail(line, f"channel {name!r} twice in team {team!r}")
        self.channels.add(key)

    def user(self, line: int, user: dict[str, Any]) -> None:
        username = user.get("username")
        if (
            not isinstance(username, str)
            or not 0 < len(username) <= 64
            or not USERNAME.match(username.lower())
            or username.lower() in RESTRICTED_USERNAMES
        ):
            self.fail(line, f"invalid username {username!r}")
        elif username.lower() in self.users:
            self.fail(line, f"username {username!r} twice")
        self.users.add(str(username).lower())
        email = user.get("email")
        if not isinstance(email, str) or not email or len(email) > 128 or not EMAIL.match(email.lower()):
            self.fail(line, f"invalid email {email!r}")
        elif email.lower() in self.emails:
            self.fail(line, f"email {email!r} twice")
        self.emails.add(str(email).lower())
        for field, limit in (("nickname", 64), ("first_name", 64), ("last_name", 64), ("position", 128)):
            if _runes(user.get(field)) > limit:
                self.fail(line, f"user {field} longer than {limit}")
        roles = str(user.get("roles") or "system_user").split()
        if roles == ["system_admin"] or any(
            role not in ("system_user", "system_admin", "system_guest") for role in roles
        ):
            self.fail(line, f"invalid roles {user.get('roles')!r}")
        if user.get("password") is not None and user.get("auth_data") is not None:
            self.fail(line, "both password and auth_data")
        image = user.get("profile_image")
        if image is not None:
            entry = _inside_data(image)
            if entry is None or entry not in self.names:
                self.fail(line, f"profile_image {image!r} not in the zip")
            else:
                self.referenced.add(entry)
        for team in user.get("teams") or []:
            team_name = str(team.get("name", "")).lower()
            if team_name not in self.teams:
                self.fail(line, f"user in unknown team {team.get('name')!r}")
            if team.get("roles") not in (
                None,
                "team_user",
                "team_admin",
                "team_user team_admin",
                "team_guest",
            ):
                self.fail(line, f"invalid team roles {team.get('roles')!r}")
            for channel in team.get("channels") or []:
                if (team_name, str(channel.get("name", "")).lower()) not in self.channels:
                    self.fail(line, f"user in unknown channel {channel.get('name')!r} of team {team_name!r}")

    def _post_body(self, line: int, post: dict[str, Any], parent_create_at: int | None) -> None:
        user = post.get("user")
        if not isinstance(user, str) or user.lower() not in self.users:
            self.fail(line, f"post by unknown user {user!r}")
        message = post.get("message")
        if not isinstance(message, str):
            self.fail(line, "post without message")
        elif _runes(message) > self.max_post_runes:
            self.fail(line, f"message of {_runes(message)} characters (max {self.max_post_runes})")
        create_at = post.get("create_at")
        if not isinstance(create_at, int) or create_at == 0:
            self.fail(line, "post without create_at")
            create_at = 0
        if post.get("type", "") not in POST_TYPES and not str(post.get("type")).startswith("custom_"):
            self.fail(line, f"post type {post.get('type')!r} the server rejects")
        props = post.get("props")
        if props is not None and len(json.dumps(props, ensure_ascii=False)) > MAX_PROPS_RUNES:
            self.fail(line, "props too large")
        for reaction in post.get("reactions") or []:
            if str(reaction.get("user", "")).lower() not in self.users:
                self.fail(line, f"reaction by unknown user {reaction.get('user')!r}")
            if not 0 < _runes(reaction.get("emoji_name")) <= 64:
                self.fail(line, "reaction emoji_name missing or longer than 64")
            reaction_at = reaction.get("create_at")
            if not isinstance(reaction_at, int) or reaction_at == 0 or reaction_at < create_at:
                self.fail(line, f"reaction create_at {reaction_at!r} missing or before its post")
        attachments = post.get("attachments") or []
        if len(attachments) > 10:
            self.fail(line, f"{len(attachments)} attachments (the post's file_ids hold at most 10)")
        for attachment in attachments:
            entry = _inside_data(attachment.get("path"))
            if entry is None:
                self.fail(line, f"attachment path {attachment.get('path')!r} escapes data/")
            elif entry not in self.names:
                self.fail(line, f"attachment {entry!r} not in the zip")
            else:
                self.referenced.add(entry)
        if parent_create_at is None:
            for reply in post.get("replies") or []:
                self._post_body(line, reply, create_at)

    def post(self, line: int, post: dict[str, Any]) -> None:
        for field in ("team", "channel"):
            if not isinstance(post.get(field), str):
                self.fail(line, f"post without {field}")
        key = (str(post.get("team")).lower(), str(post.get("channel")).lower())
        if key not in self.channels:
            self.fail(line, f"post in unknown channel {key}")
        self._post_body(line, post, None)

    def _members(self, line: int, members: Any, what: str) -> tuple[str, ...]:
        if not isinstance(members, list) or not (len(members) == 2 or 3 <= len(members) <= 8):
            self.fail(line, f"{what} needs 2 or 3-8 members, has {members!r}")
            return ()
        for member in members:
            if str(member).lower() not in self.users:
                self.fail(line, f"{what} member {member!r} is not a user")
        return tuple(sorted(str(member).lower() for member in members))

    def direct_channel(self, line: int, channel: dict[str, Any]) -> None:
        members = self._members(line, channel.get("members"), "direct_channel")
        for favoriter in channel.get("favorited_by") or []:
            if str(favoriter).lower() not in members:
                self.fail(line, f"favorited_by {favoriter!r} is not a member")
        if _runes(channel.get("header")) > 1024:
            self.fail(line, "direct channel header longer than 1024")
        self.direct_channels.add(members)

    def direct_post(self, line: int, post: dict[str, Any]) -> None:
        members = self._members(line, post.get("channel_members"), "direct_post")
        if members and members not in self.direct_channels:
            self.fail(line, f"direct_post for members {members} without a direct_channel line")
        for flagger in post.get("flagged_by") or []:
            if str(flagger).lower() not in members:
                self.fail(line, f"flagged_by {flagger!r} is not a member")
        self._post_body(line, post, None)

    def emoji(self, line: int, emoji: dict[str, Any], image_base: str) -> None:
        name = emoji.get("name")
        if not isinstance(name, str) or not 0 < len(name) <= 64 or not EMOJI_NAME.match(name):
            self.fail(line, f"invalid emoji name {name!r}")
        image = emoji.get("image")
        entry = (
            posixpath.normpath(posixpath.join(image_base, image))
            if isinstance(image, str) and image
            else None
        )
        if entry is None or entry.startswith("..") or entry not in self.names:
            self.fail(line, f"emoji image {image!r} not in the zip")
        else:
            self.referenced.add(entry)


def read_lines(zip_path: Path, jsonl_name: str) -> list[dict[str, Any]]:
    with zipfile.ZipFile(zip_path) as archive:
        return [json.loads(line) for line in archive.read(jsonl_name).decode("utf-8").splitlines() if line]


def validate_bulk_zip(
    zip_path: Path,
    *,
    jsonl_name: str = "import.jsonl",
    emoji_base: str = "data",
    max_post_runes: int = MAX_POST_RUNES,
) -> list[str]:
    with zipfile.ZipFile(zip_path) as archive:
        names = {info.filename for info in archive.infolist() if not info.is_dir()}
        problems = [
            f"unsafe zip entry {name!r}" for name in names if name.startswith("/") or ".." in name.split("/")
        ]
        jsonl = sorted(name for name in names if name.endswith(".jsonl") or name == jsonl_name)
        if jsonl != [jsonl_name]:
            return [*problems, f"expected exactly one {jsonl_name}, found {jsonl}"]
        raw_lines = archive.read(jsonl_name).split(b"\n")
    checker = _Checker(names, max_post_runes)
    checker.problems.extend(problems)
    rank = 0
    for number, raw in enumerate(raw_lines, 1):
        if not raw.strip():
            continue
        if len(raw) > MAX_LINE_BYTES:
            checker.fail(number, f"line of {len(raw)} bytes is longer than the importer's 16 MiB")
        try:
            row = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            checker.fail(number, f"not JSON: {error}")
            continue
        line_type = row.get("type") if isinstance(row, dict) else None
        if line_type not in LINE_ORDER or not isinstance(row.get(line_type), (dict, int)):
            checker.fail(number, f"unknown line type {line_type!r}")
            continue
        if number == 1 and (line_type != "version" or row.get("version") != 1):
            checker.fail(number, "the first line must be the version line with version 1")
        if LINE_ORDER.index(line_type) < rank:
            checker.fail(
                number, f"{line_type} line after {LINE_ORDER[rank]} lines: lines must be grouped by type"
            )
        rank = max(rank, LINE_ORDER.index(line_type))
        payload = row[line_type]
        if _has_nul(payload):
            checker.fail(number, "NUL character in a text (the database rejects it)")
        if line_type == "version":
            if number != 1:
                checker.fail(number, "a version line that is not the first line")
        elif line_type == "emoji":
            checker.emoji(number, payload, emoji_base)
        elif line_type in ("team", "channel", "user", "post", "direct_channel", "direct_post"):
            getattr(checker, line_type)(number, payload)
    unreferenced = sorted(name for name in names if name != jsonl_name and name not in checker.referenced)
    checker.problems.extend(f"zip entry {name!r} is not referenced by any line" for name in unreferenced)
    return checker.problems
