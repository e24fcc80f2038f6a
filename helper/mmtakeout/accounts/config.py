"""The small file of known archives that `mmtakeout sync` keeps up to date: server, folder, selection.

It never holds a token (tokens live in the OS keyring); it is JSON a person can read and edit, so it
is validated on every load like any other untrusted input. Writes go to a temporary file in the same
folder and replace the old file in one step, under a lock, so a crash or a concurrent `sync` and
`login` never leave a half-written or lost entry.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from mmtakeout.sync.options import ExportOptions

CONFIG_DIR_ENV_VAR = "MMTAKEOUT_CONFIG_DIR"
CONFIG_FILE_NAME = "archives.json"
LOG_FILE_NAME = "sync.log"
CONFIG_FORMAT = 1
MAX_CONFIG_BYTES = 4 * 1024 * 1024
APP_DIR_NAME = "mmtakeout"

Outcome = Literal["ok", "incomplete", "failed", "login-expired", "no-login"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "incomplete", "failed", "login-expired", "no-login")


class ConfigError(Exception):
    """The config file cannot be read or written; the message names the file and what to do."""


@dataclass(frozen=True)
class Selection:
    """What the archive holds, in the same shape the archive records it (`meta.selection`)."""

    scope: Literal["all", "direct"] = "all"
    files: bool = True
    max_file_size: int | None = None

    @classmethod
    def from_options(cls, options: ExportOptions) -> Selection:
        return cls(scope=options.scope, files=options.include_files, max_file_size=options.max_file_size)

    def to_options(self) -> ExportOptions:
        return ExportOptions(scope=self.scope, include_files=self.files, max_file_size=self.max_file_size)


@dataclass(frozen=True)
class LastRun:
    finished_at: str
    """ISO 8601, UTC."""
    outcome: Outcome
    message: str


@dataclass(frozen=True)
class KnownArchive:
    server_url: str
    folder: Path
    selection: Selection = Selection()
    last_run: LastRun | None = None


@dataclass(frozen=True)
class Config:
    archives: tuple[KnownArchive, ...] = ()

    def find(self, folder: Path) -> KnownArchive | None:
        return next((archive for archive in self.archives if archive.folder == folder), None)

    def with_archive(self, archive: KnownArchive) -> Config:
        """Add the archive, or update the one in the same folder (which must belong to the same server)."""
        existing = self.find(archive.folder)
        if existing is not None and existing.server_url != archive.server_url:
            raise ConfigError(
                f"{archive.folder} is already the archive of {existing.server_url}. Choose another folder, "
                f"or remove it from the list first with `mmtakeout sync --remove {archive.folder}`."
            )
        kept = tuple(known for known in self.archives if known.folder != archive.folder)
        if existing is not None:
            archive = replace(archive, last_run=archive.last_run or existing.last_run)
        return Config(archives=(*kept, archive))

    def without(self, predicate: Callable[[KnownArchive], bool]) -> Config:
        return Config(archives=tuple(archive for archive in self.archives if not predicate(archive)))


def config_dir(home: Path, environ: Mapping[str, str], platform: str) -> Path:
    """`$MMTAKEOUT_CONFIG_DIR`, else the platform's per-user config folder."""
    if environ.get(CONFIG_DIR_ENV_VAR):
        return Path(environ[CONFIG_DIR_ENV_VAR])
    if platform == "darwin":
        return home / "Library" / "Application Support" / APP_DIR_NAME
    if platform == "win32":
        return Path(environ.get("APPDATA") or home / "AppData" / "Roaming") / APP_DIR_NAME
    return Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / APP_DIR_NAME


def log_dir(home: Path, environ: Mapping[str, str], platform: str) -> Path:
    """Where `mmtakeout sync` keeps its log: next to the config when it is overridden, else the OS's place."""
    if environ.get(CONFIG_DIR_ENV_VAR):
        return Path(environ[CONFIG_DIR_ENV_VAR])
    if platform == "darwin":
        return home / "Library" / "Logs" / APP_DIR_NAME
    if platform == "win32":
        return Path(environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / APP_DIR_NAME
    return Path(environ.get("XDG_STATE_HOME") or home / ".local" / "state") / APP_DIR_NAME


def default_config_path() -> Path:
    return config_dir(Path.home(), os.environ, sys.platform) / CONFIG_FILE_NAME


def default_log_path() -> Path:
    return log_dir(Path.home(), os.environ, sys.platform) / LOG_FILE_NAME


def _selection_from_json(data: object, where: str) -> Selection:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: 'selection' must be an object")
    scope, files, max_file_size = data.get("scope", "all"), data.get("files", True), data.get("max_file_size")
    if scope not in ("all", "direct"):
        raise ConfigError(f'{where}: \'scope\' must be "all" or "direct"')
    if not isinstance(files, bool):
        raise ConfigError(f"{where}: 'files' must be true or false")
    if max_file_size is not None and (
        isinstance(max_file_size, bool) or not isinstance(max_file_size, int) or max_file_size < 0
    ):
        raise ConfigError(f"{where}: 'max_file_size' must be a number of bytes or null")
    return Selection(scope=scope, files=files, max_file_size=max_file_size)


def _last_run_from_json(data: object) -> LastRun | None:
    """The last run is informational: a damaged record is dropped rather than blocking every sync."""
    if not isinstance(data, dict):
        return None
    finished_at, outcome, message = data.get("finished_at"), data.get("outcome"), data.get("message", "")
    if isinstance(finished_at, str) and outcome in OUTCOMES and isinstance(message, str):
        return LastRun(finished_at=finished_at, outcome=outcome, message=message)
    return None


def _archive_from_json(data: object, index: int, path: Path) -> KnownArchive:
    where = f"{path}, archive {index + 1}"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: each archive must be an object")
    server_url, folder = data.get("server_url"), data.get("folder")
    if not isinstance(server_url, str) or not server_url.startswith(("https://", "http://")):
        raise ConfigError(f"{where}: 'server_url' must be an https:// or http:// address")
    if not isinstance(folder, str) or not folder or not Path(folder).is_absolute():
        raise ConfigError(f"{where}: 'folder' must be an absolute path")
    return KnownArchive(
        server_url=server_url,
        folder=Path(folder),
        selection=_selection_from_json(data.get("selection", {}), where),
        last_run=_last_run_from_json(data.get("last_run")),
    )


def parse_config(text: str, path: Path) -> Config:
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ConfigError(f"{path} is not valid JSON ({error}); fix or delete it.") from None
    if not isinstance(data, dict) or not isinstance(data.get("archives", []), list):
        raise ConfigError(f"{path} must be a JSON object with an 'archives' list; fix or delete it.")
    version = data.get("format", CONFIG_FORMAT)
    if version != CONFIG_FORMAT:
        raise ConfigError(f"{path} has format {version!r}; this version of mmtakeout reads format 1.")
    return Config(
        archives=tuple(_archive_from_json(item, index, path) for index, item in enumerate(data["archives"]))
    )


def render_config(config: Config) -> str:
    archives: list[dict[str, Any]] = []
    for archive in config.archives:
        entry: dict[str, Any] = {
            "server_url": archive.server_url,
            "folder": str(archive.folder),
            "selection": {
                "scope": archive.selection.scope,
                "files": archive.selection.files,
                "max_file_size": archive.selection.max_file_size,
            },
        }
        if archive.last_run is not None:
            entry["last_run"] = {
                "finished_at": archive.last_run.finished_at,
                "outcome": archive.last_run.outcome,
                "message": archive.last_run.message,
            }
        archives.append(entry)
    return json.dumps({"format": CONFIG_FORMAT, "archives": archives}, indent=2, ensure_ascii=False) + "\n"


def load_config(path: Path) -> Config:
    """The config at `path`; an empty one when the file does not exist yet."""
    try:
        with path.open("rb") as config_file:
            raw = config_file.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return Config()
    except OSError as error:
        raise ConfigError(f"{path} could not be read ({error.strerror or type(error).__name__}).") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path} is larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MB: it cannot be ours.")
    return parse_config(raw.decode("utf-8", errors="replace"), path)


def _write_atomically(path: Path, text: str) -> None:
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `<config>.lock` so read-modify-write cycles do not interleave."""
    lock_path = path.with_name(path.name + ".lock")
    with lock_path.open("a+b") as lock_file:
        if sys.platform == "win32":
            import msvcrt

            lock_file.seek(0)
            msvcrt.locking(lock_file.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                lock_file.seek(0)
                msvcrt.locking(lock_file.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)


def update_config(path: Path, change: Callable[[Config], Config]) -> Config:
    """Apply `change` to the current config and save the result atomically; returns the new config."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _locked(path):
            config = change(load_config(path))
            _write_atomically(path, render_config(config))
    except OSError as error:
        raise ConfigError(
            f"{path} could not be written ({error.strerror or type(error).__name__})."
        ) from None
    return config
