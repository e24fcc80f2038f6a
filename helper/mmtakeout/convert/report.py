"""What a conversion carried over and what it could not: the short report every converter writes.

A target format never holds everything an archive holds. The report tells the user, in plain words,
what was changed or left out so nothing is lost silently. Categories are fixed sentences so the
report reads the same from run to run; each keeps a count and a few examples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EXAMPLES_PER_CATEGORY = 5

CATEGORIES: dict[str, str] = {
    "placeholder_email": "users whose e-mail address the server hid got a placeholder address "
    "(<username>@users.invalid); correct it on the new system",
    "renamed_user": "usernames the target does not accept were changed",
    "unknown_user": "authors missing from the archive's user list got a generated username",
    "bot_as_user": "bots were imported as ordinary user accounts",
    "unknown_team": "channels of teams missing from the archive's team list went into a stand-in team",
    "renamed_team": "team names the target does not accept were changed",
    "renamed_channel": "channel names were changed to be valid and unique in the target",
    "truncated_field": "names, headers or purposes longer than the target allows were shortened",
    "skipped_channel_type": "conversations of a type the target does not know were left out",
    "group_as_channel": "group messages the target cannot hold as a group were turned into private channels",
    "unknown_members": "direct messages whose two members the archive does not know were left out",
    "skipped_group": "group messages with no team to turn them into a private channel were left out",
    "archived_channel_kept_open": "archived channels are imported as ordinary channels "
    "(the format has no archived flag)",
    "deleted_post": "messages deleted on the server (kept in the archive) were left out",
    "system_post": "system messages (joins, leaves, header changes, ...) were left out; "
    "the new system writes its own",
    "custom_type_post": "posts of plugin or unknown types were carried as plain messages",
    "missing_time": "posts without a creation time were left out",
    "time_shifted": "messages identical to another one sent in the same millisecond were moved by 1 ms "
    "(the importer would merge them into one)",
    "split_message": "messages longer than the target allows were split into several posts",
    "split_thread": "threads too large for one import line were split; later parts start their own thread",
    "detached_reply": "replies whose thread start is not in the archive (or was deleted) "
    "became ordinary messages",
    "flattened_thread": "threads are flattened: replies follow in time order without a link to their start",
    "edit_history_dropped": "edited messages keep only their current text; "
    "earlier versions stay in the archive",
    "file_missing": "attachments whose bytes are not in the archive (not downloaded, skipped or failed) "
    "were left out",
    "file_renamed": "attachment names unsafe as file names inside the zip were changed",
    "file_dropped": "attachments are not part of this format; "
    "their names are noted at the end of the message",
    "reaction_time_fixed": "reactions without a valid time got their post's time",
    "reaction_custom_emoji_missing": "reactions use custom emoji whose image is not in the archive",
    "reaction_unknown_emoji": "reactions use emoji names that are neither standard nor custom emoji "
    "of the archive (the target shows the name or drops them)",
    "reaction_invalid": "reactions by unknown people or with invalid emoji names were left out",
    "reaction_dropped": "reactions are not part of this format",
    "reaction_may_drop": "reactions with emoji the target does not know may be dropped by its importer",
    "emoji_missing_image": "custom emoji whose image is not in the archive were left out",
    "emoji_invalid_name": "custom emoji whose name the target does not accept were left out",
    "emoji_dropped": "custom emoji are not part of this format",
    "avatar_dropped": "profile pictures are not part of this format",
    "pin_dropped": "pins are not part of this format",
    "display_name_dropped": "channel display names are not part of this format; channels keep their URL name",
    "header_dropped": "channel headers, purposes and display names are not part of this format",
    "teams_merged": "teams were merged into one target team",
    "direct_single_team": "direct and group messages are kept because the output has exactly one team "
    "(Zulip imports them only from single-team exports)",
    "self_dm_as_channel": "the conversation with yourself became a private channel",
    "control_characters": "NUL characters, which databases reject, were removed from texts",
}


@dataclass
class _Entry:
    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class ConversionReport:
    """Counts of what was carried over plus every category of loss, in a fixed order."""

    target: str
    carried: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    _entries: dict[str, _Entry] = field(default_factory=dict)

    def add(self, category: str, example: str | None = None, count: int = 1) -> None:
        if category not in CATEGORIES:
            raise KeyError(f"unknown report category {category!r}")
        entry = self._entries.setdefault(category, _Entry())
        entry.count += count
        if (
            example is not None
            and len(entry.examples) < EXAMPLES_PER_CATEGORY
            and example not in entry.examples
        ):
            entry.examples.append(example)

    def count(self, category: str, amount: int = 1) -> None:
        self.carried[category] = self.carried.get(category, 0) + amount

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def issues(self) -> dict[str, int]:
        return {category: entry.count for category, entry in self._entries.items()}

    def examples(self, category: str) -> list[str]:
        entry = self._entries.get(category)
        return list(entry.examples) if entry else []

    def render(self) -> str:
        lines = [f"Conversion to {self.target}"]
        if self.carried:
            carried = ", ".join(f"{count} {what}" for what, count in sorted(self.carried.items()))
            lines.append(f"Carried over: {carried}.")
        lines.extend(self.notes)
        issues = [(category, self._entries[category]) for category in CATEGORIES if category in self._entries]
        if not issues:
            lines.append("Nothing was left out or changed.")
            return "\n".join(lines) + "\n"
        lines.append("Not carried over or changed:")
        for category, entry in issues:
            lines.append(f"- {entry.count} x {CATEGORIES[category]}")
            lines.extend(f"    e.g. {_one_line(example)}" for example in entry.examples)
        return "\n".join(lines) + "\n"


def _one_line(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
