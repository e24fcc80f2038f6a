"""The rows of a browser cookie database that could hold the server's session token, nothing else.

Firefox keeps cookie values in plain text; Chromium-format stores (Chrome, Edge, Brave, Vivaldi,
Opera, Electron apps such as the Mattermost desktop app) keep them encrypted in `encrypted_value`,
or in `value` when encryption is off. Decryption is left to the caller, who knows where the key is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mmtakeout.credentials.server import ServerAddress
from mmtakeout.credentials.sqlite_snapshot import SnapshotError, open_snapshot

SESSION_COOKIE_NAME = "MMAUTHTOKEN"
CHROMIUM_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Firefox stored `expiry` in seconds until version 134 and in milliseconds since; no cookie expires
# after the year 5000, so a larger number can only be milliseconds.
_FIREFOX_EXPIRY_SECONDS_LIMIT = 100_000_000_000
# Chromium prefixes the plaintext with SHA-256(host) from cookie database version 24 on.
CHROMIUM_DOMAIN_HASH_VERSION = 24


class CookieStoreError(Exception):
    """The cookie database could not be read; the message names the file and the reason."""


@dataclass(frozen=True)
class StoredCookie:
    """One MMAUTHTOKEN row: where it applies, when it was set and when it expires."""

    host: str
    path: str
    created: datetime | None
    expires: datetime | None
    """None for a session cookie (it lives until the browser closes)."""
    value: str = field(repr=False)
    encrypted_value: bytes = field(repr=False, default=b"")
    has_domain_hash: bool = False

    def is_expired(self, now: datetime) -> bool:
        return self.expires is not None and self.expires <= now


def _from_chromium_time(microseconds: object) -> datetime | None:
    if not isinstance(microseconds, int) or microseconds <= 0:
        return None
    try:
        return CHROMIUM_EPOCH + timedelta(microseconds=microseconds)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


def _from_unix_time(amount: object, per_second: int) -> datetime | None:
    if not isinstance(amount, int) or amount <= 0:
        return None
    try:
        return UNIX_EPOCH + timedelta(seconds=amount / per_second)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


def _firefox_expiry(expiry: object) -> datetime | None:
    if isinstance(expiry, int) and expiry > _FIREFOX_EXPIRY_SECONDS_LIMIT:
        return _from_unix_time(expiry, 1000)
    return _from_unix_time(expiry, 1)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value if isinstance(value, str) else ""


@contextmanager
def _snapshot(path: Path, kind: str) -> Iterator[sqlite3.Connection]:
    try:
        connection = open_snapshot(path)
    except SnapshotError as error:
        raise CookieStoreError(str(error)) from None
    try:
        connection.text_factory = bytes
        yield connection
    except sqlite3.DatabaseError:
        raise CookieStoreError(f"{path} is not a {kind} cookie database.") from None
    finally:
        connection.close()


def read_firefox_cookies(path: Path, server: ServerAddress) -> list[StoredCookie]:
    with _snapshot(path, "Firefox") as connection:
        rows = connection.execute(
            "SELECT host, path, value, expiry, creationTime FROM moz_cookies WHERE name = ?",
            (SESSION_COOKIE_NAME,),
        ).fetchall()
    cookies = []
    for host, cookie_path, value, expiry, created in rows:
        host_text, path_text = _text(host), _text(cookie_path)
        if server.cookie_host_matches(host_text) and server.cookie_path_matches(path_text):
            cookies.append(
                StoredCookie(
                    host=host_text,
                    path=path_text,
                    created=_from_unix_time(created, 1_000_000),
                    expires=_firefox_expiry(expiry),
                    value=_text(value),
                )
            )
    return cookies


def _chromium_version(connection: sqlite3.Connection) -> int:
    try:
        row = connection.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        return int(_text(row[0])) if row else 0
    except (sqlite3.DatabaseError, ValueError):
        return 0


def read_chromium_cookies(path: Path, server: ServerAddress) -> list[StoredCookie]:
    with _snapshot(path, "Chromium") as connection:
        rows = connection.execute(
            "SELECT host_key, path, value, encrypted_value, expires_utc, creation_utc"
            " FROM cookies WHERE name = ?",
            (SESSION_COOKIE_NAME,),
        ).fetchall()
        has_domain_hash = _chromium_version(connection) >= CHROMIUM_DOMAIN_HASH_VERSION
    cookies = []
    for host, cookie_path, value, encrypted_value, expires, created in rows:
        host_text, path_text = _text(host), _text(cookie_path)
        if server.cookie_host_matches(host_text) and server.cookie_path_matches(path_text):
            cookies.append(
                StoredCookie(
                    host=host_text,
                    path=path_text,
                    created=_from_chromium_time(created),
                    expires=_from_chromium_time(expires),
                    value=_text(value),
                    encrypted_value=encrypted_value if isinstance(encrypted_value, bytes) else b"",
                    has_domain_hash=has_domain_hash,
                )
            )
    return cookies
