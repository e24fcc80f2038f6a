"""Checks a Slack export zip the way its readers use it.

Rules from formats-and-viewers.md §2.3/§2.5 and the readers' code: Rocket.Chat's SlackImporter
(`channels.json`, `groups.json`, `mpims.json`, `dms.json`, `users.json`; channels without `creator`
are dropped; message files are `<conversation>/<file>.json` found by channel name or id; a message
is identified by channel + `ts`), slackdump/mmetl (`__uploads/<file id>/<name>`), and Slack's own
export conventions (`YYYY-MM-DD.json` per UTC day, `ts` "seconds.micro", threads via `thread_ts`,
roots carrying `reply_count` and `replies`, channel names lowercase `[a-z0-9_-]` up to 80).
"""

from __future__ import annotations

import json
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LISTS = ("users.json", "channels.json", "groups.json", "dms.json", "mpims.json")
CHANNEL_NAME = re.compile(r"^[a-z0-9_-]{1,80}$")
TS = re.compile(r"^\d{9,11}\.\d{6}$")
DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")


def _day_of(ts: str) -> str:
    return datetime.fromtimestamp(int(ts.split(".")[0]), tz=UTC).strftime("%Y-%m-%d")


def validate_slack_zip(zip_path: Path) -> list[str]:
    problems: list[str] = []
    with zipfile.ZipFile(zip_path) as archive:
        names = {info.filename for info in archive.infolist() if not info.is_dir()}
        missing = [name for name in LISTS if name not in names]
        if missing:
            return [f"missing {', '.join(missing)}"]
        lists = {name: json.loads(archive.read(name)) for name in LISTS}
        day_files = {
            name: json.loads(archive.read(name)) for name in names if name.endswith(".json") and "/" in name
        }
    users = lists["users.json"]
    user_ids = {user.get("id") for user in users}
    if len(user_ids) != len(users) or len({user.get("name") for user in users}) != len(users):
        problems.append("user ids or names are not unique")
    for user in users:
        if (
            not str(user.get("id", "")).startswith("U")
            or not user.get("name")
            or not isinstance(user.get("profile"), dict)
        ):
            problems.append(f"user without id, name or profile: {user}")
    folders: dict[str, str] = {}
    for list_name in ("channels.json", "groups.json", "mpims.json", "dms.json"):
        for conversation in lists[list_name]:
            conversation_id = conversation.get("id")
            folder = conversation_id if list_name == "dms.json" else conversation.get("name")
            if not conversation_id or not folder:
                problems.append(f"{list_name}: conversation without id or name: {conversation}")
                continue
            if folder in folders:
                problems.append(f"{list_name}: folder {folder!r} used twice")
            folders[folder] = conversation_id
            if not isinstance(conversation.get("created"), int):
                problems.append(f"{list_name}: {folder} without a numeric 'created'")
            members = conversation.get("members")
            if (
                not isinstance(members, list)
                or not members
                or any(member not in user_ids for member in members)
            ):
                problems.append(f"{list_name}: {folder} has unknown or no members {members!r}")
            if list_name == "dms.json":
                if not isinstance(members, list) or len(members) != 2:
                    problems.append(f"dms.json: {folder} does not have exactly two members")
                continue
            if conversation.get("creator") not in user_ids:
                problems.append(f"{list_name}: {folder} has no known creator (Rocket.Chat drops it)")
            if list_name != "mpims.json" and not CHANNEL_NAME.match(str(folder)):
                problems.append(f"{list_name}: channel name {folder!r} is not a Slack channel name")
            if not isinstance(conversation.get("is_archived"), bool):
                problems.append(f"{list_name}: {folder} without is_archived")
    referenced_uploads: set[str] = set()
    messages_by_folder: dict[str, dict[str, dict[str, Any]]] = {}
    for name, messages in sorted(day_files.items()):
        parts = name.split("/")
        if len(parts) != 2 or not DAY_FILE.match(parts[1]):
            problems.append(f"{name}: not <conversation>/<YYYY-MM-DD>.json")
            continue
        folder, day = parts[0], parts[1][:-5]
        if folder not in folders:
            problems.append(f"{name}: folder of no listed conversation")
        if not isinstance(messages, list) or not messages:
            problems.append(f"{name}: not a non-empty JSON array")
            continue
        seen = messages_by_folder.setdefault(folder, {})
        previous = ""
        for message in messages:
            ts = str(message.get("ts", ""))
            if message.get("type") != "message" or not TS.match(ts):
                problems.append(
                    f"{name}: message without type 'message' or a valid ts: {message.get('ts')!r}"
                )
                continue
            if _day_of(ts) != day:
                problems.append(f"{name}: message {ts} belongs to {_day_of(ts)}")
            if ts in seen:
                problems.append(f"{name}: ts {ts} twice in the conversation")
            if (float(ts), ts) < (float(previous), previous) if previous else False:
                problems.append(f"{name}: messages not in time order at {ts}")
            previous = ts
            seen[ts] = message
            if message.get("user") not in user_ids or not isinstance(message.get("text", ""), str):
                problems.append(f"{name}: message {ts} by unknown user {message.get('user')!r}")
            for reaction in message.get("reactions") or []:
                reactors = reaction.get("users") or []
                if not reaction.get("name") or reaction.get("count") != len(reactors):
                    problems.append(f"{name}: reaction {reaction} without name or with a wrong count")
                if any(reactor not in user_ids for reactor in reactors):
                    problems.append(f"{name}: reaction by unknown users {reactors}")
            for attached in message.get("files") or []:
                upload = f"__uploads/{attached.get('id')}/{attached.get('name')}"
                if upload not in names:
                    problems.append(f"{name}: file {upload!r} is not in the zip")
                referenced_uploads.add(upload)
            if "edited" in message and not TS.match(str(message["edited"].get("ts", ""))):
                problems.append(f"{name}: message {ts} with an invalid edited.ts")
    for folder, messages in messages_by_folder.items():
        replies_of: dict[str, list[str]] = {}
        for ts, message in messages.items():
            thread_ts = message.get("thread_ts")
            if thread_ts is None:
                continue
            if thread_ts not in messages:
                problems.append(f"{folder}: {ts} replies to {thread_ts}, which is not in the conversation")
            elif thread_ts != ts:
                replies_of.setdefault(thread_ts, []).append(ts)
        for ts, message in messages.items():
            if message.get("thread_ts") != ts:
                continue
            replies = sorted(replies_of.get(ts, []))
            listed = sorted(str(reply.get("ts")) for reply in message.get("replies") or [])
            if message.get("reply_count") != len(replies) or listed != replies:
                problems.append(f"{folder}: root {ts} reply_count/replies do not match its replies")
    for name in sorted(names):
        if name.startswith("__uploads/") and name not in referenced_uploads:
            problems.append(f"{name}: upload not referenced by any message")
        if name.split("/")[0] not in folders and name.count("/") and not name.startswith("__uploads/"):
            problems.append(f"{name}: entry outside the conversation folders")
    return problems
