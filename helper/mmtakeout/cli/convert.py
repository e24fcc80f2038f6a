"""`mmtakeout convert`: write an archive in another chat system's import format."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path
from typing import Any

from mmtakeout.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from mmtakeout.convert import TARGETS, ArchiveError, ConvertOptions, PlanError, convert_archive, report_path


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert an archive into another chat system's import format",
        description="Write the archive as a file another chat system imports. A report of what could not be "
        "carried over is printed and saved next to the output as <FILE>.report.txt.",
    )
    parser.add_argument("archive_dir", metavar="ARCHIVE_DIR", type=Path, help="the archive folder")
    parser.add_argument(
        "--to", dest="target", required=True, choices=sorted(TARGETS), help="the target format"
    )
    parser.add_argument("--out", required=True, type=Path, metavar="FILE", help="the file to write (a .zip)")
    parser.add_argument(
        "--team",
        metavar="NAME",
        help="put every channel into this team on the target (for mattermost and zulip); created if missing",
    )
    parser.add_argument(
        "--direct-only", action="store_true", help="only direct and group messages, no team channels"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    options = ConvertOptions(team=args.team, direct_only=args.direct_only)
    try:
        report = convert_archive(args.archive_dir, args.target, args.out, options)
    except PlanError as error:
        print(f"mmtakeout convert: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (ArchiveError, OSError, sqlite3.Error) as error:
        print(f"mmtakeout convert: {error}", file=sys.stderr)
        return EXIT_FAILURE
    print(report.render(), end="")
    print(f"Wrote {args.out} and {report_path(args.out.absolute()).name}.")
    return EXIT_OK
