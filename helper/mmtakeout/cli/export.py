"""`mmtakeout export` and `mmtakeout verify`: thin front ends to the engine and the archive checker."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from mmtakeout.api import DEFAULT_CONCURRENCY
from mmtakeout.api.errors import AuthenticationError, MattermostError
from mmtakeout.archive.paths import UnsafePathError
from mmtakeout.archive.store import ArchiveError
from mmtakeout.archive.verify import verify_archive
from mmtakeout.cli import EXIT_AUTH, EXIT_FAILURE, EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE
from mmtakeout.credentials import CredentialError, add_token_arguments, token_from_args
from mmtakeout.sync import DiskFullError, ExportOptions, ExportResult, ProgressSnapshot, export_archive

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)
_SIZE_FACTORS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
PROBLEMS_SHOWN = 20
PLAIN_PROGRESS_INTERVAL_S = 5.0

AUTH_MESSAGE = (
    "Your Mattermost session has expired or the token is invalid. Log in to {server} in your browser "
    "again, then run the same command (or click the extension button) again: what was saved is kept "
    "and the export resumes."
)


def parse_size(text: str) -> int:
    """`20MB`, `1.5G`, `500k` or a plain number of bytes; K, M, G and T count in powers of 1024."""
    match = _SIZE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (examples: 500KB, 20MB, 1.5GB)")
    return int(float(match.group(1)) * _SIZE_FACTORS[match.group(2).lower()])


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError("must be a whole number from 1 to 64")
    return value


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    export = subparsers.add_parser(
        "export",
        help="export (or update) your archive of a Mattermost server",
        description="Export everything you can see on a Mattermost server into an archive folder. "
        "Run it again with the same folder to update the archive; an interrupted export resumes.",
    )
    export.add_argument(
        "server_url", metavar="SERVER_URL", help="the server's address, e.g. https://chat.example.org"
    )
    export.add_argument("--out", required=True, type=Path, metavar="DIR", help="the archive folder")
    add_token_arguments(export)
    export.add_argument("--direct-only", action="store_true", help="only direct and group messages")
    export.add_argument("--no-files", action="store_true", help="do not download attachments")
    previews = export.add_mutually_exclusive_group()
    previews.add_argument(
        "--previews",
        dest="previews",
        action="store_true",
        help="also download the server's thumbnails and previews of images (two more requests per "
        "image; without them the viewer shows the originals, which are always kept)",
    )
    previews.add_argument(
        "--no-previews", dest="previews", action="store_false", help="do not download them (the default)"
    )
    export.add_argument(
        "--max-file-size",
        type=parse_size,
        metavar="SIZE",
        help="skip attachments larger than SIZE (e.g. 20MB)",
    )
    export.add_argument(
        "--concurrency",
        type=_positive,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"requests in flight at once (default {DEFAULT_CONCURRENCY}; lower it for a busy server)",
    )
    export.add_argument(
        "--quiet", action="store_true", help="no progress display, only problems and the result"
    )
    export.set_defaults(handler=run_export)

    verify = subparsers.add_parser(
        "verify",
        help="check an archive: database integrity and every saved file's checksum",
        description="Check that an archive folder is whole. Exit code 0 when all is well, 1 otherwise.",
    )
    verify.add_argument("archive", type=Path, metavar="DIR", help="the archive folder")
    verify.set_defaults(handler=run_verify)


class ProgressDisplay:
    """One updating line on a terminal; a plain line now and then otherwise."""

    def __init__(self, stream: TextIO, *, quiet: bool) -> None:
        self._stream = stream
        self._quiet = quiet
        self._tty = stream.isatty()
        self._last_phase = ""
        self._last_print = 0.0
        self._line_open = False

    def __call__(self, snapshot: ProgressSnapshot) -> None:
        if self._quiet:
            return
        now = time.monotonic()
        if self._tty:
            width = max(shutil.get_terminal_size((100, 20)).columns - 1, 20)
            self._stream.write("\r" + _progress_line(snapshot)[:width] + "\x1b[K")
            self._stream.flush()
            self._line_open = True
            return
        if snapshot.phase != self._last_phase or now - self._last_print >= PLAIN_PROGRESS_INTERVAL_S:
            self._last_phase, self._last_print = snapshot.phase, now
            print(_progress_line(snapshot, plain=True), file=self._stream, flush=True)

    def close(self) -> None:
        if self._line_open:
            self._stream.write("\n")
            self._stream.flush()
            self._line_open = False


def _human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _human_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


def _progress_line(s: ProgressSnapshot, *, plain: bool = False) -> str:
    parts = [
        f"{s.percent:5.1f}%",
        s.phase,
        f"channels {s.channels_done}/{s.channels_total}",
        f"posts {s.posts_saved:,}" + (f"/{s.posts_expected:,}" if s.posts_expected else ""),
        f"files {s.files_done}/{s.files_total}",
        _human_bytes(s.bytes_saved),
    ]
    if s.eta_s is not None and s.phase != "done":
        parts.append(f"ETA {_human_duration(s.eta_s)}")
    if s.current and not plain:
        parts.append(s.current)
    return "  ".join(parts)


def _render_if_available(archive_dir: Path, stream: TextIO) -> None:
    """The viewer is written by `mmtakeout.render` when that module provides `render_archive`."""
    render = importlib.import_module("mmtakeout.render")
    if not hasattr(render, "render_archive"):
        return
    try:
        render.render_archive(archive_dir)
    except Exception as error:
        print(f"The archive is complete, but writing its viewer failed: {error}", file=stream)


def run_export(args: argparse.Namespace) -> int:
    err = sys.stderr
    try:
        token = token_from_args(args.server_url, args)
    except CredentialError as error:
        print(error, file=err)
        return EXIT_USAGE
    options = ExportOptions(
        scope="direct" if args.direct_only else "all",
        include_files=not args.no_files,
        max_file_size=args.max_file_size,
        concurrency=args.concurrency,
        include_previews=args.previews,
    )
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=err)
    display = ProgressDisplay(err, quiet=args.quiet)
    try:
        result = asyncio.run(export_archive(args.server_url, token, args.out, options, progress=display))
    except AuthenticationError:
        display.close()
        print(AUTH_MESSAGE.format(server=args.server_url), file=err)
        return EXIT_AUTH
    except DiskFullError as error:
        display.close()
        print(error, file=err)
        return EXIT_FAILURE
    except (ArchiveError, UnsafePathError) as error:
        display.close()
        print(error, file=err)
        return EXIT_FAILURE
    except ValueError as error:
        display.close()
        print(f"{error}", file=err)
        return EXIT_USAGE
    except (MattermostError, OSError) as error:
        display.close()
        print(
            f"The export stopped: {error}\nWhat was saved is kept; run the same command again to resume.",
            file=err,
        )
        return EXIT_FAILURE
    display.close()
    _print_summary(result, err)
    if result.status != "cancelled":
        _render_if_available(result.archive_dir, err)
    print(result.archive_dir.resolve())
    return EXIT_INCOMPLETE if result.problems else EXIT_OK


def _print_summary(result: ExportResult, stream: TextIO) -> None:
    stats = result.stats
    print(
        f"{'Export ' + result.status}: {stats.get('channels', 0)} conversations, "
        f"{stats.get('posts_new', 0):,} new and {stats.get('posts_changed', 0):,} updated posts, "
        f"{stats.get('files_saved', 0):,} files ({_human_bytes(stats.get('bytes_saved', 0))}), "
        f"{stats.get('requests', 0):,} requests in {_human_duration(result.elapsed_s)}.",
        file=stream,
    )
    if result.problems:
        print(f"{len(result.problems)} item(s) could not be fetched (listed in report.txt):", file=stream)
        for problem in result.problems[:PROBLEMS_SHOWN]:
            print(f"  - {problem}", file=stream)
        if len(result.problems) > PROBLEMS_SHOWN:
            print(f"  … and {len(result.problems) - PROBLEMS_SHOWN} more.", file=stream)
        print("Run the same command again later to retry them.", file=stream)


def run_verify(args: argparse.Namespace) -> int:
    report = verify_archive(args.archive)
    if report.ok:
        print(
            f"{args.archive}: all good "
            f"({report.files_checked} files, {_human_bytes(report.bytes_checked)} checked)."
        )
        return EXIT_OK
    print(f"{args.archive}: {len(report.issues)} problem(s) found:", file=sys.stderr)
    for issue in report.issues:
        print(f"  - {issue}", file=sys.stderr)
    return EXIT_FAILURE
