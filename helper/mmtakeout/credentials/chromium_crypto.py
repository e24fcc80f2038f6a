"""How Chromium-format cookie stores encrypt values, for apps whose key browser-cookie3 does not know.

Chromium's `OSCrypt` prefixes every encrypted value with a version tag:
* `v10` on Linux: AES-128-CBC, key = PBKDF2-SHA1(b"peanuts", b"saltysalt", 1 round) — the fixed key
  used when no desktop keyring is available (`--password-store=basic`).
* `v11` on Linux: the same with the password kept in the desktop keyring ("<App> Safe Storage").
* `v10` on macOS: the same with the Keychain password and 1003 rounds.
* `v10` on Windows: AES-256-GCM with a random key that `Local State` holds, protected by DPAPI.
* `v20` on Windows: Chrome's app-bound encryption; only Chrome itself can get the key.
From cookie database version 24 on, the plaintext starts with SHA-256 of the cookie's host.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from Cryptodome.Cipher import AES
from Cryptodome.Util.Padding import unpad

SALT = b"saltysalt"
BASIC_PASSWORD = b"peanuts"
LINUX_ITERATIONS = 1
MACOS_ITERATIONS = 1003
CBC_IV = b" " * 16
CBC_KEY_BYTES = 16
GCM_NONCE_BYTES = 12
GCM_TAG_BYTES = 16
DOMAIN_HASH_BYTES = 32
APP_BOUND_PREFIX = b"v20"
CBC_PREFIXES = (b"v10", b"v11")


def cbc_key(password: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha1", password, SALT, iterations, dklen=CBC_KEY_BYTES)


def basic_linux_keys() -> tuple[bytes, bytes]:
    """The keys a Linux Chromium uses without a keyring: the fixed one, and the empty one of older builds."""
    return cbc_key(BASIC_PASSWORD, LINUX_ITERATIONS), cbc_key(b"", LINUX_ITERATIONS)


def _plain_token(plaintext: bytes, host: str, has_domain_hash: bool) -> str | None:
    """The cookie value if `plaintext` looks like a correctly decrypted one, else None (wrong key)."""
    if has_domain_hash:
        if plaintext[:DOMAIN_HASH_BYTES] != hashlib.sha256(host.encode()).digest():
            return None
        plaintext = plaintext[DOMAIN_HASH_BYTES:]
    try:
        text = plaintext.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if text and text.isprintable() else None


def decrypt_cbc(
    encrypted_value: bytes, keys: Iterable[bytes], host: str, has_domain_hash: bool
) -> str | None:
    """Decrypt a `v10`/`v11` value with the first key that yields a valid token; None when none does."""
    body = encrypted_value[3:]
    if not body or len(body) % AES.block_size:
        return None
    for key in keys:
        try:
            plaintext = unpad(AES.new(key, AES.MODE_CBC, iv=CBC_IV).decrypt(body), AES.block_size)
        except ValueError:
            continue
        token = _plain_token(plaintext, host, has_domain_hash)
        if token is not None:
            return token
    return None


def decrypt_gcm(encrypted_value: bytes, key: bytes, host: str, has_domain_hash: bool) -> str | None:
    """Decrypt a Windows `v10` value (AES-256-GCM); None when the key does not fit."""
    body = encrypted_value[3:]
    if len(body) < GCM_NONCE_BYTES + GCM_TAG_BYTES:
        return None
    nonce, ciphertext, tag = (
        body[:GCM_NONCE_BYTES],
        body[GCM_NONCE_BYTES:-GCM_TAG_BYTES],
        body[-GCM_TAG_BYTES:],
    )
    try:
        plaintext = AES.new(key, AES.MODE_GCM, nonce=nonce).decrypt_and_verify(ciphertext, tag)
    except ValueError:
        return None
    return _plain_token(plaintext, host, has_domain_hash)
