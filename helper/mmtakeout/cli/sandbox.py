"""`mmtakeout sandbox`: serve a generated fake Mattermost server on loopback until interrupted.

mmtakeout sandbox [--host 127.0.0.1] [--port 0] [--posts N] [--seed S] [--latency-ms MS]
                  [--rate-limit R --burst B] [--fault-rate F] [--ready-file PATH]

Prints the URL, the login page and the (fake) session token; with --ready-file, writes them as JSON
once the server listens, so scripts can wait for the file instead of parsing output.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from mmtakeout.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from mmtakeout.sandbox.generator import SandboxSetup, generate_world
from mmtakeout.sandbox.server import RunningSandbox, SandboxConfig, running_sandbox


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="run a fake Mattermost server with generated data (for trying things out and tests)",
        description="Serve a generated Mattermost-like server on loopback until interrupted (Ctrl+C).",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=0, help="port, 0 picks a free one (default 0)")
    parser.add_argument("--posts", type=int, default=500, help="number of posts to generate (default 500)")
    parser.add_argument(
        "--seed", type=int, default=1, help="generator seed; same seed, same data (default 1)"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every API request")
    parser.add_argument("--rate-limit", type=float, default=None, metavar="R", help="requests per second")
    parser.add_argument(
        "--burst", type=int, default=100, metavar="B", help="burst allowance with --rate-limit"
    )
    parser.add_argument(
        "--fault-rate", type=float, default=0.0, metavar="F", help="share of failing requests"
    )
    parser.add_argument("--ready-file", type=Path, default=None, help="write connection details here as JSON")
    parser.set_defaults(handler=run)


def _write_ready_file(path: Path, details: dict[str, str]) -> None:
    """Atomically: scripts polling for the file never see it half-written."""
    path = path.resolve()
    fd, temporary = tempfile.mkstemp(prefix=".sandbox-ready-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(details, handle)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _details(sandbox: RunningSandbox, setup: SandboxSetup) -> dict[str, str]:
    return {
        "url": sandbox.url,
        "login_url": sandbox.login_url,
        "token": setup.token,
        "user_id": setup.user_id,
        "username": setup.username,
        "password": setup.password,
    }


async def _serve(args: argparse.Namespace, setup: SandboxSetup, config: SandboxConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_sandbox(setup.world, config, host=args.host, port=args.port) as sandbox:
        details = _details(sandbox, setup)
        print(f"Sandbox Mattermost server: {details['url']}")
        print(f"Log in at {details['login_url']} as {details['username']} / {details['password']}")
        print(f"Session token (fake): {details['token']}")
        print("Press Ctrl+C to stop.", flush=True)
        if args.ready_file is not None:
            _write_ready_file(args.ready_file, details)
        await stop.wait()


def run(args: argparse.Namespace) -> int:
    if args.posts < 0 or not 0.0 <= args.fault_rate <= 1.0 or args.latency_ms < 0:
        print(
            "--posts and --latency-ms must not be negative; --fault-rate is between 0 and 1.", file=sys.stderr
        )
        return EXIT_USAGE
    if args.rate_limit is not None and args.rate_limit <= 0:
        print("--rate-limit must be positive.", file=sys.stderr)
        return EXIT_USAGE
    config = SandboxConfig(
        latency_ms=args.latency_ms,
        rate_limit_per_s=args.rate_limit,
        rate_burst=args.burst,
        fault_rate=args.fault_rate,
    )
    setup = generate_world(seed=args.seed, posts=args.posts)
    try:
        asyncio.run(_serve(args, setup, config))
    except ValueError as error:
        print(f"Cannot start the sandbox: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        print(f"Cannot start the sandbox: {error}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK
