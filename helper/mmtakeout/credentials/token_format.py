"""What a session or personal access token may look like, checked before it is used or stored."""

from __future__ import annotations

import re

from mmtakeout.credentials.errors import CredentialError

MAX_TOKEN_LENGTH = 1024
# Visible ASCII, as the API client requires, minus what can never be part of a cookie value.
_TOKEN_SHAPE = re.compile(r"[\x21-\x7e]+")
_NEVER_IN_TOKEN = frozenset(";,\"'\\")


def clean_token(text: str) -> str:
    """The token without surrounding whitespace; refuses text that cannot be a token (e.g. a pasted line)."""
    token = text.strip()
    if not _TOKEN_SHAPE.fullmatch(token) or _NEVER_IN_TOKEN.intersection(token):
        raise CredentialError(
            "The token is empty or contains spaces, quotes or other characters a token cannot have."
        )
    if len(token) > MAX_TOKEN_LENGTH:
        raise CredentialError(f"The token is longer than {MAX_TOKEN_LENGTH} characters: it is not a token.")
    return token
