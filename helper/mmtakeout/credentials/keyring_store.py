"""Tokens kept in the operating system's secret store, never in a file of ours.

The backend is taken once from `keyring.get_keyring()` (which honours `keyring.set_keyring`,
`PYTHON_KEYRING_BACKEND` and `keyringrc.cfg`) and checked before any use. Backends that keep secrets
in a file (keyrings.alt's plaintext and "encrypted" files, keyrings.cryptfile), that ask for a master
password on the terminal (which, without a terminal, reads standard input — the native-messaging pipe),
the `fail` and `null` placeholders, and a chain that contains any of them are refused with a sentence
saying what to do. There is no fallback: no secure store means no stored token.
"""

from __future__ import annotations

import keyring
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.errors import KeyringLocked, PasswordDeleteError

from mmtakeout.credentials.errors import CredentialError
from mmtakeout.credentials.server import ServerAddress
from mmtakeout.credentials.token_format import clean_token

SERVICE_NAME = "mmtakeout"
FILE_BACKEND_MODULES = ("keyrings.alt", "keyrings.cryptfile")

NO_SECURE_KEYRING = (
    "No secure keyring is available: {reason}. Tokens are kept only in a keyring, never in a file. "
    "On Linux, start a Secret Service (GNOME Keyring, KWallet or KeePassXC) in your desktop session; "
    "macOS Keychain and Windows Credential Manager work without setup. "
    "Until then, pass the token each time with --browser or --token-stdin."
)


class KeyringUnavailable(CredentialError):
    """The OS keyring cannot be used right now (none installed, locked, no desktop session)."""


def _describe(backend: KeyringBackend) -> str:
    backend_class = type(backend)
    return f"{backend_class.__module__}.{backend_class.__qualname__}"


def insecure_reason(backend: KeyringBackend) -> str | None:
    """Why this backend must not hold a token, or None when it is an acceptable secret store."""
    if isinstance(backend, chainer.ChainerBackend):
        members = list(backend.backends)
        if not members:
            return "no keyring backend is installed"
        reasons = [reason for reason in map(insecure_reason, members) if reason]
        return reasons[0] if reasons else None
    if isinstance(backend, fail.Keyring):
        return "no keyring service was found; on Linux this usually means no desktop session (D-Bus)"
    if isinstance(backend, null.Keyring):
        return "the keyring is switched off (the 'null' backend is selected)"
    module = type(backend).__module__
    if module.startswith(FILE_BACKEND_MODULES):
        return f"the selected backend {_describe(backend)} keeps secrets in a file or asks for a password"
    return None


def _failure(action: str, error: Exception) -> KeyringUnavailable:
    if isinstance(error, KeyringLocked) or "locked" in type(error).__name__.lower():
        return KeyringUnavailable(
            f"Your keyring is locked: unlock it and try again (while trying to {action})."
        )
    if "DBUS_SESSION_BUS_ADDRESS" in str(error) or "NotAvailable" in type(error).__name__:
        return KeyringUnavailable(
            f"The keyring cannot be reached: there is no desktop session (D-Bus) (while trying to {action}). "
            "Run this from your desktop session, or pass the token with --token-stdin."
        )
    return KeyringUnavailable(f"The keyring failed while trying to {action} ({type(error).__name__}).")


class TokenStore:
    """Stores one token per server, under the service name 'mmtakeout' and the server's canonical URL."""

    def __init__(self, backend: KeyringBackend) -> None:
        reason = insecure_reason(backend)
        if reason:
            raise KeyringUnavailable(NO_SECURE_KEYRING.format(reason=reason))
        self._backend = backend

    @classmethod
    def open(cls) -> TokenStore:
        """The store on the configured keyring backend, checked; raises KeyringUnavailable when unsafe."""
        try:
            backend = keyring.get_keyring()
        except Exception as error:
            raise _failure("open the keyring", error) from None
        return cls(backend)

    @property
    def backend_name(self) -> str:
        return _describe(self._backend)

    def save(self, server: ServerAddress, token: str) -> None:
        token = clean_token(token)
        try:
            self._backend.set_password(SERVICE_NAME, server.url, token)
        except Exception as error:
            raise _failure(f"store the token for {server.url}", error) from None

    def load(self, server: ServerAddress) -> str | None:
        try:
            token = self._backend.get_password(SERVICE_NAME, server.url)
        except Exception as error:
            raise _failure(f"read the token for {server.url}", error) from None
        return clean_token(token) if token else None

    def delete(self, server: ServerAddress) -> bool:
        """Forget the server's token; False when none was stored."""
        try:
            if self._backend.get_password(SERVICE_NAME, server.url) is None:
                return False
            self._backend.delete_password(SERVICE_NAME, server.url)
        except PasswordDeleteError:
            return False
        except Exception as error:
            raise _failure(f"delete the token for {server.url}", error) from None
        return True
