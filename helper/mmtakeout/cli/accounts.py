"""`mmtakeout login`, `logout` and `sync`: stored logins and archives that stay current without a click.

mmtakeout login URL [--browser NAME|auto | --token-stdin] [--out DIR [--direct-only] [--no-files]]
mmtakeout logout URL [--forget-archives]
mmtakeout sync [--quiet] [--browser NAME|auto]      update every known archive
mmtakeout sync --list | --remove DIR                show or edit the list
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.handlers
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from mmtakeout.accounts.config import (
    Config,
    ConfigError,
    KnownArchive,
    Outcome,
    default_config_path,
    default_log_path,
    load_config,
    update_config,
)
from mmtakeout.accounts.notify import send_notification
from mmtakeout.accounts.remember import archive_folder, forget_server, register_archive
from mmtakeout.accounts.sync_known import ArchiveOutcome, TokenSources, sync_known_archives, worst
from mmtakeout.api import AuthenticationError, MattermostClient, MattermostError, User
from mmtakeout.cli import EXIT_AUTH, EXIT_FAILURE, EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE
from mmtakeout.cli.export import parse_size
from mmtakeout.credentials import TOKEN_ENV_VAR, current_environment
from mmtakeout.credentials.browsers import AUTO, BROWSER_CHOICES, ranked_tokens
from mmtakeout.credentials.errors import CredentialError
from mmtakeout.credentials.found import FoundToken
from mmtakeout.credentials.keyring_store import KeyringUnavailable, TokenStore
from mmtakeout.credentials.server import ServerAddress
from mmtakeout.credentials.token_format import clean_token
from mmtakeout.sync import export_archive
from mmtakeout.sync.options import ExportOptions

SYNC_LOGGER = "mmtakeout.accounts.sync"
LOG_FILE_BYTES = 1024 * 1024
LOG_FILE_BACKUPS = 3
EXIT_CODES: dict[Outcome, int] = {
    "ok": EXIT_OK,
    "incomplete": EXIT_INCOMPLETE,
    "failed": EXIT_FAILURE,
    "login-expired": EXIT_AUTH,
    "no-login": EXIT_AUTH,
}


def _say(text: str) -> None:
    print(text, flush=True)


def _complain(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- login


def _login_candidates(server: ServerAddress, args: argparse.Namespace) -> Iterator[FoundToken]:
    """Where `login` looks: what the person named, else the environment, the keyring, every browser."""
    if args.token_stdin:
        line = sys.stdin.readline()
        if not line.strip():
            raise CredentialError(
                "--token-stdin was given, but standard input had no token on its first line."
            )
        yield FoundToken(token=clean_token(line), source="standard input")
        return
    if args.browser:
        yield from ranked_tokens(server, args.browser, current_environment())
        return
    if os.environ.get(TOKEN_ENV_VAR, "").strip():
        yield FoundToken(token=clean_token(os.environ[TOKEN_ENV_VAR]), source=f"the {TOKEN_ENV_VAR} variable")
        return
    try:
        stored = TokenStore.open().load(server)
    except KeyringUnavailable:
        stored = None
    if stored:
        yield FoundToken(token=stored, source="the login saved earlier")
    yield from ranked_tokens(server, AUTO, current_environment())


async def _first_accepted(server: ServerAddress, candidates: Iterator[FoundToken]) -> tuple[FoundToken, User]:
    refused: list[str] = []
    try:
        for candidate in candidates:
            try:
                async with MattermostClient(server.url, candidate.token, max_retries=2) as client:
                    return candidate, await client.get_me()
            except AuthenticationError:
                refused.append(candidate.source)
    except CredentialError as error:
        if refused:
            raise CredentialError(
                f"{server.url} refused the login from {', '.join(refused)}.\n{error}"
            ) from None
        raise
    raise CredentialError(
        f"{server.url} refused the login from {', '.join(refused)}: it has expired or was signed out. "
        f"Log in to {server.url} in your browser again, then run this again."
    )


def _options_from_args(args: argparse.Namespace) -> ExportOptions:
    return ExportOptions(
        scope="direct" if args.direct_only else "all",
        include_files=not args.no_files,
        max_file_size=args.max_file_size,
    )


def _login(args: argparse.Namespace) -> int:
    try:
        server = ServerAddress.parse(args.url)
    except CredentialError as error:
        _complain(str(error))
        return EXIT_USAGE
    try:
        found, user = asyncio.run(_first_accepted(server, _login_candidates(server, args)))
    except CredentialError as error:
        _complain(str(error))
        return EXIT_AUTH
    except MattermostError as error:
        _complain(f"Could not check the login with {args.url}: {error}")
        return EXIT_FAILURE
    try:
        store = TokenStore.open()
        store.save(server, found.token)
        archive = register_archive(server.url, args.out, _options_from_args(args)) if args.out else None
    except (CredentialError, ConfigError) as error:
        _complain(f"Logged in to {server.url} as @{user.username}, but the login could not be kept.\n{error}")
        return EXIT_FAILURE
    _say(f"Logged in to {server.url} as @{user.username} (login taken from {found.source}).")
    _say(
        f"The token is kept in your keyring ({store.backend_name}); "
        f"`mmtakeout logout {server.url}` removes it."
    )
    if archive is not None:
        _say(
            f"`mmtakeout sync` now keeps {archive.folder} up to date. Run it once now, then on a schedule "
            "(cron, systemd timer, launchd or Task Scheduler: see scripts/schedule/)."
        )
    return EXIT_OK


# ---------------------------------------------------------------- logout


def _logout(args: argparse.Namespace) -> int:
    try:
        deleted, removed = forget_server(args.url, forget_archives=args.forget_archives)
        url = ServerAddress.parse(args.url).url
    except (CredentialError, ConfigError) as error:
        _complain(str(error))
        return EXIT_FAILURE
    _say(f"Removed the saved login for {url}." if deleted else f"There was no saved login for {url}.")
    if args.forget_archives:
        _say(f"Removed {removed} archive(s) of {url} from the sync list; their folders are untouched.")
    return EXIT_OK


# ---------------------------------------------------------------- sync


def _describe(archive: KnownArchive) -> str:
    selection = archive.selection
    what = "direct and group messages" if selection.scope == "direct" else "all conversations"
    files = "with files" if selection.files else "without files"
    if selection.files and selection.max_file_size is not None:
        files += f" up to {selection.max_file_size} bytes"
    return f"{archive.folder}  <-  {archive.server_url}  ({what}, {files})"


def _list(config: Config, config_path: Path) -> int:
    if not config.archives:
        _say(
            f"No archives are kept up to date yet ({config_path}). "
            "Add one with `mmtakeout login URL --out DIR`."
        )
        return EXIT_OK
    _say(f"Archives `mmtakeout sync` keeps up to date ({config_path}):")
    for archive in config.archives:
        _say(f"  {_describe(archive)}")
        if archive.last_run is not None:
            run = archive.last_run
            _say(f"      last run {run.finished_at}: {run.outcome}: {run.message}")
    return EXIT_OK


def _remove(folder_text: str, config_path: Path) -> int:
    folder = archive_folder(Path(folder_text))
    removed: list[KnownArchive] = []

    def drop(config: Config) -> Config:
        removed.extend(archive for archive in config.archives if archive.folder == folder)
        return config.without(lambda archive: archive.folder == folder)

    update_config(config_path, drop)
    if not removed:
        _complain(f"{folder} is not in the sync list; `mmtakeout sync --list` shows what is.")
        return EXIT_FAILURE
    _say(f"{folder} is no longer updated by `mmtakeout sync` (the folder itself is untouched).")
    return EXIT_OK


@contextmanager
def _sync_log(path: Path) -> Iterator[logging.Logger]:
    """A size-capped log file, so runs from cron or Task Scheduler leave a trace a person can read later."""
    logger = logging.getLogger(SYNC_LOGGER)
    logger.setLevel(logging.INFO)
    handler: logging.Handler
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
        )
    except OSError as error:
        _complain(f"The sync log {path} cannot be written ({error.strerror}); going on without it.")
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        handler.close()


def _token_sources(browser: str | None) -> TokenSources:
    store: TokenStore | None = None
    problem: KeyringUnavailable | None = None
    try:
        store = TokenStore.open()
    except KeyringUnavailable as error:
        problem = error

    def stored(server: ServerAddress) -> str | None:
        if store is None:
            assert problem is not None
            raise problem
        return store.load(server)

    from_browser: Callable[[ServerAddress], list[FoundToken]] | None = None
    if browser:
        chosen = browser

        def from_browser(server: ServerAddress) -> list[FoundToken]:
            return ranked_tokens(server, chosen, current_environment())

    return TokenSources(stored=stored, from_browser=from_browser, save=store.save if store else None)


def _sync(args: argparse.Namespace) -> int:
    config_path = default_config_path()
    try:
        if args.list:
            return _list(load_config(config_path), config_path)
        if args.remove:
            return _remove(args.remove, config_path)
        config = load_config(config_path)
    except ConfigError as error:
        _complain(str(error))
        return EXIT_FAILURE
    if not config.archives:
        _complain(f"No archives to update yet ({config_path}). Add one with `mmtakeout login URL --out DIR`.")
        return EXIT_USAGE
    notified: set[str] = set()

    with _sync_log(default_log_path()) as log:

        def report(outcome: ArchiveOutcome) -> None:
            archive = outcome.archive
            line = f"{archive.folder} ({archive.server_url}): {outcome.outcome}: {outcome.message}"
            log.log(logging.INFO if outcome.outcome == "ok" else logging.WARNING, "%s", line)
            if outcome.outcome != "ok":
                _complain(line)
            elif not args.quiet:
                _say(line)
            if outcome.outcome in ("login-expired", "no-login") and archive.server_url not in notified:
                notified.add(archive.server_url)
                send_notification("Mattermost backup needs you", outcome.message, platform=sys.platform)
            _record(config_path, outcome, log)

        log.info("sync of %d archive(s) started", len(config.archives))
        outcomes = asyncio.run(
            sync_known_archives(config.archives, _token_sources(args.browser), export_archive, report)
        )
        summary = worst(outcomes)
        log.info("sync finished: %s", summary)
    return EXIT_CODES[summary]


def _record(config_path: Path, outcome: ArchiveOutcome, log: logging.Logger) -> None:
    def change(config: Config) -> Config:
        current = config.find(outcome.archive.folder)
        if current is None:
            return config
        return config.with_archive(replace(current, last_run=outcome.as_last_run()))

    try:
        update_config(config_path, change)
    except ConfigError as error:
        log.warning("%s", error)


# ---------------------------------------------------------------- parser


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    login = subparsers.add_parser(
        "login",
        help="check a login with the server and keep it in the OS keyring (optionally: back up an archive)",
        description="Check the login with the server, then keep the token in the operating system's keyring "
        "so `mmtakeout export` and `mmtakeout sync` work without a browser. Without --token-stdin or "
        f"--browser, the {TOKEN_ENV_VAR} variable, a login saved earlier, then every browser are tried.",
    )
    login.add_argument("url", metavar="URL", help="the server's address, as opened in the browser")
    source = login.add_mutually_exclusive_group()
    source.add_argument(
        "--browser",
        metavar="NAME",
        choices=BROWSER_CHOICES,
        help=f"take the login from this browser: {', '.join(BROWSER_CHOICES)}",
    )
    source.add_argument(
        "--token-stdin",
        action="store_true",
        help="read a session token or a personal access token from the first line of standard input",
    )
    login.add_argument(
        "--out", type=Path, metavar="DIR", help="also keep the archive in DIR up to date with sync"
    )
    login.add_argument(
        "--direct-only", action="store_true", help="with --out: only direct and group messages"
    )
    login.add_argument("--no-files", action="store_true", help="with --out: do not download attachments")
    login.add_argument(
        "--max-file-size",
        type=parse_size,
        metavar="SIZE",
        help="with --out: skip attachments larger than SIZE (e.g. 20M)",
    )
    login.set_defaults(handler=_login)

    logout = subparsers.add_parser("logout", help="remove the saved login for a server from the keyring")
    logout.add_argument("url", metavar="URL")
    logout.add_argument(
        "--forget-archives",
        action="store_true",
        help="also stop updating this server's archives with sync (their folders are kept)",
    )
    logout.set_defaults(handler=_logout)

    sync = subparsers.add_parser(
        "sync",
        help="update every known archive (for cron, systemd timers, launchd, Task Scheduler)",
        description="Update every archive registered with `mmtakeout login URL --out DIR`, one by one, "
        "with the logins kept in the keyring. Exit code: 0 all up to date, 4 some items missing, "
        "1 an archive failed, 3 a login expired or is missing.",
    )
    action = sync.add_mutually_exclusive_group()
    action.add_argument(
        "--list", action="store_true", help="show the archives sync updates and their last run"
    )
    action.add_argument(
        "--remove", metavar="DIR", help="stop updating the archive in DIR (the folder is kept)"
    )
    sync.add_argument("--quiet", action="store_true", help="print only problems (for cron mail)")
    sync.add_argument(
        "--browser",
        metavar="NAME",
        choices=BROWSER_CHOICES,
        help="when a saved login is missing or expired, take a fresh one from this browser and save it",
    )
    sync.set_defaults(handler=_sync)
