"""The `mmtakeout` command line: a thin front end that dispatches to one module per command group.

Each module in COMMAND_MODULES exposes `register(subparsers)`, which adds its sub-commands and sets
`handler` (a callable taking the parsed namespace and returning an exit code) on each of them.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from collections.abc import Callable, Sequence

from mmtakeout import __version__

COMMAND_MODULES = ("export", "accounts", "render", "convert", "native", "sandbox")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_INCOMPLETE = 4


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmtakeout",
        description="Keep your own Mattermost chats: export, update, view and convert a personal archive.",
    )
    parser.add_argument("--version", action="version", version=f"mmtakeout {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"mmtakeout.cli.{name}")
        module.register(subparsers)
    return parser


def collect_garbage_less_often() -> None:
    """Exports, renders and conversions make millions of short-lived JSON objects and keep few of them:
    with Python's default thresholds the cycle collector ran thousands of times over a growing heap
    (about a tenth of an export's CPU time). Reference counting frees nearly all of it anyway."""
    gc.set_threshold(50_000, 20, 10)


def main(argv: Sequence[str] | None = None) -> int:
    collect_garbage_less_often()
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("Interrupted. What was saved stays; run the same command again to resume.", file=sys.stderr)
        return 130
