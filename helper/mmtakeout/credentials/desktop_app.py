"""The session cookie from the Mattermost desktop app, which is a Chromium (Electron) browser of its own.

The app keeps its cookies in a Chromium-format database in its data folder (`Network/Cookies` in
newer Electron versions, `Cookies` in older ones) and lists its servers in `config.json`. Whether the
values are encrypted depends on how the app was built; when they are, the key is the app's own
"Mattermost Safe Storage" secret, kept where Chromium keeps its own (see `chromium_crypto`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from mmtakeout.credentials import chromium_crypto, os_secrets
from mmtakeout.credentials.cookie_db import CookieStoreError, StoredCookie, read_chromium_cookies
from mmtakeout.credentials.errors import CredentialError
from mmtakeout.credentials.found import LookupReport
from mmtakeout.credentials.server import ServerAddress

APP_NAME = "Mattermost"
APP_LABEL = "the Mattermost desktop app"
SAFE_STORAGE_SERVICE = f"{APP_NAME} Safe Storage"
COOKIE_DATABASES = ("Network/Cookies", "Cookies")
MAX_CONFIG_BYTES = 4 * 1024 * 1024

SecretLookup = Callable[[], bytes | None]
"""Returns the app's "Safe Storage" password (None when it has none), or raises SecretUnavailable."""


def app_data_dir(home: Path, environ: Mapping[str, str], platform: str) -> Path:
    if platform == "darwin":
        return home / "Library" / "Application Support" / APP_NAME
    if platform == "win32":
        return Path(environ.get("APPDATA") or home / "AppData" / "Roaming") / APP_NAME
    return Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / APP_NAME


def configured_servers(app_dir: Path) -> list[str]:
    """Server URLs listed in the app's config.json (every config version: `servers`, `teams`, or `url`)."""
    try:
        with (app_dir / "config.json").open("rb") as config_file:
            config = json.loads(config_file.read(MAX_CONFIG_BYTES))
    except (OSError, ValueError):
        return []
    if not isinstance(config, dict):
        return []
    entries = config.get("servers", config.get("teams"))
    urls: list[object] = [config.get("url")] if entries is None else []
    if isinstance(entries, list):
        urls = [entry.get("url") for entry in entries if isinstance(entry, dict)]
    return [url for url in urls if isinstance(url, str) and url.strip()]


def cookie_databases(app_dir: Path) -> list[Path]:
    """The app's cookie databases: the default session and any separate session partitions."""
    session_dirs = [app_dir, *sorted(path for path in (app_dir / "Partitions").glob("*") if path.is_dir())]
    return [
        session_dir / relative
        for session_dir in session_dirs
        for relative in COOKIE_DATABASES
        if (session_dir / relative).is_file()
    ]


def default_secret_lookup(app_dir: Path, platform: str) -> SecretLookup:
    if platform == "darwin":
        return lambda: os_secrets.macos_keychain_password(SAFE_STORAGE_SERVICE)
    if platform == "win32":
        return lambda: os_secrets.windows_local_state_key(app_dir / "Local State")
    return lambda: os_secrets.secret_service_password(APP_NAME)


class _Decryptor:
    """Decrypts the app's values, asking the OS for the secret only once and only when needed."""

    def __init__(self, platform: str, secret_lookup: SecretLookup) -> None:
        self._platform = platform
        self._secret_lookup = secret_lookup
        self._secret: bytes | None = None
        self._looked_up = False

    def _app_secret(self) -> bytes | None:
        if not self._looked_up:
            self._looked_up = True
            self._secret = self._secret_lookup()
        return self._secret

    def decrypt(self, cookie: StoredCookie) -> str:
        """The value, or raise SecretUnavailable / ValueError with the reason it cannot be read."""
        if not cookie.encrypted_value:
            if not cookie.value:
                raise ValueError("the cookie is empty")
            return cookie.value
        prefix = cookie.encrypted_value[:3]
        if prefix == chromium_crypto.APP_BOUND_PREFIX:
            raise ValueError("the cookie uses app-bound encryption, which only the app itself can undo")
        token: str | None = None
        if self._platform == "win32" and prefix == b"v10":
            key = self._app_secret()
            if key is not None:
                token = chromium_crypto.decrypt_gcm(
                    cookie.encrypted_value, key, cookie.host, cookie.has_domain_hash
                )
        elif prefix in chromium_crypto.CBC_PREFIXES:
            token = chromium_crypto.decrypt_cbc(
                cookie.encrypted_value, self._cbc_keys(prefix), cookie.host, cookie.has_domain_hash
            )
        else:
            raise ValueError(f"the cookie is encrypted in a way this tool does not know ({prefix!r})")
        if token is None:
            raise ValueError(f"the cookie could not be decrypted with the {SAFE_STORAGE_SERVICE!r} secret")
        return token

    def _cbc_keys(self, prefix: bytes) -> list[bytes]:
        if self._platform == "darwin":
            secret = self._app_secret()
            return (
                [] if secret is None else [chromium_crypto.cbc_key(secret, chromium_crypto.MACOS_ITERATIONS)]
            )
        fixed_key, empty_key = chromium_crypto.basic_linux_keys()
        if prefix == b"v10":
            return [fixed_key]
        secret = self._app_secret()
        secret_keys = (
            [] if secret is None else [chromium_crypto.cbc_key(secret, chromium_crypto.LINUX_ITERATIONS)]
        )
        return [*secret_keys, empty_key]


def find_desktop_app_tokens(
    server: ServerAddress,
    *,
    home: Path,
    environ: Mapping[str, str],
    platform: str,
    now: datetime,
    secret_lookup: SecretLookup | None = None,
) -> LookupReport:
    app_dir = app_data_dir(home, environ, platform)
    report = LookupReport()
    databases = cookie_databases(app_dir)
    if not databases:
        report.not_installed.append(APP_LABEL)
        return report
    servers = configured_servers(app_dir)
    known = {_canonical_or_none(url) for url in servers}
    if servers and server.url not in known:
        report.notes.append(
            f"{APP_LABEL} is not set up for {server.url} (it knows {', '.join(sorted(servers))})"
        )
    decryptor = _Decryptor(platform, secret_lookup or default_secret_lookup(app_dir, platform))
    for database in databases:
        source = f"{APP_LABEL} ({database.relative_to(app_dir)})"
        try:
            cookies = read_chromium_cookies(database, server)
        except CookieStoreError as error:
            report.notes.append(f"{source}: {error}")
            continue
        report.add_cookies(source, cookies, now, decryptor.decrypt)
    return report


def _canonical_or_none(url: str) -> str | None:
    try:
        return ServerAddress.parse(url).url
    except CredentialError:
        return None
