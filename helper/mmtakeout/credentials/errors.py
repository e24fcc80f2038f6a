"""The one exception every token source raises, so front ends show a single kind of message."""

from __future__ import annotations


class CredentialError(Exception):
    """No usable token was found; the message says, in plain words, what to do next."""
