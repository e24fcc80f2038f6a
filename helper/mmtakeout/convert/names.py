"""Turning names and texts from the archive into what a target accepts.

Names come from the old server and are untrusted: they may break the target's rules (length,
charset, reserved words) or collide once several teams are merged. These helpers are pure so every
converter applies the same rules the same way, deterministically.
"""

from __future__ import annotations

import re
import unicodedata

PLACEHOLDER_EMAIL_DOMAIN = "users.invalid"

_UNSAFE_FILE_CHARS = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')


def clean_text(text: str) -> tuple[str, bool]:
    """The text without NUL characters (databases reject them) and whether anything was removed."""
    if "\x00" not in text:
        return text, False
    return text.replace("\x00", ""), True


def truncate_runes(text: str, limit: int) -> tuple[str, bool]:
    return (text, False) if len(text) <= limit else (text[:limit], True)


def split_message(text: str, limit: int) -> list[str]:
    """Cut `text` into pieces of at most `limit` characters, preferring line, then word boundaries.

    Nothing is dropped: the pieces joined give back the text.
    """
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = window.rfind("\n") + 1
        if cut < limit // 2:
            cut = window.rfind(" ") + 1
        if cut < limit // 2:
            cut = limit
        pieces.append(rest[:cut])
        rest = rest[cut:]
    pieces.append(rest)
    return pieces


def slug(text: str, allowed: str, replacement: str = "-") -> str:
    """Lowercase ASCII slug of `text`: characters outside the regex class `allowed` become `replacement`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    collapsed = re.sub(f"[^{allowed}]+", replacement, ascii_text)
    return collapsed.strip("-_.")


class UniqueNames:
    """Hands out names unique regardless of case, adding -2, -3, ... on collision."""

    def __init__(self, max_length: int, taken: set[str] | None = None) -> None:
        self.max_length = max_length
        self._taken: set[str] = {name.lower() for name in taken or set()}

    def is_taken(self, name: str) -> bool:
        return name[: self.max_length].lower() in self._taken

    def claim(self, wanted: str) -> str:
        base = wanted[: self.max_length]
        candidate = base
        number = 2
        while candidate.lower() in self._taken:
            suffix = f"-{number}"
            candidate = base[: self.max_length - len(suffix)] + suffix
            number += 1
        self._taken.add(candidate.lower())
        return candidate


def safe_file_name(name: str, fallback: str, max_bytes: int = 200) -> str:
    """A single path segment keeping the original name where it is harmless (never a path).

    Separators, control and invisible format characters (e.g. right-to-left overrides that disguise
    an extension) become `_`; a leading dot is dropped; the length is capped keeping the extension.
    """
    visible = "".join("_" if unicodedata.category(char) in ("Cf", "Cc") else char for char in name)
    cleaned = _UNSAFE_FILE_CHARS.sub("_", visible).strip().lstrip(".")
    if not cleaned:
        cleaned = fallback
    if len(cleaned.encode("utf-8")) <= max_bytes:
        return cleaned
    stem, dot, extension = cleaned.rpartition(".")
    if not dot or len(extension.encode("utf-8")) > 16:
        stem, extension = cleaned, ""
    keep = max_bytes - len(extension.encode("utf-8")) - (1 if extension else 0)
    shortened = stem.encode("utf-8")[:keep].decode("utf-8", "ignore") or fallback
    return f"{shortened}.{extension}" if extension else shortened


def placeholder_email(username: str) -> str:
    return f"{username}@{PLACEHOLDER_EMAIL_DOMAIN}"


_SIMPLE_EMAIL = re.compile(
    r"^[^@\s<>()\[\],;:\"]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$"
)


def usable_email(email: str) -> str | None:
    """The address lower-cased if it is a plain, valid-looking address, else None."""
    candidate = email.strip().lower()
    if len(candidate) > 128 or not _SIMPLE_EMAIL.match(candidate):
        return None
    return candidate


_SLACK_TONES = {
    "tone1": 2, "tone2": 3, "tone3": 4, "tone4": 5, "tone5": 6,
    "light_skin_tone": 2, "medium_light_skin_tone": 3, "medium_skin_tone": 4, "medium_dark_skin_tone": 5,
    "dark_skin_tone": 6,
}  # fmt: skip
_TONE_SUFFIX = re.compile(r"(.+?)_(tone[1-5]|(?:medium_)?(?:light_|dark_)?skin_tone)")


def tone_to_slack(emoji_name: str) -> str:
    """Mattermost writes skin tones as `_tone3` or `_medium_skin_tone`; Slack as `::skin-tone-4`."""
    match = _TONE_SUFFIX.fullmatch(emoji_name)
    if not match or match.group(2) not in _SLACK_TONES:
        return emoji_name
    return f"{match.group(1)}::skin-tone-{_SLACK_TONES[match.group(2)]}"
