"""Where the session token comes from: standard input, a browser's cookie store, the environment, the keyring.

The token is a secret: it is returned to the caller and never logged, printed or written to disk here.
Commands that need a token call `add_token_arguments` on their parser and `token_from_args` after parsing,
so every command learns new token sources at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from mmtakeout.credentials.browsers import AUTO, BROWSER_CHOICES, DESKTOP_APP, Environment, ranked_tokens
from mmtakeout.credentials.errors import CredentialError
from mmtakeout.credentials.found import FoundToken
from mmtakeout.credentials.keyring_store import KeyringUnavailable, TokenStore
from mmtakeout.credentials.server import ServerAddress
from mmtakeout.credentials.token_format import clean_token

__all__ = [
    "AUTO",
    "BROWSER_CHOICES",
    "DESKTOP_APP",
    "TOKEN_ENV_VAR",
    "CredentialError",
    "FoundToken",
    "ServerAddress",
    "add_token_arguments",
    "current_environment",
    "find_token",
    "resolve_token",
    "token_from_args",
]

TOKEN_ENV_VAR = "MMTAKEOUT_TOKEN"  # noqa: S105 - the variable's name, not a secret
KEYRING_SOURCE = "the keyring (saved by `mmtakeout login`)"


def add_token_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "login",
        "Where the session token (the MMAUTHTOKEN cookie) comes from. Without --token-stdin or --browser "
        f"it is taken from the {TOKEN_ENV_VAR} environment variable, else from the keyring "
        "(see `mmtakeout login`).",
    )
    group.add_argument(
        "--token-stdin",
        action="store_true",
        help="read the session token or a personal access token from the first line of standard input",
    )
    group.add_argument(
        "--browser",
        metavar="NAME",
        choices=BROWSER_CHOICES,
        help=f"read the login cookie from this browser's profiles: {', '.join(BROWSER_CHOICES)} "
        "(auto looks in all of them and takes the newest login)",
    )


def current_environment() -> Environment:
    return Environment(home=Path.home(), environ=os.environ, platform=sys.platform, now=datetime.now(UTC))


def token_from_args(server_url: str, args: argparse.Namespace) -> str:
    return find_token(
        server_url,
        token_stdin=bool(getattr(args, "token_stdin", False)),
        browser=getattr(args, "browser", None),
        stdin=sys.stdin,
        environ=os.environ,
        use_keyring=True,
    ).token


def find_token(
    server_url: str,
    *,
    token_stdin: bool,
    browser: str | None,
    stdin: TextIO,
    environ: Mapping[str, str],
    use_keyring: bool,
    environment: Environment | None = None,
) -> FoundToken:
    """The token for `server_url` from the first source that has one, and where it came from."""
    server = ServerAddress.parse(server_url)
    if token_stdin:
        line = stdin.readline()
        if not line.strip():
            raise CredentialError(
                "--token-stdin was given, but standard input had no token on its first line."
            )
        return FoundToken(token=clean_token(line), source="standard input")
    if browser:
        return ranked_tokens(server, browser, environment or current_environment())[0]
    if environ.get(TOKEN_ENV_VAR, "").strip():
        return FoundToken(
            token=clean_token(environ[TOKEN_ENV_VAR]), source=f"the {TOKEN_ENV_VAR} environment variable"
        )
    keyring_problem = ""
    if use_keyring:
        try:
            stored = TokenStore.open().load(server)
        except KeyringUnavailable as error:
            keyring_problem = f"\nThe keyring could not be used. {error}"
        else:
            if stored:
                return FoundToken(token=stored, source=KEYRING_SOURCE)
    raise CredentialError(
        f"No token for {server.url}. Run `mmtakeout login {server.url} --browser auto` once (it keeps the "
        "token in your keyring), or pass it with --browser NAME, --token-stdin, or the "
        f"{TOKEN_ENV_VAR} environment variable. In the browser, the token is the value of the MMAUTHTOKEN "
        f"cookie of the server's site.{keyring_problem}"
    )


def resolve_token(
    server_url: str,
    *,
    token_stdin: bool,
    stdin: TextIO,
    environ: Mapping[str, str],
    browser: str | None = None,
    use_keyring: bool = False,
) -> str:
    """The token for `server_url` from the first source that has one (the keyring only when asked)."""
    return find_token(
        server_url,
        token_stdin=token_stdin,
        browser=browser,
        stdin=stdin,
        environ=environ,
        use_keyring=use_keyring,
    ).token
