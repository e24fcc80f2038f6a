"""Mattermost-style 26-character ids, drawn from a seeded generator so sandbox worlds are reproducible."""

from __future__ import annotations

import random

_MATTERMOST_ALPHABET = "ybndrfg8ejkmcpqxot1uwisza345h769"
# Two base32 characters per 10-bit chunk: 13 lookups make an id (fast enough for million-post worlds).
_PAIRS = tuple(first + second for first in _MATTERMOST_ALPHABET for second in _MATTERMOST_ALPHABET)

ID_LENGTH = 26


def new_id(rng: random.Random) -> str:
    """128 random bits in Mattermost's base32 alphabet, like the server's `model.NewId`.

    Like base32 of 16 bytes, the 128 bits are padded with two zero bits to 26 five-bit characters.
    """
    value = rng.getrandbits(128) << 2
    return "".join([_PAIRS[(value >> shift) & 0x3FF] for shift in range(120, -1, -10)])


def is_valid_id(value: str) -> bool:
    """The server's `model.IsValidId`: exactly 26 letters or digits."""
    return len(value) == ID_LENGTH and value.isalnum()
