"""Where the session token comes from: standard input or the environment (browser stores and the keyring come later).

The token is a secret: it is returned to the caller and never logged, printed or written to disk here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TextIO

TOKEN_ENV_VAR = "MMTAKEOUT_TOKEN"


class CredentialError(Exception):
    """No usable token was found; the message says, in plain words, what to do next."""


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
            raise CredentialError("--token-stdin was given, but standard input had no token on its first line.")
        return _clean(line)
    if environ.get(TOKEN_ENV_VAR, "").strip():
        return _clean(environ[TOKEN_ENV_VAR])
    raise CredentialError(
        f"No token for {server_url}. Pass it on standard input with --token-stdin, or set {TOKEN_ENV_VAR}. "
        "In the browser, the token is the value of the MMAUTHTOKEN cookie of the server's site."
    )
