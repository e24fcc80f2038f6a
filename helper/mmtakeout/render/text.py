"""Plain formats for people and tools: Markdown, text, JSON and CSV, one file per conversation.

Threads stay readable: each root post is followed by its replies (indented, quoted or nested,
depending on the format). Attachments are referenced by their path in the archive. Posts are
streamed in batches; only one batch of roots and their replies is in memory at a time.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from mmtakeout.render.clock import Clock
from mmtakeout.render.emoji import emoji_text
from mmtakeout.render.model import ArchiveReader, Post, User, as_dict, as_list, as_str, unknown_user
from mmtakeout.render.naming import Conversation
from mmtakeout.render.site import SYSTEM_TEXTS, human_size

FORMAT_EXTENSIONS = {"markdown": "md", "text": "txt", "json": "json", "csv": "csv"}
ROOT_BATCH = 200
CSV_COLUMNS = (
    "post_id",
    "root_id",
    "time",
    "user_id",
    "username",
    "display_name",
    "message",
    "type",
    "edited",
    "deleted",
    "pinned",
    "files",
    "reactions",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportContext:
    users: Mapping[str, User]
    clock: Clock
    server_url: str

    def user(self, user_id: str) -> User:
        return self.users.get(user_id) or unknown_user(user_id)


def threaded_posts(reader: ArchiveReader, conversation: Conversation) -> Iterator[tuple[Post, list[Post]]]:
    """(root, its replies) in conversation order; replies whose root is missing come alone, in place."""
    roots_with_replies = set(reader.thread_infos(conversation.id))
    present = set(reader.posts_by_id(roots_with_replies)) if roots_with_replies else set()
    pending: list[Post] = []

    def flush() -> Iterator[tuple[Post, list[Post]]]:
        wanted = [post.id for post in pending if post.id in present and not post.root_id]
        replies: dict[str, list[Post]] = {}
        for reply in reader.thread_posts(wanted):
            replies.setdefault(reply.root_id, []).append(reply)
        for post in pending:
            yield post, replies.get(post.id, []) if not post.root_id else []
        pending.clear()

    for post in reader.iter_posts(conversation.id):
        if post.root_id and post.root_id in present:
            continue
        pending.append(post)
        if len(pending) >= ROOT_BATCH:
            yield from flush()
    yield from flush()


def _reaction_summary(post: Post) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for reaction in post.reactions:
        counts[reaction.emoji_name] = counts.get(reaction.emoji_name, 0) + 1
    return list(counts.items())


def _emoji_label(name: str) -> str:
    return emoji_text(name) or f":{name}:"


def _file_line(post: Post) -> list[str]:
    lines = []
    for file in post.files:
        where = file.path if file.saved and file.path else f"not saved ({file.status})"
        lines.append(f"{file.name} ({human_size(file.size)}) {where}")
    return lines


def _message_text(post: Post, context: ExportContext) -> str:
    if post.message:
        return post.message
    if post.delete_at:
        return "(deleted before it was archived)"
    if post.is_system:
        return f"{context.user(post.user_id).display_name} {SYSTEM_TEXTS.get(post.type, post.type)}"
    return ""


def _attachment_lines(post: Post) -> list[str]:
    """Message attachments (webhooks, integrations) as one line each: title, then text."""
    lines = []
    for item in as_list(post.props.get("attachments")):
        attachment = as_dict(item)
        parts = [as_str(attachment.get(key)).strip() for key in ("pretext", "title", "text")]
        fields = [
            f"{as_str(as_dict(field).get('title'))}: {as_str(as_dict(field).get('value'))}"
            for field in as_list(attachment.get("fields"))
        ]
        text = " — ".join(part for part in (*parts, *fields) if part) or as_str(attachment.get("fallback"))
        if text:
            lines.append(" ".join(text.split()))
    return lines


def _author(post: Post, context: ExportContext) -> str:
    user = context.user(post.user_id)
    if user.display_name != user.username and user.username:
        return f"{user.display_name} (@{user.username})"
    return user.display_name


def _header_lines(conversation: Conversation, context: ExportContext) -> list[str]:
    team = f", team {conversation.team.display_name}" if conversation.team else ""
    archived = ", archived" if conversation.channel.archived else ""
    return [
        conversation.title,
        f"{conversation.kind_label}{team}{archived}; {conversation.post_count} messages; "
        f"times in {context.clock.zone_name}; from {context.server_url or 'a Mattermost server'}",
    ]


# ----- text -----


def _text_post(post: Post, context: ExportContext, indent: str) -> list[str]:
    clock = context.clock
    stamp = clock.at(post.create_at).strftime("%Y-%m-%d %H:%M")
    lead = f"{indent}{'↳ ' if indent else ''}{stamp}  {_author(post, context)}: "
    message_lines = _message_text(post, context).splitlines() or [""]
    lines = [lead + message_lines[0]]
    pad = " " * len(lead)
    lines.extend(pad + line for line in message_lines[1:])
    notes = []
    if post.type and post.type != "me":
        notes.append(f"[{post.type}]")
    if post.edit_at:
        notes.append(f"[edited {clock.full(post.edit_at)}]")
    if post.delete_at:
        notes.append(f"[deleted on the server {clock.full(post.delete_at)}]")
    if post.is_pinned:
        notes.append("[pinned]")
    if notes:
        lines.append(pad + " ".join(notes))
    lines.extend(f"{pad}[file] {line}" for line in _file_line(post))
    lines.extend(f"{pad}[attachment] {line}" for line in _attachment_lines(post))
    reactions = _reaction_summary(post)
    if reactions:
        lines.append(
            pad + "[reactions] " + ", ".join(f"{_emoji_label(name)} {count}" for name, count in reactions)
        )
    return lines


def write_text(
    out: IO[str],
    conversation: Conversation,
    threads: Iterator[tuple[Post, list[Post]]],
    context: ExportContext,
) -> int:
    out.write("\n".join(f"# {line}" for line in _header_lines(conversation, context)) + "\n")
    count = 0
    day = ""
    for root, replies in threads:
        key = context.clock.day_label(root.create_at)
        if key != day:
            day = key
            out.write(f"\n=== {day} ===\n\n")
        out.write("\n".join(_text_post(root, context, "")) + "\n")
        for reply in replies:
            out.write("\n".join(_text_post(reply, context, "    ")) + "\n")
        count += 1 + len(replies)
    return count


# ----- markdown -----


def _markdown_post(post: Post, context: ExportContext, quote: bool) -> list[str]:
    clock = context.clock
    user = context.user(post.user_id)
    name = user.display_name.replace("*", "\\*").replace("_", "\\_")
    header = f"**{name}**"
    if user.username and user.display_name != user.username:
        header += f" (@{user.username})"
    header += f" · {clock.time_of_day(post.create_at)}"
    if post.edit_at:
        header += " · *edited*"
    if post.delete_at:
        header += f" · *deleted on the server {clock.short_date(post.delete_at)}*"
    if post.is_pinned:
        header += " · 📌 pinned"
    body = [header, ""]
    message = _message_text(post, context)
    if message:
        lines = message.splitlines()
        body.extend(lines)
        if sum(1 for line in lines if line.lstrip().startswith(("```", "~~~"))) % 2:
            body.append("```")  # an unclosed fence would swallow the rest of the file
    extra = [f"- Attachment: {line}" for line in _attachment_lines(post)]
    for file in post.files:
        size = human_size(file.size)
        if file.saved and file.path:
            target = "../../" + file.path
            extra.append(f"- 📎 [{file.name.replace(']', '')}]({target}) ({size})")
        else:
            extra.append(f"- 📎 {file.name} ({size}) — not saved ({file.status})")
    reactions = _reaction_summary(post)
    if reactions:
        extra.append(
            "- Reactions: " + ", ".join(f"{_emoji_label(name)} {count}" for name, count in reactions)
        )
    if extra:
        body.append("")
        body.extend(extra)
    if quote:
        return [("> " + line) if line else ">" for line in body]
    return body


def write_markdown(
    out: IO[str],
    conversation: Conversation,
    threads: Iterator[tuple[Post, list[Post]]],
    context: ExportContext,
) -> int:
    title, details = _header_lines(conversation, context)
    out.write(f"# {title}\n\n*{details}*\n")
    count = 0
    day = ""
    for root, replies in threads:
        key = context.clock.day_label(root.create_at)
        if key != day:
            day = key
            out.write(f"\n## {day}\n")
        out.write("\n" + "\n".join(_markdown_post(root, context, False)) + "\n")
        for reply in replies:
            out.write("\n" + "\n".join(_markdown_post(reply, context, True)) + "\n")
        count += 1 + len(replies)
    return count


# ----- json -----


def _json_post(post: Post, context: ExportContext) -> dict[str, Any]:
    user = context.user(post.user_id)
    return {
        "id": post.id,
        "root_id": post.root_id,
        "create_at": post.create_at,
        "time": context.clock.iso(post.create_at),
        "user": {"id": user.id, "username": user.username, "display_name": user.display_name},
        "message": post.message,
        "type": post.type,
        "edit_at": post.edit_at,
        "delete_at": post.delete_at,
        "is_pinned": post.is_pinned,
        "props": post.props,
        "files": [
            {
                "id": file.id,
                "name": file.name,
                "size": file.size,
                "mime_type": file.mime_type,
                "status": file.status,
                "path": file.path if file.saved else None,
            }
            for file in post.files
        ],
        "reactions": [
            {
                "emoji_name": reaction.emoji_name,
                "user_id": reaction.user_id,
                "username": context.user(reaction.user_id).username,
            }
            for reaction in post.reactions
        ],
        "history": [
            {"message": revision.message, "edit_at": revision.edit_at, "replaced_at": revision.replaced_at}
            for revision in post.history
        ],
    }


def write_json(
    out: IO[str],
    conversation: Conversation,
    threads: Iterator[tuple[Post, list[Post]]],
    context: ExportContext,
) -> int:
    channel = conversation.channel
    head = {
        "format": "mmtakeout-conversation",
        "version": 1,
        "server_url": context.server_url,
        "time_zone": context.clock.zone_name,
        "conversation": {
            "id": channel.id,
            "type": channel.type,
            "name": channel.name,
            "title": conversation.title,
            "team": conversation.team.name if conversation.team else "",
            "archived": channel.archived,
            "header": channel.header,
            "purpose": channel.purpose,
            "members": [user.username for user in conversation.members],
        },
    }
    opening = json.dumps(head, ensure_ascii=False, indent=1)
    out.write(opening[:-2] + ',\n "posts": [')
    count = 0
    for root, replies in threads:
        item = _json_post(root, context)
        item["replies"] = [_json_post(reply, context) for reply in replies]
        out.write(("\n  " if count == 0 else ",\n  ") + json.dumps(item, ensure_ascii=False))
        count += 1 + len(replies)
    out.write("\n ]\n}\n")
    return count


# ----- csv -----


def _cell(value: str) -> str:
    """Spreadsheet programs run cells starting with '=' and friends as formulas: defuse them."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _csv_row(post: Post, context: ExportContext) -> list[str]:
    user = context.user(post.user_id)
    files = "; ".join(
        f"{file.name} -> {file.path if file.saved and file.path else 'not saved'}" for file in post.files
    )
    reactions = "; ".join(f"{name} {count}" for name, count in _reaction_summary(post))
    return [
        post.id,
        post.root_id,
        context.clock.iso(post.create_at),
        user.id,
        _cell(user.username),
        _cell(user.display_name),
        _cell(post.message),
        post.type,
        context.clock.iso(post.edit_at) if post.edit_at else "",
        context.clock.iso(post.delete_at) if post.delete_at else "",
        "yes" if post.is_pinned else "",
        _cell(files),
        _cell(reactions),
    ]


def write_csv(
    out: IO[str],
    conversation: Conversation,
    threads: Iterator[tuple[Post, list[Post]]],
    context: ExportContext,
) -> int:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for root, replies in threads:
        writer.writerow(_csv_row(root, context))
        for reply in replies:
            writer.writerow(_csv_row(reply, context))
        count += 1 + len(replies)
    return count


WRITERS: dict[
    str, Callable[[IO[str], Conversation, Iterator[tuple[Post, list[Post]]], ExportContext], int]
] = {
    "markdown": write_markdown,
    "text": write_text,
    "json": write_json,
    "csv": write_csv,
}


def write_conversation(
    fmt: str, reader: ArchiveReader, conversation: Conversation, context: ExportContext, target: Path
) -> int:
    """Writes one conversation in one format (atomically); returns how many posts it holds."""
    partial = target.with_name(target.name + ".partial")
    with partial.open("w", encoding="utf-8", newline="") as out:
        count = WRITERS[fmt](out, conversation, threaded_posts(reader, conversation), context)
    os.replace(partial, target)
    return count
