"""The archive as a Slack export zip, the format most other systems import (Rocket.Chat, Zulip,
Mattermost via mmetl, Discord tools, slack-export-viewer).

Layout (reference: formats-and-viewers.md §2.5): `users.json`, `channels.json` (public channels),
`groups.json` (private channels), `dms.json`, `mpims.json`, and one folder per conversation with one
`YYYY-MM-DD.json` file per day (UTC) holding that day's messages in time order. Threads use
`thread_ts`; roots carry `reply_count`, `reply_users` and `replies`. Attachment bytes are included
at `__uploads/<file id>/<name>` (the layout slackdump writes and mmetl reads); each message's
`files[]` entry names the same id and name, and `url_private` points at the file on the original
server for reference.

Slack identifies a message by its `ts` ("seconds.microseconds"), unique per conversation. Mattermost
times are milliseconds, and posts can share one, so the microsecond digits hold the millisecond
plus the post's rank among the channel's posts of that millisecond.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Any

from mmtakeout.convert.mattermost_bulk import dumps
from mmtakeout.convert.names import UniqueNames, clean_text, safe_file_name, slug, tone_to_slack
from mmtakeout.convert.plan import ConvertOptions, Plan, PlannedChannel, PlanRules, build_plan
from mmtakeout.convert.report import ConversionReport
from mmtakeout.convert.source import ArchiveSource, Post
from mmtakeout.convert.zipout import DeterministicZip, atomic_zip
from mmtakeout.render.emoji import system_emoji

UPLOADS_FOLDER = "__uploads"
RULES = PlanRules(single_team=True, default_team_name="workspace")

_MENTION = re.compile(r"(?<![\w@./-])@([A-Za-z0-9._-]+)")
_SPECIAL_MENTIONS = {"channel": "<!channel>", "here": "<!here>", "all": "<!everyone>"}


def slack_id(prefix: str, mattermost_id: str) -> str:
    return prefix + (slug(mattermost_id, "a-z0-9").upper() or "UNKNOWN")


def slack_ts(create_at: int, rank: int) -> str:
    """Seconds and microseconds; the rank separates posts sharing a millisecond."""
    return f"{create_at // 1000}.{(create_at % 1000) * 1000 + min(rank, 999):06d}"


def _seconds(milliseconds: int) -> int:
    return max(milliseconds, 0) // 1000


def _day(create_at: int) -> str:
    return datetime.fromtimestamp(create_at / 1000, tz=UTC).strftime("%Y-%m-%d")


class _SlackWriter:
    def __init__(
        self, source: ArchiveSource, plan: Plan, report: ConversionReport, archive: DeterministicZip
    ) -> None:
        self.source = source
        self.plan = plan
        self.report = report
        self.archive = archive
        self.user_ids = {user_id: slack_id("U", user_id) for user_id in plan.users}
        self.by_old_username: dict[str, str] = {}
        for archived in source.users().values():
            if archived.id in self.user_ids:
                self.by_old_username.setdefault(archived.username.lower(), self.user_ids[archived.id])
        for planned in plan.users.values():
            self.by_old_username.setdefault(planned.username, self.user_ids[planned.id])
        self.folders = UniqueNames(200, taken={UPLOADS_FOLDER})
        self.custom_emoji = {item.name for item in source.emoji()}
        self.upload_names: set[str] = set()

    # -- text ----------------------------------------------------------------------------------

    def _mention(self, match: re.Match[str]) -> str:
        word = match.group(1)
        candidate = word
        while candidate:
            lowered = candidate.lower()
            if lowered in _SPECIAL_MENTIONS:
                return _SPECIAL_MENTIONS[lowered] + word[len(candidate) :]
            if lowered in self.by_old_username:
                return f"<@{self.by_old_username[lowered]}>" + word[len(candidate) :]
            if candidate[-1] not in "._-":
                break
            candidate = candidate[:-1]
        return match.group(0)

    def text(self, message: str) -> str:
        escaped = message.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return _MENTION.sub(self._mention, escaped)

    # -- metadata files ------------------------------------------------------------------------

    def _creator(self, channel: PlannedChannel) -> str:
        for candidate in (channel.source.creator_id, self.plan.owner_id, *channel.member_ids):
            if candidate in self.user_ids:
                return self.user_ids[candidate]
        return ""

    def _members(self, channel: PlannedChannel) -> list[str]:
        return [self.user_ids[user_id] for user_id in channel.member_ids if user_id in self.user_ids]

    def _topic(self, value: str, creator: str, when: int) -> dict[str, Any]:
        return {
            "value": value,
            "creator": creator if value else "",
            "last_set": _seconds(when) if value else 0,
        }

    def conversation_id(self, channel: PlannedChannel) -> str:
        prefix = {"open": "C", "private": "G", "direct": "D", "group": "G"}[channel.kind]
        return slack_id(prefix, channel.id)

    def write_metadata(self) -> dict[str, str]:
        """Write users.json and the four conversation lists; return each channel's folder name."""
        plan = self.plan
        team_id = slack_id("T", plan.teams[0].name if plan.teams else "workspace")
        users = []
        for user in sorted(plan.users.values(), key=lambda u: u.username):
            real_name = user.full_name or user.username
            users.append(
                {
                    "id": self.user_ids[user.id],
                    "team_id": team_id,
                    "name": user.username,
                    "deleted": user.delete_at > 0,
                    "real_name": real_name,
                    "is_bot": user.is_bot,
                    "is_admin": False,
                    "profile": {
                        "real_name": real_name,
                        "display_name": user.nickname,
                        "first_name": user.first_name,
                        "last_name": user.last_name,
                        "title": user.position,
                        "email": user.email,
                    },
                }
            )
            if self.source.resolve(user.avatar_path):
                self.report.add("avatar_dropped", user.username)
        self.archive.write_bytes("users.json", dumps(users))
        lists: dict[str, list[dict[str, Any]]] = {"channels": [], "groups": [], "dms": [], "mpims": []}
        folders: dict[str, str] = {}
        for channel in plan.channels:
            conversation_id = self.conversation_id(channel)
            created = _seconds(channel.source.create_at)
            if channel.kind == "direct":
                folders[channel.id] = self.folders.claim(conversation_id)
                lists["dms"].append(
                    {"id": conversation_id, "created": created, "members": self._members(channel)}
                )
                continue
            creator = self._creator(channel)
            if channel.kind == "group":
                usernames = "--".join(sorted(plan.username(user_id) for user_id in channel.member_ids))
                name = self.folders.claim(f"mpdm-{usernames}-1")
            else:
                name = self.folders.claim(channel.name)
                if channel.display_name not in (channel.name, "") and channel.display_name != name:
                    self.report.add("display_name_dropped", f"{channel.display_name} -> {name}")
            folders[channel.id] = name
            entry = {
                "id": conversation_id,
                "name": name,
                "created": created,
                "creator": creator,
                "is_archived": channel.source.delete_at > 0,
                "is_general": channel.kind == "open" and channel.name == "town-square",
                "members": self._members(channel),
                "topic": self._topic(channel.header, creator, channel.source.create_at),
                "purpose": self._topic(channel.purpose, creator, channel.source.create_at),
            }
            key = {"open": "channels", "private": "groups", "group": "mpims"}[channel.kind]
            lists[key].append(entry)
        for key in ("channels", "groups", "dms", "mpims"):
            self.archive.write_bytes(f"{key}.json", dumps(lists[key]))
        self.report.count("channels", len(lists["channels"]) + len(lists["groups"]))
        self.report.count("direct conversations", len(lists["dms"]) + len(lists["mpims"]))
        self.report.count("users", len(users))
        emoji = [item for item in self.source.emoji() if item.delete_at == 0]
        if emoji:
            self.report.add("emoji_dropped", ", ".join(f":{item.name}:" for item in emoji[:5]), len(emoji))
        return folders

    # -- messages ------------------------------------------------------------------------------

    def _files(self, post: Post, uploads: list[tuple[str, Path]]) -> list[dict[str, Any]]:
        files = []
        for attachment in post.files:
            source_file = self.source.resolve(attachment.path) if attachment.status == "saved" else None
            file_id = slack_id("F", attachment.id)
            if source_file is None:
                self.report.add("file_missing", attachment.name or attachment.id)
                continue
            extension = attachment.extension if attachment.extension.isalnum() else ""
            name = safe_file_name(
                attachment.name, f"file-{file_id[1:9].lower()}" + (f".{extension}" if extension else "")
            )
            if name != attachment.name:
                self.report.add("file_renamed", f"{attachment.name!r} -> {name!r}")
            zip_name = f"{UPLOADS_FOLDER}/{file_id}/{name}"
            if zip_name not in self.upload_names:
                self.upload_names.add(zip_name)
                uploads.append((zip_name, source_file))
            url = f"{self.plan.server_url}/api/v4/files/{attachment.id}" if self.plan.server_url else ""
            files.append(
                {
                    "id": file_id,
                    "created": _seconds(attachment.create_at or post.create_at),
                    "timestamp": _seconds(attachment.create_at or post.create_at),
                    "name": name,
                    "title": attachment.name or name,
                    "mimetype": attachment.mime_type or "application/octet-stream",
                    "filetype": extension.lower(),
                    "pretty_type": extension.upper(),
                    "user": self.user_ids.get(post.user_id, ""),
                    "size": attachment.size,
                    "mode": "hosted",
                    "is_external": False,
                    "url_private": url,
                    "url_private_download": url,
                }
            )
            self.report.count("files")
        return files

    def _reactions(self, post: Post) -> list[dict[str, Any]]:
        grouped: dict[str, list[str]] = {}
        for reaction in post.reactions:
            if reaction.emoji_name not in system_emoji() and reaction.emoji_name not in self.custom_emoji:
                self.report.add("reaction_unknown_emoji", f":{reaction.emoji_name}:")
            if reaction.user_id in self.user_ids and reaction.emoji_name:
                grouped.setdefault(tone_to_slack(reaction.emoji_name), []).append(
                    self.user_ids[reaction.user_id]
                )
                self.report.count("reactions")
        return [{"name": name, "users": users, "count": len(users)} for name, users in grouped.items()]

    def _message(
        self, post: Post, rank: int, channel_id: str, threads: _Threads, uploads: list[tuple[str, Path]]
    ) -> dict[str, Any] | None:
        if post.create_at <= 0:
            self.report.add("missing_time", post.id)
            return None
        if post.type.startswith("system_"):
            self.report.add("system_post", post.type)
            return None
        if post.user_id not in self.user_ids:
            self.report.add("unknown_user", post.user_id or "(no author)")
            return None
        if post.type and post.type not in ("me", "slack_attachment"):
            self.report.add("custom_type_post", post.type)
        if post.has_history:
            self.report.add("edit_history_dropped", post.id)
        text, had_nul = clean_text(post.message)
        if had_nul:
            self.report.add("control_characters", post.id)
        ts = slack_ts(post.create_at, rank)
        user = self.user_ids[post.user_id]
        message: dict[str, Any] = {"type": "message", "user": user, "text": self.text(text), "ts": ts}
        if post.type == "me":
            message["subtype"] = "me_message"
        threads.remember(post, ts)
        if post.root_id:
            root = threads.root_of(post)
            if root is None:
                self.report.add("detached_reply", post.id)
            else:
                message["thread_ts"], message["parent_user_id"] = root
        elif post.id in threads.roots:
            replies = threads.replies(post)
            if replies:
                reply_users = list(dict.fromkeys(reply_user for reply_user, _ in replies))
                message.update(
                    thread_ts=ts,
                    reply_count=len(replies),
                    reply_users_count=len(reply_users),
                    latest_reply=replies[-1][1],
                    reply_users=reply_users,
                    replies=[{"user": reply_user, "ts": reply_ts} for reply_user, reply_ts in replies],
                )
        if post.edit_at > 0:
            message["edited"] = {"user": user, "ts": slack_ts(post.edit_at, 0)}
        if post.is_pinned:
            message["pinned_to"] = [channel_id]
        reactions = self._reactions(post)
        if reactions:
            message["reactions"] = reactions
        files = self._files(post, uploads)
        if files:
            message["files"] = files
            message["upload"] = True
        if post.props_attachments:
            message["attachments"] = post.props_attachments
        self.report.count("posts")
        return message

    def write_conversation(self, channel: PlannedChannel, folder: str) -> None:
        deleted = self.source.deleted_post_count(channel.id)
        if deleted:
            self.report.add("deleted_post", channel.display_name, deleted)
        threads = _Threads(self, channel)
        conversation_id = self.conversation_id(channel)
        uploads: list[tuple[str, Path]] = []
        converted = (
            (post.create_at, message)
            for post, rank in _ranked(self.source.posts_in_time_order(channel.id))
            if (message := self._message(post, rank, conversation_id, threads, uploads)) is not None
        )
        for day, messages in groupby(converted, key=lambda pair: _day(pair[0])):
            with self.archive.open_entry(f"{folder}/{day}.json") as stream:
                separator = b"["
                for _, message in messages:
                    stream.write(separator + dumps(message))
                    separator = b","
                stream.write(b"]")
            self._flush_uploads(uploads)

    def _flush_uploads(self, uploads: list[tuple[str, Path]]) -> None:
        for zip_name, source_file in uploads:
            self.archive.write_file(zip_name, source_file)
        uploads.clear()


def _ranked(posts: Iterator[Post]) -> Iterator[tuple[Post, int]]:
    """Each post with its rank among the posts before it that share its millisecond."""
    previous, rank = None, 0
    for post in posts:
        rank = rank + 1 if post.create_at == previous else 0
        previous = post.create_at
        yield post, rank


class _Threads:
    """Thread bookkeeping for one conversation: the `ts` of roots that have replies."""

    def __init__(self, writer: _SlackWriter, channel: PlannedChannel) -> None:
        self.writer = writer
        self.channel = channel
        self.roots = writer.source.live_thread_roots(channel.id)
        self._root_ts: dict[str, tuple[str, str]] = {}

    def remember(self, post: Post, ts: str) -> None:
        if post.id in self.roots:
            self._root_ts[post.id] = (ts, self.writer.user_ids[post.user_id])

    def root_of(self, post: Post) -> tuple[str, str] | None:
        if post.root_id not in self.roots:
            return None
        known = self._root_ts.get(post.root_id)
        if known is not None:
            return known
        root = self.writer.source.post(post.root_id)
        if root is None or root.user_id not in self.writer.user_ids:
            return None
        rank = self.writer.source.same_time_rank(self.channel.id, root.create_at, root.id)
        return slack_ts(root.create_at, rank), self.writer.user_ids[root.user_id]

    def replies(self, root: Post) -> list[tuple[str, str]]:
        """(user, ts) of the root's replies that will be written."""
        replies = []
        for reply_id, user_id, create_at in self.writer.source.replies_of(root.id):
            if user_id not in self.writer.user_ids or create_at <= 0:
                continue
            rank = self.writer.source.same_time_rank(self.channel.id, create_at, reply_id)
            replies.append((self.writer.user_ids[user_id], slack_ts(create_at, rank)))
        return replies


def convert(source: ArchiveSource, destination: Path, options: ConvertOptions) -> ConversionReport:
    report = ConversionReport("Slack export")
    plan = build_plan(source, options, RULES, report)
    with atomic_zip(destination) as archive:
        writer = _SlackWriter(source, plan, report, archive)
        folders = writer.write_metadata()
        for channel in plan.channels:
            writer.write_conversation(channel, folders[channel.id])
    report.note(
        f"Attachments are inside the zip at {UPLOADS_FOLDER}/<file id>/<name>; url_private points at the "
        "original server. Importers that download files from that URL need the old server to be reachable."
    )
    return report
