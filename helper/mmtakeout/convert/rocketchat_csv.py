"""The archive as a Rocket.Chat CSV import zip (Administration > Import > CSV).

Rocket.Chat has no Mattermost importer; its CSV importer (reference: formats-and-viewers.md §2.3)
reads a zip of header-less CSV files: `users.csv` (username, email, name), `channels.csv` (name,
creator, public|private, members separated by `;`), one folder per channel with message files
(username, time in ms, text) and `directmessages/*.csv` (username, other username, time, text).

The format is lossy by design: it has no threads, files, reactions, pins, edits, custom emoji,
avatars, channel headers or archived flag, and direct messages are between two people only. Group
messages and the conversation with yourself therefore become private channels, attachment names are
appended to their message, and the report counts everything else that is dropped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

from mmtakeout.convert.names import UniqueNames, clean_text, slug
from mmtakeout.convert.plan import ConvertOptions, Plan, PlannedChannel, PlanRules, build_plan
from mmtakeout.convert.report import ConversionReport
from mmtakeout.convert.source import ArchiveSource, Post
from mmtakeout.convert.zipout import DeterministicZip, atomic_zip

DIRECT_FOLDER = "directmessages"
ROWS_PER_FILE = 10000
CHANNEL_NAME_MAX = 64
RULES = PlanRules(single_team=True, default_team_name="rocketchat")


def _csv_bytes(rows: Iterable[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


class _CsvWriter:
    def __init__(
        self, source: ArchiveSource, plan: Plan, report: ConversionReport, archive: DeterministicZip
    ) -> None:
        self.source = source
        self.plan = plan
        self.report = report
        self.archive = archive

    def _text(self, post: Post) -> str:
        text, had_nul = clean_text(post.message)
        if had_nul:
            self.report.add("control_characters", post.id)
        notes = []
        for attachment in post.files:
            self.report.add("file_dropped", attachment.name or attachment.id)
            notes.append(f"[file: {clean_text(attachment.name)[0] or attachment.id}]")
        if post.reactions:
            self.report.add("reaction_dropped", None, len(post.reactions))
        if post.is_pinned:
            self.report.add("pin_dropped", post.id)
        if post.has_history:
            self.report.add("edit_history_dropped", post.id)
        if post.root_id:
            self.report.add("flattened_thread", post.id)
        return "\n".join([text, *notes]) if notes and text else "\n".join(notes) or text

    def _posts(self, channel: PlannedChannel) -> Iterator[tuple[str, Post, str]]:
        """(author username, post, text) for every post that is carried, in time order."""
        deleted = self.source.deleted_post_count(channel.id)
        if deleted:
            self.report.add("deleted_post", channel.display_name, deleted)
        for post in self.source.posts_in_time_order(channel.id):
            if post.create_at <= 0:
                self.report.add("missing_time", post.id)
            elif post.type.startswith("system_"):
                self.report.add("system_post", post.type)
            elif post.user_id not in self.plan.users:
                self.report.add("unknown_user", post.user_id or "(no author)")
            else:
                if post.type and post.type not in ("me", "slack_attachment"):
                    self.report.add("custom_type_post", post.type)
                self.report.count("posts")
                yield self.plan.username(post.user_id), post, self._text(post)

    def _write_chunks(self, prefix: str, rows: Iterator[list[str]]) -> None:
        """Rows into `<prefix>-0001.csv`, `-0002.csv`, ...: the importer reads each file whole."""
        number = 0
        chunk: list[list[str]] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == ROWS_PER_FILE:
                number += 1
                self.archive.write_bytes(f"{prefix}-{number:04d}.csv", _csv_bytes(chunk))
                chunk = []
        if chunk:
            number += 1
            self.archive.write_bytes(f"{prefix}-{number:04d}.csv", _csv_bytes(chunk))

    def write(self) -> None:
        plan = self.plan
        users = sorted(plan.users.values(), key=lambda u: u.username)
        self.archive.write_bytes(
            "users.csv",
            _csv_bytes(
                [user.username, user.email, user.full_name or user.nickname or user.username]
                for user in users
            ),
        )
        self.report.count("users", len(users))
        for user in users:
            if self.source.resolve(user.avatar_path):
                self.report.add("avatar_dropped", user.username)
        names = UniqueNames(CHANNEL_NAME_MAX, taken={DIRECT_FOLDER})
        rooms: list[tuple[PlannedChannel, str]] = []
        directs: list[PlannedChannel] = []
        channel_rows = []
        for channel in plan.channels:
            members = [plan.username(user_id) for user_id in dict.fromkeys(channel.member_ids)]
            if channel.kind == "direct" and not channel.is_self_dm:
                directs.append(channel)
                continue
            if channel.kind == "direct":
                name = names.claim(f"{members[0]}-notes")
                self.report.add("self_dm_as_channel", name)
            elif channel.kind == "group":
                name = names.claim(("group-" + "-".join(sorted(members)))[:CHANNEL_NAME_MAX])
                self.report.add("group_as_channel", f"{', '.join(members)} -> {name}")
            else:
                name = names.claim(slug(channel.name, "a-z0-9_.-") or f"channel-{channel.id[:8]}")
                if name != channel.name:
                    self.report.add("renamed_channel", f"{channel.name} -> {name}")
                if channel.header or channel.purpose or channel.display_name not in ("", channel.name):
                    self.report.add("header_dropped", channel.display_name)
                if channel.source.delete_at > 0:
                    self.report.add("archived_channel_kept_open", channel.display_name)
            public = "public" if channel.kind == "open" else "private"
            creator = plan.username(plan.owner_id) if plan.owner_id in plan.users else members[0]
            channel_rows.append([name, creator, public, ";".join(members)])
            rooms.append((channel, name))
        self.archive.write_bytes("channels.csv", _csv_bytes(channel_rows))
        self.report.count("channels", len(rooms))
        for channel, name in rooms:
            rows = ([author, str(post.create_at), text] for author, post, text in self._posts(channel))
            self._write_chunks(f"{name}/messages", rows)
        for channel in directs:
            first, second = (plan.username(user_id) for user_id in channel.member_ids)
            rows = (
                [author, second if author == first else first, str(post.create_at), text]
                for author, post, text in self._posts(channel)
            )
            self._write_chunks(
                f"{DIRECT_FOLDER}/{slug(first, 'a-z0-9._-')}--{slug(second, 'a-z0-9._-')}", rows
            )
        self.report.count("direct conversations", len(directs))
        emoji = [item for item in self.source.emoji() if item.delete_at == 0]
        if emoji:
            self.report.add("emoji_dropped", None, len(emoji))


def convert(source: ArchiveSource, destination: Path, options: ConvertOptions) -> ConversionReport:
    report = ConversionReport("Rocket.Chat CSV import")
    plan = build_plan(source, options, RULES, report)
    with atomic_zip(destination) as archive:
        _CsvWriter(source, plan, report, archive).write()
    return report
