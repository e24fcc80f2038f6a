"""Where the native host keeps things: archives, its config and its log.

Every function takes the platform, the home directory and the environment as parameters, so the
installer and the tests can describe another user's or another OS's layout without touching this one.
The browser never chooses a path: archive folders are derived here from the server URL alone.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

APP_DIR_NAME = "mmtakeout"
ARCHIVES_FOLDER_NAME = "Mattermost Takeout"
CONFIG_FILE_NAME = "native-host.json"
LOG_FILE_NAME = "native-host.log"

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {
    f"{port}{n}" for port in ("com", "lpt") for n in range(10)
}


@dataclass(frozen=True)
class UserEnvironment:
    """The parts of the user's situation that decide where files go."""

    platform: str  # "linux", "darwin" or "win32" (as sys.platform; other Unixes behave like linux)
    home: Path
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_windows(self) -> bool:
        return self.platform == "win32"

    @property
    def is_macos(self) -> bool:
        return self.platform == "darwin"

    def env_path(self, name: str, default: Path) -> Path:
        value = self.env.get(name, "")
        return Path(value) if value and Path(value).is_absolute() else default

    @property
    def local_app_data(self) -> Path:
        return self.env_path("LOCALAPPDATA", self.home / "AppData" / "Local")

    @property
    def roaming_app_data(self) -> Path:
        return self.env_path("APPDATA", self.home / "AppData" / "Roaming")


def documents_dir(user: UserEnvironment) -> Path:
    """The user's documents folder (XDG_DOCUMENTS_DIR on Linux when set up)."""
    if user.is_windows:
        return user.home / "Documents"
    if user.is_macos:
        return user.home / "Documents"
    configured = _xdg_user_dir(user, "XDG_DOCUMENTS_DIR")
    return configured if configured is not None else user.home / "Documents"


def _xdg_user_dir(user: UserEnvironment, key: str) -> Path | None:
    """Read one entry of ~/.config/user-dirs.dirs (written by xdg-user-dirs-update)."""
    config_home = user.env_path("XDG_CONFIG_HOME", user.home / ".config")
    try:
        text = (config_home / "user-dirs.dirs").read_text(encoding="utf-8")
    except OSError:
        return None
    for line in text.splitlines():
        name, sep, raw_value = line.strip().partition("=")
        if not sep or name != key:
            continue
        try:
            words = shlex.split(raw_value)
        except ValueError:
            return None
        if len(words) != 1:
            return None
        value = words[0].replace("$HOME", str(user.home))
        path = Path(value)
        # "$HOME/" alone means "disabled" for xdg-user-dirs; fall back to ~/Documents then.
        return path if path.is_absolute() and path != user.home else None
    return None


def config_dir(user: UserEnvironment) -> Path:
    if user.is_windows:
        return user.roaming_app_data / APP_DIR_NAME
    if user.is_macos:
        return user.home / "Library" / "Application Support" / APP_DIR_NAME
    return user.env_path("XDG_CONFIG_HOME", user.home / ".config") / APP_DIR_NAME


def data_dir(user: UserEnvironment) -> Path:
    """Where the launcher script lives (and, on Windows, the host manifests)."""
    if user.is_windows:
        return user.local_app_data / APP_DIR_NAME
    if user.is_macos:
        return user.home / "Library" / "Application Support" / APP_DIR_NAME
    return user.env_path("XDG_DATA_HOME", user.home / ".local" / "share") / APP_DIR_NAME


def state_dir(user: UserEnvironment) -> Path:
    """Where the host writes its log."""
    if user.is_windows:
        return user.local_app_data / APP_DIR_NAME / "Logs"
    if user.is_macos:
        return user.home / "Library" / "Logs" / APP_DIR_NAME
    return user.env_path("XDG_STATE_HOME", user.home / ".local" / "state") / APP_DIR_NAME


def log_file(user: UserEnvironment) -> Path:
    return state_dir(user) / LOG_FILE_NAME


def config_file(user: UserEnvironment) -> Path:
    return config_dir(user) / CONFIG_FILE_NAME


@dataclass(frozen=True)
class HostConfig:
    """Settings `mmtakeout install` may write; everything has a sensible default."""

    archive_root: Path | None = None
    extra_extension_ids: tuple[str, ...] = ()

    def to_json(self) -> str:
        data: dict[str, object] = {}
        if self.archive_root is not None:
            data["archive_root"] = str(self.archive_root)
        if self.extra_extension_ids:
            data["extra_extension_ids"] = list(self.extra_extension_ids)
        return json.dumps(data, indent=2) + "\n"


class ConfigError(Exception):
    """The config file exists but cannot be used; the message names the file and the problem."""


def load_config(user: UserEnvironment) -> HostConfig:
    path = config_file(user)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return HostConfig()
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object.")
    root = data.get("archive_root")
    if root is not None and (not isinstance(root, str) or not Path(root).is_absolute()):
        raise ConfigError(f"{path}: archive_root must be an absolute path.")
    ids = data.get("extra_extension_ids", [])
    if not isinstance(ids, list) or not all(isinstance(item, str) and item for item in ids):
        raise ConfigError(f"{path}: extra_extension_ids must be a list of extension ids.")
    return HostConfig(archive_root=Path(root) if root else None, extra_extension_ids=tuple(ids))


def archive_root(user: UserEnvironment, config: HostConfig) -> Path:
    if config.archive_root is not None:
        return config.archive_root
    return documents_dir(user) / ARCHIVES_FOLDER_NAME


def folder_name_for_server(server_url: str) -> str:
    """A readable, safe, stable folder name for a server: host, then port and sub-path if any.

    `https://chat.example.org` → `chat.example.org`; `http://127.0.0.1:8065/mm` → `127.0.0.1_8065_mm`.
    """
    parts = urlsplit(server_url)
    host = (parts.hostname or "server").strip("[]")
    pieces = [host]
    if parts.port is not None:
        pieces.append(str(parts.port))
    pieces.extend(segment for segment in parts.path.split("/") if segment)
    name = _UNSAFE_NAME_CHARS.sub("_", "_".join(pieces)).strip("._") or "server"
    if name.split(".")[0].lower() in _WINDOWS_RESERVED:
        name = f"_{name}"
    return name[:120]


def archive_dir_for(user: UserEnvironment, config: HostConfig, server_url: str) -> Path:
    return archive_root(user, config) / folder_name_for_server(server_url)
