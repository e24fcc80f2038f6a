"""Cookie databases with the exact schemas Firefox ESR 153 and Chromium 156 write, and Chromium's encryption.

The schemas were dumped from profiles the real browsers wrote (see test_credentials_real_browsers.py, which
also checks them against freshly written profiles). The encryption here is written from Chromium's
description, independently of the production code, so a mistake on either side makes tests fail.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from Cryptodome.Cipher import AES
from Cryptodome.Util.Padding import pad

FIREFOX_SCHEMA = (
    "CREATE TABLE moz_cookies (id INTEGER PRIMARY KEY, originAttributes TEXT NOT NULL DEFAULT '', name TEXT, "
    "value TEXT, host TEXT, path TEXT, expiry INTEGER, lastAccessed INTEGER, creationTime INTEGER, "
    "isSecure INTEGER, isHttpOnly INTEGER, inBrowserElement INTEGER DEFAULT 0, sameSite INTEGER DEFAULT 0, "
    "schemeMap INTEGER DEFAULT 0, isPartitionedAttributeSet INTEGER DEFAULT 0, updateTime INTEGER, "
    "CONSTRAINT moz_uniqueid UNIQUE (name, host, path, originAttributes))"
)
CHROMIUM_SCHEMA = (
    "CREATE TABLE meta(key LONGVARCHAR NOT NULL UNIQUE PRIMARY KEY, value LONGVARCHAR)",
    "CREATE TABLE cookies(creation_utc INTEGER NOT NULL,host_key TEXT NOT NULL,"
    "top_frame_site_key TEXT NOT NULL,name TEXT NOT NULL,value TEXT NOT NULL,"
    "encrypted_value BLOB NOT NULL,path TEXT NOT NULL,"
    "expires_utc INTEGER NOT NULL,is_secure INTEGER NOT NULL,is_httponly INTEGER NOT NULL,"
    "last_access_utc INTEGER NOT NULL,has_expires INTEGER NOT NULL,is_persistent INTEGER NOT NULL,"
    "priority INTEGER NOT NULL,samesite INTEGER NOT NULL,source_scheme INTEGER NOT NULL,"
    "source_port INTEGER NOT NULL,last_update_utc INTEGER NOT NULL,source_type INTEGER NOT NULL,"
    "has_cross_site_ancestor INTEGER NOT NULL)",
    "CREATE UNIQUE INDEX cookies_unique_index ON cookies(host_key, top_frame_site_key, "
    "has_cross_site_ancestor, name, path, source_scheme, source_port)",
)
CHROMIUM_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
NOW = datetime.now(UTC)


def chromium_time(moment: datetime) -> int:
    return (moment - CHROMIUM_EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True)
class Row:
    host: str
    value: str
    path: str = "/"
    name: str = "MMAUTHTOKEN"
    created: datetime = NOW - timedelta(hours=1)
    expires: datetime = NOW + timedelta(days=30)


def write_firefox_db(path: Path, rows: list[Row], *, expiry_in_ms: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.execute(FIREFOX_SCHEMA)
        for row in rows:
            expiry = int(row.expires.timestamp() * (1000 if expiry_in_ms else 1))
            created = int(row.created.timestamp() * 1_000_000)
            db.execute(
                "INSERT INTO moz_cookies (name, value, host, path, expiry, lastAccessed, creationTime, "
                "isSecure, isHttpOnly, updateTime) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 1, ?)",
                (row.name, row.value, row.host, row.path, expiry, created, created, created),
            )
    db.close()
    return path


def cbc_key(password: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha1", password, b"saltysalt", iterations, 16)


def encrypt_cbc(value: str, host: str, key: bytes, prefix: bytes = b"v10", domain_hash: bool = True) -> bytes:
    plaintext = (hashlib.sha256(host.encode()).digest() if domain_hash else b"") + value.encode()
    return prefix + AES.new(key, AES.MODE_CBC, iv=b" " * 16).encrypt(pad(plaintext, 16))


def encrypt_gcm(value: str, host: str, key: bytes, prefix: bytes = b"v10") -> bytes:
    nonce = os.urandom(12)
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce)
    ciphertext, tag = cipher.encrypt_and_digest(hashlib.sha256(host.encode()).digest() + value.encode())
    return prefix + nonce + ciphertext + tag


def write_chromium_db(
    path: Path, rows: list[tuple[Row, bytes]], *, version: int = 24, plain_values: bool = False
) -> Path:
    """Rows with their encrypted value; with `plain_values` the value goes to `value` (encryption off)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        for statement in CHROMIUM_SCHEMA:
            db.execute(statement)
        db.executemany(
            "INSERT INTO meta VALUES (?, ?)",
            [("mmap_status", "-1"), ("version", str(version)), ("last_compatible_version", str(version))],
        )
        for row, encrypted in rows:
            db.execute(
                "INSERT INTO cookies VALUES (?, ?, '', ?, ?, ?, ?, ?, 0, 1, ?, 1, 1, 1, 0, 1, 80, ?, 0, 0)",
                (
                    chromium_time(row.created),
                    row.host,
                    row.name,
                    row.value if plain_values else "",
                    b"" if plain_values else encrypted,
                    row.path,
                    chromium_time(row.expires),
                    chromium_time(row.created),
                    chromium_time(row.created),
                ),
            )
    db.close()
    return path
