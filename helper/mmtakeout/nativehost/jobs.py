"""What the helper does for the extension: run an export, open an archive, remember a login.

Each function turns one validated request into frames for the browser. Paths are derived from the
server URL and the user's settings (`paths`), never taken from a message. Progress frames are throttled
and every list or text in a frame is clipped, so a frame stays far below the browser's 1 MiB limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from mmtakeout.accounts.remember import remember_server
from mmtakeout.api.errors import AuthenticationError, TransportError
from mmtakeout.archive.errors import is_disk_full
from mmtakeout.archive.folder import ArchiveBusyError
from mmtakeout.archive.store import ArchiveError
from mmtakeout.credentials.errors import CredentialError
from mmtakeout.nativehost import paths
from mmtakeout.nativehost.protocol import (
    PROTOCOL_VERSION,
    ArchiveTarget,
    ErrorCode,
    OpenArchive,
    Remember,
    Start,
    clip,
    error_frame,
)
from mmtakeout.render import render_archive
from mmtakeout.sync import ExportOptions, ExportResult, ProgressSnapshot, export_archive

Send = Callable[[Mapping[str, object]], None]

PROGRESS_INTERVAL_S = 0.2  # at most five progress frames a second, plus one per phase change
MAX_PROBLEMS_IN_FRAME = 20


@dataclass(frozen=True)
class JobContext:
    user: paths.UserEnvironment
    config: paths.HostConfig
    logger: logging.Logger


@dataclass
class RunningJob:
    start: Start
    cancel: asyncio.Event
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class ProgressThrottle:
    """Lets a snapshot through when the phase changed or enough time passed since the last one."""

    def __init__(self, min_interval_s: float = PROGRESS_INTERVAL_S) -> None:
        self._min_interval_s = min_interval_s
        self._last_time: float | None = None
        self._last_phase: str | None = None

    def should_send(self, phase: str, now: float) -> bool:
        due = self._last_time is None or now - self._last_time >= self._min_interval_s
        if due or phase != self._last_phase:
            self._last_phase = phase
            self._last_time = now
            return True
        return False


def progress_frame(job: str, snapshot: ProgressSnapshot) -> dict[str, object]:
    return {
        "v": PROTOCOL_VERSION,
        "type": "progress",
        "job": job,
        "phase": clip(str(snapshot.phase), 40),
        "percent": None if snapshot.percent is None else round(max(0.0, min(100.0, snapshot.percent)), 1),
        "channels_total": snapshot.channels_total,
        "channels_done": snapshot.channels_done,
        "posts_expected": snapshot.posts_expected,
        "posts_saved": snapshot.posts_saved,
        "files_total": snapshot.files_total,
        "files_done": snapshot.files_done,
        "bytes_saved": snapshot.bytes_saved,
        "elapsed_s": round(snapshot.elapsed_s, 1),
        "eta_s": None if snapshot.eta_s is None else round(snapshot.eta_s),
        "current": clip(snapshot.current or "", 120),
    }


def done_frame(
    job: str, result: ExportResult, *, viewer: bool, totals: Mapping[str, int] | None
) -> dict[str, object]:
    """`stats` are this run's counts (new messages, files saved…); `archive` what the archive holds."""
    problems = [clip(str(problem), 300) for problem in result.problems[:MAX_PROBLEMS_IN_FRAME]]
    return {
        "v": PROTOCOL_VERSION,
        "type": "done",
        "job": job,
        "status": str(result.status),
        "archive_dir": str(result.archive_dir),
        "viewer": viewer,
        "stats": {clip(str(name), 40): value for name, value in list(result.stats.items())[:40]},
        "archive": dict(totals) if totals is not None else None,
        "problems": problems,
        "problems_total": len(result.problems),
        "elapsed_s": round(result.elapsed_s, 1),
    }


class ArchiveBusy(Exception):
    """Another helper process is writing this archive."""


class ArchiveLock:
    """An OS file lock per archive folder (in the helper's state folder, not in the archive)."""

    def __init__(self, lock_path: Path) -> None:
        self._path = lock_path
        self._file: IO[bytes] | None = None

    def __enter__(self) -> ArchiveLock:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self._path, "a+b")
        try:
            _lock_file(handle)
        except OSError as exc:
            handle.close()
            raise ArchiveBusy(str(self._path)) from exc
        self._file = handle
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._file is not None:
            _unlock_file(self._file)
            self._file.close()
            self._file = None


if sys.platform == "win32":
    import msvcrt

    def _lock_file(handle: IO[bytes]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

    def _unlock_file(handle: IO[bytes]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock_file(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock_file(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def lock_path_for(user: paths.UserEnvironment, archive_dir: Path) -> Path:
    digest = hashlib.sha256(str(archive_dir.absolute()).encode("utf-8")).hexdigest()[:24]
    return paths.state_dir(user) / "locks" / f"{archive_dir.name[:60]}-{digest}.lock"


async def run_export(context: JobContext, running: RunningJob, send: Send) -> None:
    """Export (or update) the archive of one server and report progress, then `done` or `error`."""
    start = running.start
    job, server, log = start.job, start.session.server, context.logger
    archive_dir = paths.archive_dir_for(context.user, context.config, server)
    throttle = ProgressThrottle()

    def on_progress(snapshot: ProgressSnapshot) -> None:
        if throttle.should_send(str(snapshot.phase), time.monotonic()):
            send(progress_frame(job, snapshot))

    def fail(code: ErrorCode, message: str) -> None:
        log.warning("job %s: %s", job, code.value)
        send(error_frame(code, message, job=job))

    log.info(
        "job %s: %s of %s into %s (scope=%s, files=%s)",
        job,
        "export",
        server,
        archive_dir,
        start.scope.value,
        start.include_files,
    )
    try:
        with ArchiveLock(lock_path_for(context.user, archive_dir)):
            options = ExportOptions(scope=start.scope.value, include_files=start.include_files)
            result = await export_archive(
                server, start.session.token, archive_dir, options, progress=on_progress, cancel=running.cancel
            )
            send({**progress_frame(job, _last_snapshot(result)), "phase": "viewer"})
            viewer = await _write_viewer(archive_dir, log)
            totals = _archive_totals(archive_dir, log)
    except (ArchiveBusy, ArchiveBusyError):
        fail(ErrorCode.BUSY, "A backup of this server is already running. Wait for it to finish.")
        return
    except ArchiveError as exc:
        log.warning("job %s: archive refused: %s", job, exc)
        fail(ErrorCode.INTERNAL, f"The archive folder {archive_dir} cannot be used: {clip(str(exc), 300)}")
        return
    except AuthenticationError:
        fail(
            ErrorCode.SESSION_EXPIRED,
            "Your session has expired. Log in to Mattermost again, then click Back up.",
        )
        return
    except TransportError as exc:
        fail(ErrorCode.UNREACHABLE, f"The helper could not reach {server}: {clip(exc.message, 200)}")
        return
    except Exception as exc:
        if is_disk_full(exc):
            log.warning("job %s: disk full", job)
            fail(
                ErrorCode.DISK_FULL,
                f"The disk is full. Free some space on the drive of {archive_dir}, "
                "then click Back up again: it continues where it stopped.",
            )
        elif isinstance(exc, OSError):
            log.exception("job %s: file error", job)
            fail(ErrorCode.INTERNAL, f"The helper could not write the archive: {exc.strerror or exc}.")
        else:
            log.exception("job %s: unexpected failure", job)
            fail(ErrorCode.INTERNAL, "The helper failed unexpectedly. Its log has the details.")
        return
    log.info("job %s: %s in %.1f s, %d problems", job, result.status, result.elapsed_s, len(result.problems))
    send(done_frame(job, result, viewer=viewer, totals=totals))


def _last_snapshot(result: ExportResult) -> ProgressSnapshot:
    """A 100 % snapshot from the run's stats, shown while the viewer is being written."""
    stats = result.stats
    return ProgressSnapshot(
        phase="viewer",
        channels_total=stats.get("channels", 0),
        channels_done=stats.get("channels", 0),
        posts_expected=0,
        posts_saved=stats.get("posts_new", 0),
        files_total=stats.get("files_saved", 0),
        files_done=stats.get("files_saved", 0),
        bytes_saved=stats.get("bytes_saved", 0),
        elapsed_s=result.elapsed_s,
        eta_s=None,
        percent=100.0,
        current="",
    )


def _archive_totals(archive_dir: Path, log: logging.Logger) -> dict[str, int] | None:
    """What the archive holds after the run (read-only, through the public archive format)."""
    database = archive_dir / "archive.sqlite"
    try:
        connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
        try:
            channels, posts, files = connection.execute(
                "SELECT (SELECT count(*) FROM channels), (SELECT count(*) FROM posts),"
                " (SELECT count(*) FROM files WHERE path IS NOT NULL)"
            ).fetchone()
        finally:
            connection.close()
    except sqlite3.Error:
        log.exception("counting the archive failed")
        return None
    return {"channels": int(channels), "posts": int(posts), "files": int(files)}


async def _write_viewer(archive_dir: Path, log: logging.Logger) -> bool:
    """Refresh the offline viewer; a failure here leaves the archive itself intact."""
    if not (archive_dir / "archive.sqlite").exists():
        return False
    try:
        await asyncio.to_thread(render_archive, archive_dir)
    except Exception:
        log.exception("writing the viewer failed")
        return False
    return (archive_dir / "index.html").exists()


def opener_command(platform: str, target: Path) -> list[str] | None:
    """The OS's "open with the default application" program; None on Windows (os.startfile)."""
    if platform == "win32":
        return None
    return ["open" if platform == "darwin" else "xdg-open", str(target)]


def open_archive(context: JobContext, request: OpenArchive) -> dict[str, object]:
    archive_dir = paths.archive_dir_for(context.user, context.config, request.server)
    target = archive_dir / "index.html" if request.target is ArchiveTarget.VIEWER else archive_dir
    if not target.exists():
        what = "viewer" if request.target is ArchiveTarget.VIEWER else "archive folder"
        return error_frame(
            ErrorCode.NO_ARCHIVE, f"There is no {what} for {request.server} yet: click Back up first."
        )
    command = opener_command(context.user.platform, target)
    try:
        if command is None:
            os.startfile(target)  # type: ignore[attr-defined,unused-ignore]  # noqa: S606 - Windows only
        else:
            # Own session and no inherited pipes: the opener must never write into the browser's stdout.
            subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
    except OSError as exc:
        context.logger.warning("opening %s failed: %s", target, exc)
        return error_frame(
            ErrorCode.INTERNAL,
            f"Could not open {target}: {exc.strerror or exc}. Open it from your file manager instead.",
        )
    context.logger.info("opened %s", request.target.value)
    return {"v": PROTOCOL_VERSION, "type": "opened", "target": request.target.value, "path": str(target)}


async def remember(context: JobContext, request: Remember) -> dict[str, object]:
    """Store the login in the OS keyring and register the archive, so `mmtakeout sync` keeps it current."""
    server = request.session.server
    archive_dir = paths.archive_dir_for(context.user, context.config, server)
    options = ExportOptions(scope=request.scope.value, include_files=request.include_files)
    try:
        # The keyring may wait on D-Bus or a system prompt; keep the frame loop responsive meanwhile.
        await asyncio.to_thread(remember_server, server, request.session.token, archive_dir, options)
    except CredentialError as exc:
        context.logger.warning("remember for %s failed: %s", server, type(exc).__name__)
        return error_frame(ErrorCode.KEYRING_UNAVAILABLE, str(exc))
    except (OSError, ValueError) as exc:
        context.logger.exception("remember for %s failed", server)
        return error_frame(ErrorCode.INTERNAL, f"The helper could not save the settings: {exc}")
    context.logger.info("remembered %s for automatic updates of %s", server, archive_dir)
    return {"v": PROTOCOL_VERSION, "type": "remembered", "server": server, "archive_dir": str(archive_dir)}
