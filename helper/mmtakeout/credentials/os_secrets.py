"""Where a Chromium-format app keeps the password that protects its cookies, on each operating system.

Used for apps browser-cookie3 does not know (the Mattermost desktop app). Each function returns None
when the secret simply is not there, and raises `SecretUnavailable` with an actionable sentence when
the secret store exists but cannot be used (no desktop session, locked keyring, refused prompt).
Nothing here prints or logs a secret; the macOS tool receives only the item's name in its arguments.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

SECRET_SERVICE_SCHEMAS = ("chrome_libsecret_os_crypt_password_v2", "chrome_libsecret_os_crypt_password_v1")
DPAPI_PREFIX = b"DPAPI"
MACOS_SECURITY_TOOL = "/usr/bin/security"
SECRET_TOOL_TIMEOUT_SECONDS = 60


class SecretUnavailable(Exception):
    """The store that holds the app's cookie password could not be used; the message says why."""


def secret_service_password(application: str) -> bytes | None:
    """The "<application> Safe Storage" password from the Secret Service (GNOME Keyring, KeePassXC, …)."""
    import secretstorage

    try:
        connection = secretstorage.dbus_init()
    except (secretstorage.exceptions.SecretServiceNotAvailableException, KeyError, OSError):
        raise SecretUnavailable(
            "the desktop keyring cannot be reached: there is no desktop session (D-Bus). "
            "Run this from your desktop session, or use the browser extension"
        ) from None
    try:
        for schema in SECRET_SERVICE_SCHEMAS:
            items = secretstorage.search_items(connection, {"xdg:schema": schema, "application": application})
            for item in items:
                if item.is_locked():
                    item.unlock()
                if item.is_locked():
                    raise SecretUnavailable("your keyring is locked: unlock it and try again")
                return bytes(item.get_secret())
        return None
    except secretstorage.exceptions.SecretServiceNotAvailableException:
        raise SecretUnavailable(
            "no keyring service (GNOME Keyring, KWallet, KeePassXC) runs in this desktop session, so the "
            "key to the cookies cannot be read: unlock or start your keyring, or use the browser extension"
        ) from None
    except secretstorage.exceptions.SecretStorageException as error:
        raise SecretUnavailable(f"the desktop keyring refused the request ({type(error).__name__})") from None
    finally:
        connection.close()


def macos_keychain_password(service: str) -> bytes | None:
    """The app's password from the login Keychain; macOS asks the user to allow access the first time."""
    try:
        completed = subprocess.run(
            [MACOS_SECURITY_TOOL, "find-generic-password", "-w", "-s", service],
            capture_output=True,
            timeout=SECRET_TOOL_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        raise SecretUnavailable(f"the Keychain did not answer when asked for {service!r}") from None
    if completed.returncode == 44:  # errSecItemNotFound
        return None
    if completed.returncode != 0:
        raise SecretUnavailable(
            f"the Keychain did not give access to {service!r}: allow it when macOS asks, and try again"
        )
    return completed.stdout.rstrip(b"\n")


def windows_local_state_key(local_state: Path) -> bytes | None:
    """The AES key in the app's `Local State` file, unprotected with the user's DPAPI key."""
    try:
        state = json.loads(local_state.read_text(encoding="utf-8"))
        encoded = state["os_crypt"]["encrypted_key"]
        protected = base64.b64decode(encoded, validate=True)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        raise SecretUnavailable(f"{local_state} does not hold a readable cookie key") from None
    if not protected.startswith(DPAPI_PREFIX):
        raise SecretUnavailable(f"{local_state} protects its cookie key in a way this tool cannot read")
    return dpapi_unprotect(protected[len(DPAPI_PREFIX) :])


if sys.platform == "win32":
    import ctypes
    from ctypes import wintypes

    class _DataBlob(ctypes.Structure):
        _fields_ = [("cbData", wintypes.DWORD), ("pbData", ctypes.POINTER(ctypes.c_char))]

    def dpapi_unprotect(data: bytes) -> bytes:
        """Windows' CryptUnprotectData for the current user, without any prompt."""
        source_buffer = ctypes.create_string_buffer(data, len(data))
        source = _DataBlob(len(data), ctypes.cast(source_buffer, ctypes.POINTER(ctypes.c_char)))
        result = _DataBlob()
        no_ui = 0x1
        if not ctypes.windll.crypt32.CryptUnprotectData(
            ctypes.byref(source), None, None, None, None, no_ui, ctypes.byref(result)
        ):
            raise SecretUnavailable("Windows could not unprotect the cookie key for this user (DPAPI)")
        try:
            return ctypes.string_at(result.pbData, result.cbData)
        finally:
            ctypes.windll.kernel32.LocalFree(result.pbData)

else:

    def dpapi_unprotect(data: bytes) -> bytes:
        """DPAPI exists only on Windows."""
        raise SecretUnavailable(
            "the cookie key is protected with Windows' DPAPI, which exists only on Windows"
        )
