"""Where the session token comes from: standard input or the environment.

The token is a secret: it is returned to the caller and never logged, printed or written to disk here.
Commands that need a token call `add_token_arguments` on their parser and `token_from_args` after parsing,
so every command learns new token sources at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import TextIO

TOKEN_ENV_VAR = "MMTAKEOUT_TOKEN"  # noqa: S105 - the variable's name, not a secret


class CredentialError(Exception):
    """No usable token was found; the message says, in plain words, what to do next."""


def add_token_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--token-stdin",
        action="store_true",
        help=f"read the session token (the MMAUTHTOKEN cookie) from the first line of standard input; "
        f"otherwise it is taken from the {TOKEN_ENV_VAR} environment variable",
    )


def token_from_args(server_url: str, args: argparse.Namespace) -> str:
    return resolve_token(server_url, token_stdin=args.token_stdin, stdin=sys.stdin, environ=os.environ)


def _clean(token: str) -> str:
    token = token.strip()
    if not token or any(ch.isspace() or not ch.isprintable() for ch in token):
        raise CredentialError("The token is empty or contains spaces or control characters.")
    return token


def resolve_token(
    server_url: str,
    *,
    token_stdin: bool,
    stdin: TextIO,
    environ: Mapping[str, str],
) -> str:
    """Return the token for `server_url` from the first source that has one."""
    if token_stdin:
        line = stdin.readline()
        if not line.strip():
            raise CredentialError(
                "--token-stdin was given, but standard input had no token on its first line."
            )
        return _clean(line)
    if environ.get(TOKEN_ENV_VAR, "").strip():
        return _clean(environ[TOKEN_ENV_VAR])
    raise CredentialError(
        f"No token for {server_url}. Pass it on standard input with --token-stdin, or set {TOKEN_ENV_VAR}. "
        "In the browser, the token is the value of the MMAUTHTOKEN cookie of the server's site."
    )
