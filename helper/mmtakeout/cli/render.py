"""`mmtakeout render ARCHIVE_DIR`: (re)write the offline viewer and plain exports of an archive."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mmtakeout.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from mmtakeout.render import FORMATS, ArchiveError, render_archive


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "render",
        help="write the offline viewer (index.html) or plain exports of an archive",
        description="Write the offline viewer (ARCHIVE_DIR/index.html and site/) and, with --format, "
        "one Markdown/text/JSON/CSV file per conversation under ARCHIVE_DIR/exports/. Only what changed "
        "since the last render is rewritten.",
    )
    parser.add_argument("archive_dir", metavar="ARCHIVE_DIR", type=Path, help="the archive folder")
    parser.add_argument(
        "--format",
        dest="formats",
        action="append",
        choices=FORMATS,
        metavar="FORMAT",
        help=f"what to write: {', '.join(FORMATS)} (default html; repeat for several)",
    )
    parser.add_argument("--force", action="store_true", help="rewrite everything, not only what changed")
    parser.add_argument(
        "--timezone",
        metavar="ZONE",
        help="show times in this IANA zone, e.g. Europe/Berlin (default: this computer's)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    zone = None
    if args.timezone:
        try:
            zone = ZoneInfo(args.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            print(
                f"Unknown time zone {args.timezone!r}; use a name like Europe/Berlin or UTC.", file=sys.stderr
            )
            return EXIT_USAGE
    formats = tuple(dict.fromkeys(args.formats or ["html"]))
    archive_dir: Path = args.archive_dir
    if not archive_dir.is_dir():
        print(f"{archive_dir} is not a folder.", file=sys.stderr)
        return EXIT_USAGE
    try:
        stats = render_archive(archive_dir, formats=formats, force=args.force, timezone=zone)
    except ArchiveError as error:
        print(f"Cannot render: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as error:
        print(f"Cannot write into {archive_dir}: {error.strerror or error}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"Rendered {stats.summary()}.")
    if "html" in formats:
        print(f"Open {(archive_dir / 'index.html').resolve()} in a browser.")
    for fmt in formats:
        if fmt != "html":
            print(f"{fmt}: {(archive_dir / 'exports' / fmt).resolve()}")
    return EXIT_OK
