"""A Mattermost bulk-import zip applied to a sandbox World, with the rules of the server's importer.

What `mmctl import upload` + `mmctl import process` do on a real server (reference:
formats-and-viewers.md §1; mattermost/mattermost `app/imports/import_validators.go`,
`app/import_functions.go`): the first `*.jsonl` entry of the zip is read line by line; line 1 must
be `{"type":"version","version":1}`; each line is validated and a failure stops the import with the
line number and the server's error id; teams, channels and users are created or updated by name;
posts are matched by (channel, create_at, message) so importing twice changes nothing; replies nest
in their root; attachments, custom emoji and profile images are read from `data/` inside the zip
(an attachment that cannot be read is skipped with a warning, as the server does).

Post lines are written in batches of 1000 like the server's workers: a line only matches posts that
existed before its batch, so identical posts inside one batch are all kept and across batches merged.
Unlike the real job, every line is checked before the first change, so a rejected file leaves the
world untouched; the error reported is the one the real importer stops at.
"""

from __future__ import annotations

import bisect
import io
import json
import posixpath
import re
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aiohttp import web

from mmtakeout.sandbox.auth import find_token
from mmtakeout.sandbox.blobs import BlobSpec
from mmtakeout.sandbox.ids import new_id
from mmtakeout.sandbox.world import (
    Channel,
    Emoji,
    Post,
    Reaction,
    Team,
    TeamMember,
    User,
    World,
    file_info_for_name,
)

MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_POST_RUNES = 16383
MAX_PROPS_RUNES = 800000
POST_BATCH = 1000
DEFAULT_CHANNELS = (("town-square", "Town Square"), ("off-topic", "Off-Topic"))
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
RESTRICTED_USERNAMES = frozenset({"all", "channel", "matterbot", "system"})
SYSTEM_ROLES = frozenset(
    {
        "system_user",
        "system_admin",
        "system_guest",
        "system_post_all",
        "system_post_all_public",
        "system_read_only_admin",
        "system_user_access_token",
        "system_manager",
    }
)
TEAM_ROLES = frozenset({"team_user", "team_admin", "team_guest", "team_post_all", "team_post_all_public"})
CHANNEL_ROLES = frozenset({"channel_user", "channel_admin", "channel_guest"})
POST_TYPES = frozenset(
    {
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
)
KNOWN_LINE_TYPES = (
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
)

_TEAM_NAME = re.compile(r"^[a-z0-9]+([a-z\-0-9]+|(__)?)[a-z0-9]+$")
_CHANNEL_NAME = re.compile(r"^[a-z0-9]+([a-z\-\_0-9]+|(__)?)[a-z0-9]*$")
_USERNAME = re.compile(r"^[a-z0-9.\-_]+$")
_EMOJI_NAME = re.compile(r"^[a-zA-Z0-9+_-]+$")
_EMAIL = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+$")


class BulkImportError(Exception):
    """The importer rejected the file at `line` (0 when the zip itself is unusable)."""

    def __init__(self, line: int, error_id: str, detail: str = "") -> None:
        self.line = line
        self.error_id = error_id
        self.detail = detail
        where = f" (line {line})" if line else ""
        super().__init__(f"{error_id}{where}{': ' + detail if detail else ''}")


@dataclass
class ImportSummary:
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def count(self, what: str, amount: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + amount


@dataclass
class _Line:
    number: int
    type: str
    data: dict[str, Any]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _runes(value: Any) -> int:
    return len(value) if isinstance(value, str) else 0


def _data_entry(path: Any) -> str | None:
    """The zip entry for a `data/`-relative path (the server's ValidateAttachmentPathForImport)."""
    if not isinstance(path, str) or not path:
        return None
    joined = posixpath.normpath(posixpath.join("data", path))
    return joined if joined.startswith("data/") else None


# --- reading the zip ------------------------------------------------------------------------------


def _read_lines(archive: zipfile.ZipFile) -> Iterator[_Line]:
    jsonl = next((info for info in archive.infolist() if info.filename.endswith(".jsonl")), None)
    if jsonl is None:
        raise BulkImportError(0, "app.import.bulk_import.jsonl_missing.error", "no .jsonl file in the zip")
    seen_version = False
    with archive.open(jsonl) as stream:
        for number, raw in enumerate(stream, 1):
            if len(raw) > MAX_LINE_BYTES:
                raise BulkImportError(number, "app.import.bulk_import.file_scan.error", "token too long")
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
            except ValueError as error:
                raise BulkImportError(
                    number, "app.import.bulk_import.json_decode.error", str(error)
                ) from error
            line_type = row.get("type") if isinstance(row, dict) else None
            if number == 1:
                if line_type != "version" or row.get("version") != 1:
                    raise BulkImportError(1, "app.import.bulk_import.unsupported_version.error")
                seen_version = True
                continue
            if line_type not in KNOWN_LINE_TYPES or line_type == "version":
                raise BulkImportError(
                    number, "app.import.import_line.unknown_line_type.error", str(line_type)
                )
            payload = row.get(line_type)
            if not isinstance(payload, dict):
                raise BulkImportError(number, f"app.import.import_line.null_{line_type}.error")
            yield _Line(number, line_type, payload)
    if not seen_version:
        raise BulkImportError(1, "app.import.bulk_import.unsupported_version.error", "the file is empty")


# --- validation (the server's import_validators.go) ------------------------------------------------------


def _validate_team(team: dict[str, Any]) -> None:
    name = _text(team.get("name"))
    if name is None:
        raise ValueError("app.import.validate_team_import_data.name_missing.error")
    if len(name) > 64:
        raise ValueError("app.import.validate_team_import_data.name_length.error")
    if name.lower().startswith(RESERVED_TEAM_PREFIXES):
        raise ValueError("app.import.validate_team_import_data.name_reserved.error")
    if len(name) < 2 or not _TEAM_NAME.match(name.lower()):
        raise ValueError("app.import.validate_team_import_data.name_characters.error")
    display = _text(team.get("display_name"))
    if display is None:
        raise ValueError("app.import.validate_team_import_data.display_name_missing.error")
    if not 0 < len(display) <= 64:
        raise ValueError("app.import.validate_team_import_data.display_name_length.error")
    if team.get("type") not in ("O", "I"):
        raise ValueError("app.import.validate_team_import_data.type_invalid.error")
    if len(_text(team.get("description")) or "") > 255:
        raise ValueError("app.import.validate_team_import_data.description_length.error")


def _validate_channel(channel: dict[str, Any]) -> None:
    if _text(channel.get("team")) is None:
        raise ValueError("app.import.validate_channel_import_data.team_missing.error")
    name = _text(channel.get("name"))
    if name is None:
        raise ValueError("app.import.validate_channel_import_data.name_missing.error")
    if len(name) > 64:
        raise ValueError("app.import.validate_channel_import_data.name_length.error")
    lowered = name.lower()
    parts = lowered.split("__")
    looks_direct = len(parts) == 2 and all(len(part) == 26 and part.isalnum() for part in parts)
    if not _CHANNEL_NAME.match(lowered) or re.fullmatch(r"[a-f0-9]{40}", lowered) or looks_direct:
        raise ValueError("app.import.validate_channel_import_data.name_characters.error")
    if _runes(channel.get("display_name")) > 64:
        raise ValueError("app.import.validate_channel_import_data.display_name_length.error")
    if channel.get("type") not in ("O", "P"):
        raise ValueError("app.import.validate_channel_import_data.type_invalid.error")
    if _runes(channel.get("header")) > 1024:
        raise ValueError("app.import.validate_channel_import_data.header_length.error")
    if _runes(channel.get("purpose")) > 250:
        raise ValueError("app.import.validate_channel_import_data.purpose_length.error")


def _valid_roles(roles: Any, allowed: frozenset[str]) -> bool:
    if roles is None:
        return True
    names = str(roles).split()
    return all(name in allowed for name in names) and names != ["system_admin"]


def _validate_user(user: dict[str, Any], names: set[str]) -> None:
    username = _text(user.get("username"))
    if username is None:
        raise ValueError("app.import.validate_user_import_data.username_missing.error")
    lowered = username.lower()
    if not 0 < len(lowered) <= 64 or not _USERNAME.match(lowered) or lowered in RESTRICTED_USERNAMES:
        raise ValueError("app.import.validate_user_import_data.username_invalid.error")
    email = _text(user.get("email"))
    if email is None:
        raise ValueError("app.import.validate_user_import_data.email_missing.error")
    if not email or len(email) > 128:
        raise ValueError("app.import.validate_user_import_data.email_length.error")
    if not _EMAIL.match(email.lower()):
        raise ValueError("model.user.is_valid.email.app_error")
    if user.get("auth_data") is not None and user.get("password") is not None:
        raise ValueError("app.import.validate_user_import_data.auth_data_and_password.error")
    if user.get("password") == "":
        raise ValueError("app.import.validate_user_import_data.password_length.error")
    for key, limit in (("nickname", 64), ("first_name", 64), ("last_name", 64), ("position", 128)):
        if _runes(user.get(key)) > limit:
            raise ValueError(f"app.import.validate_user_import_data.{key}_length.error")
    if not _valid_roles(user.get("roles"), SYSTEM_ROLES):
        raise ValueError("app.import.validate_user_import_data.roles_invalid.error")
    image = user.get("profile_image")
    if image is not None and (_data_entry(image) is None or _data_entry(image) not in names):
        raise ValueError("app.import.validate_user_import_data.profile_image.error")
    for team in user.get("teams") or []:
        if _text(team.get("name")) is None:
            raise ValueError("app.import.validate_user_teams_import_data.team_name_missing.error")
        if not _valid_roles(team.get("roles"), TEAM_ROLES):
            raise ValueError("app.import.validate_user_teams_import_data.invalid_roles.error")
        for channel in team.get("channels") or []:
            if _text(channel.get("name")) is None:
                raise ValueError("app.import.validate_user_channels_import_data.channel_name_missing.error")
            if not _valid_roles(channel.get("roles"), CHANNEL_ROLES):
                raise ValueError("app.import.validate_user_channels_import_data.invalid_roles.error")


def _validate_reaction(reaction: dict[str, Any], parent_create_at: int) -> None:
    if _text(reaction.get("user")) is None:
        raise ValueError("app.import.validate_reaction_import_data.user_missing.error")
    name = _text(reaction.get("emoji_name"))
    if name is None:
        raise ValueError("app.import.validate_reaction_import_data.emoji_name_missing.error")
    if len(name) > 64:
        raise ValueError("app.import.validate_reaction_import_data.emoji_name_length.error")
    created = reaction.get("create_at")
    if not isinstance(created, int):
        raise ValueError("app.import.validate_reaction_import_data.create_at_missing.error")
    if created == 0:
        raise ValueError("app.import.validate_reaction_import_data.create_at_zero.error")
    if created < parent_create_at:
        raise ValueError("app.import.validate_reaction_import_data.create_at_before_parent.error")


def _validate_post_body(post: dict[str, Any], kind: str, *, is_reply: bool) -> None:
    prefix = (
        "app.import.validate_reply_import_data" if is_reply else f"app.import.validate_{kind}_import_data"
    )
    if _text(post.get("user")) is None:
        raise ValueError(f"{prefix}.user_missing.error")
    message = _text(post.get("message"))
    if message is None:
        raise ValueError(f"{prefix}.message_missing.error")
    if len(message) > MAX_POST_RUNES:
        raise ValueError(f"{prefix}.message_length.error")
    created = post.get("create_at")
    if not isinstance(created, int):
        raise ValueError(f"{prefix}.create_at_missing.error")
    if created == 0:
        raise ValueError(f"{prefix}.create_at_zero.error")
    props = post.get("props")
    if props is not None and len(json.dumps(props, ensure_ascii=False)) > MAX_PROPS_RUNES:
        raise ValueError("app.import.validate_post_import_data.props_too_large.error")
    post_type = post.get("type", "") or ""
    if post_type not in POST_TYPES and not str(post_type).startswith("custom_"):
        raise ValueError("model.post.is_valid.type.app_error")
    for reaction in post.get("reactions") or []:
        _validate_reaction(reaction, created)
    for attachment in post.get("attachments") or []:
        if attachment.get("path") and _data_entry(attachment.get("path")) is None:
            raise ValueError(f"{prefix}.attachment.error")
    if not is_reply:
        for reply in post.get("replies") or []:
            _validate_post_body(reply, kind, is_reply=True)


def _validate_members(members: Any, kind: str) -> list[str]:
    if not isinstance(members, list):
        raise ValueError(f"app.import.validate_{kind}_import_data.members_required.error")
    if len(members) != 2 and len(members) < 3:
        raise ValueError(f"app.import.validate_{kind}_import_data.members_too_few.error")
    if len(members) > 8:
        raise ValueError(f"app.import.validate_{kind}_import_data.members_too_many.error")
    return [str(member).lower() for member in members]


def _validate_emoji(emoji: dict[str, Any], names: set[str]) -> None:
    name = _text(emoji.get("name"))
    if not name:
        raise ValueError("app.import.validate_emoji_import_data.name_missing.error")
    image = _text(emoji.get("image"))
    if not image:
        raise ValueError("app.import.validate_emoji_import_data.image_missing.error")
    if _data_entry(image) is None:
        raise ValueError("app.import.validate_emoji_import_data.invalid_image_path.error")
    if len(name) > 64 or not _EMOJI_NAME.match(name):
        raise ValueError("model.emoji.name.app_error")


# --- the importer ---------------------------------------------------------------------------------------


class _Importer:
    def __init__(self, world: World, archive: zipfile.ZipFile) -> None:
        self.world = world
        self.archive = archive
        self.names = {info.filename for info in archive.infolist() if not info.is_dir()}
        self.summary = ImportSummary()
        self._batch: set[str] = set()
        self._batch_type = ""
        self._batch_lines = 0
        team_names = {team.id: team.name.lower() for team in world.teams.values()}
        self._teams = set(team_names.values())
        self._users = {user.username.lower() for user in world.users.values()}
        self._channels = {
            (team_names[channel.team_id], channel.name.lower())
            for channel in world.channels.values()
            if channel.team_id in team_names
        }

    def check(self, line: _Line) -> None:
        """Validate one line against the world and the lines before it, as the importer would."""
        data = line.data
        if line.type == "team":
            _validate_team(data)
            team = data["name"].lower()
            if team not in self._teams:
                self._teams.add(team)
                self._channels.update((team, name) for name, _ in DEFAULT_CHANNELS)
        elif line.type == "channel":
            _validate_channel(data)
            team = data["team"].lower()
            if team not in self._teams:
                raise ValueError("app.import.import_channel.team_not_found.error")
            self._channels.add((team, data["name"].lower()))
        elif line.type == "user":
            _validate_user(data, self.names)
            for team_data in data.get("teams") or []:
                team = team_data["name"].lower()
                if team not in self._teams:
                    raise ValueError("app.import.import_user_teams.team_not_found.error")
                for channel in team_data.get("channels") or []:
                    if (team, channel["name"].lower()) not in self._channels:
                        raise ValueError("app.import.import_user_channels.channel_not_found.error")
            self._users.add(data["username"].lower())
        elif line.type == "post":
            for key in ("team", "channel"):
                if _text(data.get(key)) is None:
                    raise ValueError(f"app.import.validate_post_import_data.{key}_missing.error")
            _validate_post_body(data, "post", is_reply=False)
            team = data["team"].lower()
            if team not in self._teams:
                raise ValueError("app.import.get_teams_by_names.some_teams_not_found.error")
            if (team, data["channel"].lower()) not in self._channels:
                raise ValueError("app.import.import_post.channel_not_found.error")
            self._check_users(data)
        elif line.type == "direct_channel":
            members = _validate_members(data.get("members"), "direct_channel")
            self._require_users(members)
            for favoriter in data.get("favorited_by") or []:
                if str(favoriter).lower() not in members:
                    raise ValueError("app.import.validate_direct_channel_import_data.unknown_favoriter.error")
        elif line.type == "direct_post":
            members = _validate_members(data.get("channel_members"), "direct_post")
            _validate_post_body(data, "direct_post", is_reply=False)
            for flagger in data.get("flagged_by") or []:
                if str(flagger).lower() not in members:
                    raise ValueError("app.import.validate_direct_post_import_data.unknown_flagger.error")
            self._require_users(members)
            self._check_users(data)
        elif line.type == "emoji":
            _validate_emoji(data, self.names)
        else:
            raise ValueError(f"app.import.import_line.{line.type}_not_supported_by_sandbox.error")

    def _require_users(self, usernames: list[str]) -> None:
        if any(name not in self._users for name in usernames):
            raise ValueError("app.import.get_users_by_username.some_users_not_found.error")

    def _check_users(self, post: dict[str, Any]) -> None:
        posts = [post, *(post.get("replies") or [])]
        names = [str(item["user"]).lower() for item in posts]
        names += [str(reaction["user"]).lower() for item in posts for reaction in item.get("reactions") or []]
        names += [str(flagger).lower() for item in posts for flagger in item.get("flagged_by") or []]
        self._require_users(names)

    # -- applying -----------------------------------------------------------------------------------

    def _id(self) -> str:
        return new_id(self.world.rng)

    def _team(self, name: str) -> Team:
        return next(team for team in self.world.teams.values() if team.name.lower() == name.lower())

    def _user(self, username: str) -> User:
        return self.world.users[self.world.user_ids_by_name[username.lower()]]

    def _channel(self, team_id: str, name: str) -> Channel | None:
        for channel in self.world.channels.values():
            if channel.team_id == team_id and channel.name.lower() == name.lower():
                return channel
        return None

    def apply_team(self, data: dict[str, Any]) -> None:
        existing = next(
            (t for t in self.world.teams.values() if t.name.lower() == data["name"].lower()), None
        )
        if existing is None:
            at = self.world.now()
            existing = self.world.add_team(
                Team(self._id(), data["name"].lower(), data["display_name"], at, at)
            )
            for name, display in DEFAULT_CHANNELS:
                self.world.add_channel(Channel(self._id(), existing.id, "O", name, display, at, at))
            self.summary.count("teams")
        existing.display_name = data["display_name"]
        existing.type = data["type"]
        existing.description = data.get("description") or existing.description
        existing.allow_open_invite = bool(data.get("allow_open_invite", existing.allow_open_invite))

    def apply_channel(self, data: dict[str, Any]) -> None:
        team = self._team(data["team"])
        channel = self._channel(team.id, data["name"])
        display = data.get("display_name") or data["name"]
        if channel is None:
            at = self.world.now()
            channel = self.world.add_channel(
                Channel(self._id(), team.id, data["type"], data["name"].lower(), display, at, at)
            )
            self.summary.count("channels")
        channel.display_name = display
        channel.type = data["type"]
        channel.header = data.get("header") or ""
        channel.purpose = data.get("purpose") or ""
        if (data.get("deleted_at") or 0) > 0:
            channel.delete_at = int(data["deleted_at"])

    def apply_user(self, data: dict[str, Any]) -> None:
        username = data["username"].lower()
        user_id = self.world.user_ids_by_name.get(username)
        if user_id is None:
            at = self.world.now()
            user = self.world.add_user(User(self._id(), username, data["email"].lower(), "", "", at, at))
            self.summary.count("users")
        else:
            user = self.world.users[user_id]
            user.email = data["email"].lower()
        for key in ("first_name", "last_name", "nickname", "position"):
            if isinstance(data.get(key), str):
                setattr(user, key, data[key])
        user.roles = data.get("roles") or user.roles or "system_user"
        if data.get("delete_at"):
            user.delete_at = int(data["delete_at"])
        if data.get("profile_image"):
            user.last_picture_update = self.world.now()
        for team_data in data.get("teams") or []:
            team = self._team(team_data["name"])
            if user.id not in self.world.team_members.get(team.id, {}):
                roles = team_data.get("roles") or "team_user"
                self.world.add_team_member(TeamMember(team.id, user.id, self.world.now(), roles=roles))
            for name, _ in DEFAULT_CHANNELS:
                default = self._channel(team.id, name)
                if default is not None and not default.delete_at:
                    self.world.add_channel_member(default.id, user.id)
            for channel_data in team_data.get("channels") or []:
                channel = self._channel(team.id, channel_data["name"])
                assert channel is not None
                self.world.add_channel_member(channel.id, user.id)
                if channel_data.get("favorite"):
                    favorites = self.world.favorites.setdefault(user.id, [])
                    if channel.id not in favorites:
                        favorites.append(channel.id)

    def _direct_channel(self, usernames: list[str]) -> Channel:
        user_ids = [self._user(name).id for name in usernames]
        if len(user_ids) == 2:
            return self.world.create_direct_channel(user_ids[0], user_ids[1])
        return self.world.create_group_channel(user_ids)

    def apply_direct_channel(self, data: dict[str, Any]) -> None:
        channel = self._direct_channel(data["members"])
        if "header" in data:
            channel.header = data.get("header") or ""
        for favoriter in data.get("favorited_by") or []:
            favorites = self.world.favorites.setdefault(self._user(favoriter).id, [])
            if channel.id not in favorites:
                favorites.append(channel.id)
        self.summary.count("direct channels")

    def _attach(self, post: Post, attachments: list[dict[str, Any]], line: int) -> None:
        file_ids = list(post.file_ids)
        for attachment in attachments:
            entry = _data_entry(attachment.get("path"))
            if entry is None or entry not in self.names:
                self.summary.warnings.append(
                    f"line {line}: failed to import attachment {attachment.get('path')!r}"
                )
                continue
            data = self.archive.read(entry)
            name = posixpath.basename(entry)
            duplicate = any(
                self.world.files[file_id].name == name and self.world.file_bytes(file_id) == data
                for file_id in file_ids
                if file_id in self.world.files
            )
            if duplicate:
                continue
            info = file_info_for_name(
                self._id(),
                name,
                seed=0,
                post_id=post.id,
                channel_id=post.channel_id,
                user_id=post.user_id,
                at=post.create_at,
                content=BlobSpec("stored", 0, size=len(data), data=data),
            )
            self.world.add_file(info)
            file_ids.append(info.id)
            self.summary.count("files")
        post.file_ids = tuple(file_ids)

    def _react(self, post: Post, reactions: list[dict[str, Any]]) -> None:
        existing = self.world.reactions.setdefault(post.id, [])
        for data in reactions:
            user = self._user(data["user"])
            if any(r.user_id == user.id and r.emoji_name == data["emoji_name"] for r in existing):
                continue
            self.world.load_reaction(
                Reaction(user.id, post.id, data["emoji_name"], data["create_at"], post.channel_id)
            )
            post.has_reactions = True
            self.summary.count("reactions")

    def _write_post(
        self, channel: Channel, data: dict[str, Any], line: int, root: Post | None, fresh: set[str]
    ) -> Post:
        """Create or overwrite a post; `fresh` holds posts this step made, which the server does not see yet.

        Like `GetPostsCreatedAt` in the server, a post line matches any post of the channel with the same
        time and text, a reply only replies to the same root.
        """
        created = data["create_at"] if root is None else max(data["create_at"], root.create_at)
        root_id = root.id if root is not None else ""
        live = self.world.channel_posts[channel.id].live
        start = bisect.bisect_left(live, (created, ""), key=lambda post: (post.create_at, post.id))
        existing = None
        for candidate in live[start:]:
            if candidate.create_at != created:
                break
            same_thread = root is None or candidate.root_id == root_id
            if candidate.message == data["message"] and same_thread and candidate.id not in fresh:
                existing = candidate
                break
        user = self._user(data["user"])
        if existing is None:
            post = self.world.create_post(
                channel.id,
                user.id,
                data["message"],
                root_id=root_id,
                create_at=created,
                post_type=data.get("type") or "",
                props=data.get("props"),
            )
            fresh.add(post.id)
            self.summary.count("posts")
        else:
            post = existing
            post.user_id = user.id
        if data.get("edit_at"):
            post.edit_at = int(data["edit_at"])
        if "is_pinned" in data:
            post.is_pinned = bool(data["is_pinned"])
        self._attach(post, data.get("attachments") or [], line)
        self._react(post, data.get("reactions") or [])
        return post

    def _write_thread(self, channel: Channel, data: dict[str, Any], line: int) -> None:
        root = self._write_post(channel, data, line, None, self._batch)
        replies_written: set[str] = set()
        for reply in data.get("replies") or []:
            self._write_post(channel, reply, line, root, replies_written)

    def apply_post(self, data: dict[str, Any], line: int) -> None:
        channel = self._channel(self._team(data["team"]).id, data["channel"])
        assert channel is not None
        self._write_thread(channel, data, line)

    def apply_direct_post(self, data: dict[str, Any], line: int) -> None:
        self._write_thread(self._direct_channel(data["channel_members"]), data, line)

    def apply_emoji(self, data: dict[str, Any], line: int) -> None:
        entry = _data_entry(data["image"])
        if entry is None or entry not in self.names:
            raise BulkImportError(line, "app.import.emoji.bad_file.error", data["image"])
        image = self.archive.read(entry)
        spec = BlobSpec("stored", 0, size=len(image), data=image)
        existing = self.world.emoji_by_name(data["name"])
        if existing is not None:
            existing.image = spec
            return
        at = self.world.now()
        self.world.add_emoji(Emoji(self._id(), self.world.primary_user_id, data["name"], at, at, spec))
        self.summary.count("emoji")

    def apply(self, line: _Line) -> None:
        if line.type in ("post", "direct_post"):
            if line.type != self._batch_type or self._batch_lines == POST_BATCH:
                self._batch, self._batch_type, self._batch_lines = set(), line.type, 0
            self._batch_lines += 1
        if line.type in ("post", "direct_post", "emoji"):
            getattr(self, f"apply_{line.type}")(line.data, line.number)
        else:
            getattr(self, f"apply_{line.type}")(line.data)


def import_bulk_zip(world: World, source: bytes | Path | IO[bytes]) -> ImportSummary:
    """Apply the zip to `world`; BulkImportError (world unchanged) when the importer would refuse it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError) as error:
        raise BulkImportError(0, "app.import.bulk_import.zip_invalid.error", str(error)) from error
    with archive, world.lock:
        importer = _Importer(world, archive)
        lines = list(_read_lines(archive))
        for line in lines:
            try:
                importer.check(line)
            except ValueError as error:
                raise BulkImportError(line.number, str(error)) from error
        for line in lines:
            importer.apply(line)
        return importer.summary


async def handle_import_request(request: web.Request, world: World) -> web.Response:
    """`POST /sandbox/import` with the zip as the body; a sandbox-only stand-in for `mmctl import process`.

    The body is streamed to a spooled file: the server's 1 MiB request limit does not apply to imports.
    """
    found = find_token(request)
    session = world.session(found.token) if found.token else None
    if session is None:
        return web.json_response(
            {"id": "api.context.session_expired.app_error", "status_code": 401}, status=401
        )
    with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as body:
        async for chunk in request.content.iter_chunked(1024 * 1024):
            body.write(chunk)
        body.seek(0)
        try:
            summary = import_bulk_zip(world, body)
        except BulkImportError as error:
            payload = {
                "id": error.error_id,
                "message": str(error),
                "line_number": error.line,
                "status_code": 400,
            }
            return web.json_response(payload, status=400)
    return web.json_response({"status": "success", "counts": summary.counts, "warnings": summary.warnings})
