"""Where bytes go inside an archive folder.

Every path is derived from a server id that passed `is_safe_id` plus an extension that passed
`safe_extension`; names the server sends are data and never reach the file system. `resolve_inside`
is the last line of defence: it refuses any relative path that would leave the archive folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

FILES_DIR = "files"
AVATARS_DIR = "avatars"
EMOJI_DIR = "emoji"
BYTE_DIRS = (FILES_DIR, AVATARS_DIR, EMOJI_DIR)
TEMP_SUFFIX = ".part"

_SAFE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_SAFE_EXTENSION = re.compile(r"[a-z0-9]{1,10}")
_WINDOWS_DEVICE_NAMES = frozenset(
    {"con", "prn", "aux", "nul", "conin$", "conout$"}
    | {f"com{n}" for n in range(10)}
    | {f"lpt{n}" for n in range(10)}
)


class UnsafePathError(ValueError):
    """A path would leave the archive folder, or an id cannot be used as a file name."""


def is_safe_id(item_id: str) -> bool:
    """Server ids are 26 lowercase letters and digits; accept only that family as a file name."""
    return bool(_SAFE_ID.fullmatch(item_id)) and item_id not in _WINDOWS_DEVICE_NAMES


def _checked_id(item_id: str) -> str:
    if not is_safe_id(item_id):
        raise UnsafePathError(f"id {item_id!r} cannot be used as a file name")
    return item_id


def safe_extension(name: str, extension: str = "") -> str:
    """The extension to store a file under: the server's, else the name's, if it is short and plain."""
    for candidate in (extension, PurePosixPath(name.replace("\\", "/")).suffix):
        candidate = candidate.strip().lstrip(".").lower()
        if _SAFE_EXTENSION.fullmatch(candidate):
            return candidate
    return ""


def _with_extension(stem: str, extension: str) -> str:
    if extension and not _SAFE_EXTENSION.fullmatch(extension):
        raise UnsafePathError(f"extension {extension!r} is not allowed")
    return f"{stem}.{extension}" if extension else stem


def attachment_path(file_id: str, extension: str) -> str:
    file_id = _checked_id(file_id)
    return f"{FILES_DIR}/{file_id[:2]}/{_with_extension(file_id, extension)}"


def thumbnail_path(file_id: str) -> str:
    file_id = _checked_id(file_id)
    return f"{FILES_DIR}/{file_id[:2]}/{file_id}.thumb.jpg"


def preview_path(file_id: str) -> str:
    file_id = _checked_id(file_id)
    return f"{FILES_DIR}/{file_id[:2]}/{file_id}.preview.jpg"


def avatar_path(user_id: str) -> str:
    return f"{AVATARS_DIR}/{_checked_id(user_id)}.png"


def emoji_path(emoji_id: str, extension: str) -> str:
    return f"{EMOJI_DIR}/{_with_extension(_checked_id(emoji_id), extension)}"


def resolve_inside(root: Path, relative: str) -> Path:
    """The absolute path of `relative` under `root`; raises if it is absolute, climbs out, or
    reaches outside through a symbolic link."""
    parts = _plain_parts(relative)
    base = Path(os.path.realpath(root))
    target = base.joinpath(*parts)
    real_parent = Path(os.path.realpath(target.parent))
    if real_parent != base and base not in real_parent.parents:
        raise UnsafePathError(f"{relative!r} leads outside the archive folder")
    return target


def _plain_parts(relative: str) -> list[str]:
    """The parts of a relative archive path; raises for anything but plain names joined by `/`."""
    if not relative or relative.startswith("/") or "\\" in relative or "\x00" in relative:
        raise UnsafePathError(f"{relative!r} is not a relative archive path")
    parts = relative.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise UnsafePathError(f"{relative!r} is not a plain relative archive path")
    return parts


class InsideResolver:
    """`resolve_inside` for the many files of one run: a folder that was checked and created once
    is remembered, so later files in it cost no `realpath`, `lstat` or `mkdir` calls.

    Only directories this run created or found itself are remembered; the archive folder is not
    expected to change under a running export (the store holds its lock)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._base = Path(os.path.realpath(root))
        self._ready_dirs: set[str] = set()

    def resolve(self, relative: str) -> Path:
        """Like `resolve_inside`; cheap for a path in a folder `prepare` has seen."""
        parent = relative.rpartition("/")[0]
        if parent in self._ready_dirs:
            return self._base.joinpath(*_plain_parts(relative))
        return resolve_inside(self._root, relative)

    def prepare(self, relative: str) -> Path:
        """`resolve`, and make sure the folder that will hold `relative` exists."""
        parent = relative.rpartition("/")[0]
        target = self.resolve(relative)
        if parent not in self._ready_dirs:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._ready_dirs.add(parent)
        return target


def temp_path_for(target: Path) -> Path:
    """Where bytes for `target` are written before the rename that makes them visible."""
    return target.with_name(target.name + TEMP_SUFFIX)


def sniff_image_extension(head: bytes) -> str:
    """The image type from its first bytes (emoji images carry no trusted name)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    return "img"
