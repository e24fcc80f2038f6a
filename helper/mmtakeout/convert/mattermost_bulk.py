"""The archive as a Mattermost bulk-import zip (`mmctl import upload` + `mmctl import process`).

Layout and rules follow Mattermost's importer (reference: formats-and-viewers.md §1): `import.jsonl`
at the root, a `version` line first, then lines grouped by type in the importer's order (team,
channel, user, post, emoji, direct_channel, direct_post), replies nested in their root post, every
file a line refers to under `data/`. Zulip's "Import from Mattermost" reads a variant of the same
file; `BulkProfile` holds the differences so both share this writer.

Streaming: posts are read channel by channel from SQLite and each thread becomes one line written to
a scratch file; attachments are listed in a second scratch file and copied into the zip afterwards,
so memory stays bounded by the largest thread, not by the archive.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from mmtakeout import __version__
from mmtakeout.convert.names import clean_text, safe_file_name, slug, split_message
from mmtakeout.convert.plan import (
    ConvertOptions,
    Plan,
    PlannedChannel,
    PlanRules,
    build_plan,
)
from mmtakeout.convert.report import ConversionReport
from mmtakeout.convert.source import ArchiveSource, Attachment, Post, Thread
from mmtakeout.convert.zipout import atomic_zip
from mmtakeout.render.emoji import system_emoji

MAX_POST_RUNES = 16383
MAX_PROPS_RUNES = 800000
MAX_LINE_BYTES = 16 * 1024 * 1024 - 64 * 1024
MAX_FILES_PER_POST = 10
EMOJI_NAME_MAX = 64
KEPT_POST_TYPES = frozenset({"me", "slack_attachment"})

_EMOJI_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+_-")


def _identity(text: str) -> str:
    return text


@dataclass(frozen=True)
class BulkProfile:
    """What differs between the importers that read the bulk format."""

    target: str
    jsonl_name: str
    max_message_runes: int
    emoji_image_field: Callable[[str], str]
    emoji_zip_path: Callable[[str], str]
    include_avatars: bool
    include_archived_flag: bool
    rules: PlanRules
    transform_message: Callable[[str], str] = _identity


MATTERMOST = BulkProfile(
    target="Mattermost bulk import",
    jsonl_name="import.jsonl",
    max_message_runes=MAX_POST_RUNES,
    emoji_image_field=lambda emoji_id: f"emoji/{emoji_id}/image",
    emoji_zip_path=lambda emoji_id: f"data/emoji/{emoji_id}/image",
    include_avatars=True,
    include_archived_flag=True,
    rules=PlanRules(),
)


def dumps(value: Any) -> bytes:
    """One JSONL line: compact, UTF-8, lone surrogates replaced so the line is valid UTF-8."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")


def _is_valid_emoji_name(name: str) -> bool:
    return 0 < len(name) <= EMOJI_NAME_MAX and set(name) <= _EMOJI_NAME_CHARS


class _FileList:
    """Attachments to copy into the zip after the lines: a scratch file of (zip name, source) pairs."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.count = 0

    def add(self, zip_name: str, source: Path) -> None:
        self._stream.write(dumps([zip_name, str(source)]) + b"\n")
        self.count += 1


class _DistinctTimes:
    """Keeps the posts of one channel from sharing both time and text.

    The importer recognises a post it already has by (channel, create_at, message) and merges a line
    into it, so two identical messages sent in the same millisecond would become one. The later one
    moves on by a millisecond. Only a window of recent keys (time and a digest of the text) is kept:
    posts arrive nearly in time order, so that bounds memory without missing real collisions.
    """

    WINDOW = 10000

    def __init__(self, report: ConversionReport) -> None:
        self.report = report
        self._keys: set[tuple[int, bytes]] = set()
        self._order: deque[tuple[int, bytes]] = deque()

    def separate(self, entry: dict[str, Any]) -> None:
        digest = hashlib.blake2b(entry["message"].encode("utf-8", "replace"), digest_size=8).digest()
        if (entry["create_at"], digest) in self._keys:
            self.report.add("time_shifted", entry["message"][:60])
            while (entry["create_at"], digest) in self._keys:
                entry["create_at"] += 1
            for reaction in entry.get("reactions", []):
                reaction["create_at"] = max(reaction["create_at"], entry["create_at"])
        key = (entry["create_at"], digest)
        self._keys.add(key)
        self._order.append(key)
        if len(self._order) > self.WINDOW:
            self._keys.discard(self._order.popleft())


class _BulkWriter:
    def __init__(
        self,
        source: ArchiveSource,
        plan: Plan,
        profile: BulkProfile,
        report: ConversionReport,
        lines: IO[bytes],
        files: _FileList,
    ) -> None:
        self.source = source
        self.plan = plan
        self.profile = profile
        self.report = report
        self._lines = lines
        self._files = files
        emoji = [item for item in source.emoji() if item.delete_at == 0]
        self.emoji_with_image = {item.name for item in emoji if source.resolve(item.path)}
        self.custom_emoji = {item.name for item in source.emoji()}

    def write(self, line_type: str, payload: dict[str, Any]) -> None:
        self._lines.write(dumps({"type": line_type, line_type: payload}) + b"\n")

    # -- posts ---------------------------------------------------------------------------------

    def _attachments(self, post: Post) -> list[dict[str, str]]:
        attachments = []
        for attachment in post.files:
            path = self._attachment_path(attachment)
            if path is not None:
                attachments.append({"path": path})
        return attachments

    def _attachment_path(self, attachment: Attachment) -> str | None:
        file_id = slug(attachment.id, "a-z0-9")
        source_file = self.source.resolve(attachment.path) if attachment.status == "saved" else None
        if source_file is None or not file_id:
            self.report.add("file_missing", attachment.name or attachment.id)
            return None
        fallback = f"file-{file_id[:8]}" + (
            f".{attachment.extension}" if attachment.extension.isalnum() else ""
        )
        name = safe_file_name(attachment.name, fallback)
        if name != attachment.name:
            self.report.add("file_renamed", f"{attachment.name!r} -> {name!r}")
        relative = f"files/{file_id[:2]}/{file_id}/{name}"
        self._files.add(f"data/{relative}", source_file)
        self.report.count("files")
        return relative

    def _reactions(self, post: Post) -> list[dict[str, Any]]:
        reactions = []
        for reaction in post.reactions:
            if reaction.user_id not in self.plan.users or not 0 < len(reaction.emoji_name) <= EMOJI_NAME_MAX:
                self.report.add("reaction_invalid", f":{reaction.emoji_name}:")
                continue
            created = reaction.create_at
            if created < post.create_at:
                created = post.create_at
                self.report.add("reaction_time_fixed")
            if reaction.emoji_name in self.custom_emoji and reaction.emoji_name not in self.emoji_with_image:
                self.report.add("reaction_custom_emoji_missing", f":{reaction.emoji_name}:")
            elif reaction.emoji_name not in self.custom_emoji and reaction.emoji_name not in system_emoji():
                self.report.add("reaction_unknown_emoji", f":{reaction.emoji_name}:")
            reactions.append(
                {
                    "user": self.plan.username(reaction.user_id),
                    "emoji_name": reaction.emoji_name,
                    "create_at": created,
                }
            )
            self.report.count("reactions")
        return reactions

    def _convert_post(self, post: Post) -> list[dict[str, Any]]:
        """The post as one or more import entries (the extra ones continue a message split for length)."""
        if post.create_at <= 0:
            self.report.add("missing_time", post.id)
            return []
        if post.type.startswith("system_"):
            self.report.add("system_post", post.type)
            return []
        if post.type and post.type not in KEPT_POST_TYPES:
            self.report.add("custom_type_post", post.type)
        if post.user_id not in self.plan.users:
            self.report.add("unknown_user", post.user_id or "(no author)")
            return []
        if post.has_history:
            self.report.add("edit_history_dropped", post.id)
        message, had_nul = clean_text(post.message)
        if had_nul:
            self.report.add("control_characters", post.id)
        pieces = split_message(message, self.profile.max_message_runes)
        if len(pieces) > 1:
            self.report.add("split_message", f"{post.id} ({len(message)} characters)")
        attachments = self._attachments(post)
        attachment_groups = [
            attachments[start : start + MAX_FILES_PER_POST]
            for start in range(0, len(attachments), MAX_FILES_PER_POST)
        ]
        username = self.plan.username(post.user_id)
        entries: list[dict[str, Any]] = []
        for index in range(max(len(pieces), len(attachment_groups))):
            entry: dict[str, Any] = {
                "user": username,
                "message": self.profile.transform_message(pieces[index] if index < len(pieces) else ""),
                "create_at": post.create_at + index,
            }
            if index == 0:
                if post.edit_at > 0:
                    entry["edit_at"] = post.edit_at
                if post.type in KEPT_POST_TYPES:
                    entry["type"] = post.type
                if post.props_attachments:
                    props = {"attachments": post.props_attachments}
                    if len(json.dumps(props, ensure_ascii=False)) <= MAX_PROPS_RUNES:
                        entry["props"] = props
                if post.is_pinned:
                    entry["is_pinned"] = True
                entry["reactions"] = self._reactions(post)
            if index < len(attachment_groups):
                entry["attachments"] = attachment_groups[index]
            entries.append(entry)
        self.report.count("posts")
        return entries

    def _thread_entries(self, thread: Thread) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """(root, replies) pairs; a dropped root leaves its replies as standalone posts."""
        if thread.detached:
            self.report.add("detached_reply", thread.root.id)
        root_entries = self._convert_post(thread.root)
        reply_entries = [entry for reply in thread.replies for entry in self._convert_post(reply)]
        if root_entries:
            yield root_entries[0], root_entries[1:] + reply_entries
            return
        if reply_entries:
            self.report.add("detached_reply", thread.root.id, len(thread.replies))
        for entry in reply_entries:
            yield entry, []

    def _fit(
        self, head: dict[str, Any], body: dict[str, Any], replies: list[dict[str, Any]]
    ) -> Iterator[bytes]:
        """Encoded lines for one thread, split where a line would exceed the importer's 16 MiB."""
        payload = {**head, **body, "replies": replies}
        line = dumps(payload)
        if len(line) <= MAX_LINE_BYTES or not replies:
            yield line
            return
        self.report.add("split_thread", str(body.get("create_at")))
        chunk: list[dict[str, Any]] = []
        size = len(dumps({**head, **body, "replies": []}))
        current = body
        for reply in replies:
            reply_size = len(dumps(reply)) + 1
            if chunk and size + reply_size > MAX_LINE_BYTES:
                yield dumps({**head, **current, "replies": chunk})
                current, chunk = reply, []
                size = len(dumps({**head, **current, "replies": []}))
                continue
            chunk.append(reply)
            size += reply_size
        yield dumps({**head, **current, "replies": chunk})

    def write_thread_lines(self, line_type: str, head: dict[str, Any], channel: PlannedChannel) -> None:
        deleted = self.source.deleted_post_count(channel.id)
        if deleted:
            self.report.add("deleted_post", channel.display_name, deleted)
        distinct = _DistinctTimes(self.report)
        for thread in self.source.threads(channel.id):
            for body, replies in self._thread_entries(thread):
                for entry in (body, *replies):
                    distinct.separate(entry)
                for line in self._fit(head, body, replies):
                    self._lines.write(b'{"type":"' + line_type.encode() + b'","' + line_type.encode() + b'":')
                    self._lines.write(line + b"}\n")

    # -- the other line types ------------------------------------------------------------------

    def write_all(self) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]]]:
        """Write every line; return the avatars and emoji images to add to the zip."""
        plan, profile = self.plan, self.profile
        created = datetime.fromtimestamp(plan.created_at / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        info = {"generator": "mmtakeout", "version": __version__, "created": created}
        self._lines.write(dumps({"type": "version", "version": 1, "info": info}) + b"\n")
        for team in plan.teams:
            self.write(
                "team",
                {
                    "name": team.name,
                    "display_name": team.display_name,
                    "type": team.type,
                    "description": team.description,
                    "allow_open_invite": team.type == "O",
                },
            )
        channels = plan.conversations("open", "private")
        for channel in channels:
            line: dict[str, Any] = {
                "team": channel.team,
                "name": channel.name,
                "display_name": channel.display_name,
                "type": "O" if channel.kind == "open" else "P",
                "header": channel.header,
                "purpose": channel.purpose,
            }
            if channel.source.delete_at > 0:
                if profile.include_archived_flag:
                    line["deleted_at"] = channel.source.delete_at
                else:
                    self.report.add("archived_channel_kept_open", channel.display_name)
            self.write("channel", line)
        self.report.count("channels", len(channels))
        avatars = self._write_users(channels)
        for channel in channels:
            self.write_thread_lines("post", {"team": channel.team, "channel": channel.name}, channel)
        emoji_files = self._write_emoji()
        directs = plan.conversations("direct", "group")
        for channel in directs:
            members = [plan.username(user_id) for user_id in channel.member_ids]
            direct: dict[str, Any] = {"members": members, "header": channel.header}
            if channel.source.is_favorite and plan.owner_id in channel.member_ids:
                direct["favorited_by"] = [plan.username(plan.owner_id)]
            self.write("direct_channel", direct)
        self.report.count("direct conversations", len(directs))
        for channel in directs:
            members = [plan.username(user_id) for user_id in channel.member_ids]
            self.write_thread_lines("direct_post", {"channel_members": members}, channel)
        return avatars, emoji_files

    def _write_users(self, channels: list[PlannedChannel]) -> list[tuple[str, Path]]:
        plan = self.plan
        channels_of: dict[str, list[PlannedChannel]] = {}
        for channel in channels:
            for user_id in channel.member_ids:
                channels_of.setdefault(user_id, []).append(channel)
        avatars = []
        for user in sorted(plan.users.values(), key=lambda u: u.username):
            teams = []
            for team in plan.user_teams.get(user.id, []):
                memberships = []
                for channel in channels_of.get(user.id, []):
                    if channel.team != team:
                        continue
                    membership: dict[str, Any] = {"name": channel.name, "roles": "channel_user"}
                    if user.id == plan.owner_id and channel.source.is_favorite:
                        membership["favorite"] = True
                    memberships.append(membership)
                teams.append({"name": team, "roles": "team_user", "channels": memberships})
            line: dict[str, Any] = {
                "username": user.username,
                "email": user.email,
                "nickname": user.nickname,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "position": user.position,
                "roles": "system_user",
                "teams": teams,
            }
            if user.delete_at > 0:
                line["delete_at"] = user.delete_at
            avatar = self.source.resolve(user.avatar_path)
            if avatar is not None:
                if self.profile.include_avatars:
                    user_key = slug(user.id, "a-z0-9") or user.username
                    line["profile_image"] = f"avatars/{user_key}.png"
                    avatars.append((f"data/avatars/{user_key}.png", avatar))
                else:
                    self.report.add("avatar_dropped", user.username)
            self.write("user", line)
        self.report.count("users", len(plan.users))
        return avatars

    def _write_emoji(self) -> list[tuple[str, Path]]:
        images = []
        for emoji in self.source.emoji():
            if emoji.delete_at:
                continue
            image = self.source.resolve(emoji.path)
            if image is None:
                self.report.add("emoji_missing_image", f":{emoji.name}:")
                continue
            emoji_id = slug(emoji.id, "a-z0-9")
            if not _is_valid_emoji_name(emoji.name) or not emoji_id:
                self.report.add("emoji_invalid_name", f":{emoji.name}:")
                continue
            self.write("emoji", {"name": emoji.name, "image": self.profile.emoji_image_field(emoji_id)})
            images.append((self.profile.emoji_zip_path(emoji_id), image))
            self.report.count("custom emoji")
        return images


def write_bulk(
    source: ArchiveSource, destination: Path, options: ConvertOptions, profile: BulkProfile
) -> ConversionReport:
    report = ConversionReport(profile.target)
    plan = build_plan(source, options, profile.rules, report)
    if profile.rules.single_team and plan.teams:
        report.note(f"Everything is in one team, '{plan.teams[0].name}' (the organisation's folder name).")
    with tempfile.TemporaryDirectory(prefix=".mmtakeout-convert-", dir=destination.parent) as scratch:
        lines_path = Path(scratch) / "lines.jsonl"
        files_path = Path(scratch) / "files.jsonl"
        with lines_path.open("wb") as lines, files_path.open("wb") as files_stream:
            writer = _BulkWriter(source, plan, profile, report, lines, _FileList(files_stream))
            avatars, emoji_images = writer.write_all()
        with atomic_zip(destination) as archive:
            archive.write_file(profile.jsonl_name, lines_path, compress=True)
            with files_path.open("rb") as listed:
                for raw in listed:
                    zip_name, source_file = json.loads(raw)
                    archive.write_file(zip_name, Path(source_file))
            for zip_name, source_file in [*avatars, *emoji_images]:
                archive.write_file(zip_name, source_file)
    return report


def convert(source: ArchiveSource, destination: Path, options: ConvertOptions) -> ConversionReport:
    return write_bulk(source, destination, options, MATTERMOST)
