"""The session cookie from the browsers' own cookie stores, for people who cannot use the extension.

Every profile of every supported browser is read (not just the default one); only cookies for exactly
the server's host and site path count; the newest valid login wins. Chromium-family values are
decrypted with browser-cookie3, which knows where each browser keeps its key on each OS. Databases are
read in memory (`sqlite_snapshot`), so no copy of a cookie store ever lands in a temporary folder.
Firefox stores values in plain text and is read directly: browser-cookie3 copies the file and so
misses the newest cookies, which a running Firefox keeps in its write-ahead log.
"""

from __future__ import annotations

import configparser
import http.cookiejar
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import browser_cookie3

from mmtakeout.credentials import chromium_crypto, desktop_app
from mmtakeout.credentials.cookie_db import (
    SESSION_COOKIE_NAME,
    CookieStoreError,
    StoredCookie,
    read_chromium_cookies,
    read_firefox_cookies,
)
from mmtakeout.credentials.errors import CredentialError
from mmtakeout.credentials.found import FoundToken, LookupReport
from mmtakeout.credentials.os_secrets import SecretUnavailable
from mmtakeout.credentials.server import ServerAddress

AUTO = "auto"
DESKTOP_APP = "mattermost-desktop"
MAX_INI_BYTES = 1024 * 1024
MAX_LOCAL_STATE_BYTES = 16 * 1024 * 1024

# Where each path is rooted: the XDG config folder, the home folder, macOS's Application Support,
# Windows' local and roaming application data.
CONFIG, HOME, APP_SUPPORT, LOCAL_APPDATA, APPDATA = (
    "config",
    "home",
    "app-support",
    "local-appdata",
    "appdata",
)

CookieJarLoader = Callable[..., http.cookiejar.CookieJar]


@dataclass(frozen=True)
class Browser:
    name: str
    label: str
    linux: tuple[tuple[str, str], ...]
    macos: tuple[tuple[str, str], ...]
    windows: tuple[tuple[str, str], ...]
    load: CookieJarLoader | None = None
    """browser-cookie3's loader for Chromium-family browsers; None for Firefox."""


FIREFOX = Browser(
    name="firefox",
    label="Firefox",
    linux=(
        (CONFIG, "mozilla/firefox"),
        (HOME, ".mozilla/firefox"),
        (HOME, "snap/firefox/common/.mozilla/firefox"),
        (HOME, ".var/app/org.mozilla.firefox/.mozilla/firefox"),
        (HOME, ".var/app/org.mozilla.firefox/config/mozilla/firefox"),
    ),
    macos=((APP_SUPPORT, "Firefox"),),
    windows=((APPDATA, "Mozilla/Firefox"),),
)

CHROMIUM_FAMILY = (
    Browser(
        name="chrome",
        label="Chrome",
        linux=(
            (CONFIG, "google-chrome"),
            (CONFIG, "google-chrome-beta"),
            (CONFIG, "google-chrome-unstable"),
            (HOME, ".var/app/com.google.Chrome/config/google-chrome"),
        ),
        macos=(
            (APP_SUPPORT, "Google/Chrome"),
            (APP_SUPPORT, "Google/Chrome Beta"),
            (APP_SUPPORT, "Google/Chrome Canary"),
        ),
        windows=(
            (LOCAL_APPDATA, "Google/Chrome/User Data"),
            (LOCAL_APPDATA, "Google/Chrome Beta/User Data"),
            (LOCAL_APPDATA, "Google/Chrome SxS/User Data"),
        ),
        load=browser_cookie3.chrome,
    ),
    Browser(
        name="chromium",
        label="Chromium",
        linux=(
            (CONFIG, "chromium"),
            (HOME, "snap/chromium/common/chromium"),
            (HOME, ".var/app/org.chromium.Chromium/config/chromium"),
        ),
        macos=((APP_SUPPORT, "Chromium"),),
        windows=((LOCAL_APPDATA, "Chromium/User Data"),),
        load=browser_cookie3.chromium,
    ),
    Browser(
        name="edge",
        label="Edge",
        linux=(
            (CONFIG, "microsoft-edge"),
            (CONFIG, "microsoft-edge-beta"),
            (CONFIG, "microsoft-edge-dev"),
            (HOME, ".var/app/com.microsoft.Edge/config/microsoft-edge"),
        ),
        macos=((APP_SUPPORT, "Microsoft Edge"), (APP_SUPPORT, "Microsoft Edge Beta")),
        windows=(
            (LOCAL_APPDATA, "Microsoft/Edge/User Data"),
            (LOCAL_APPDATA, "Microsoft/Edge Beta/User Data"),
        ),
        load=browser_cookie3.edge,
    ),
    Browser(
        name="brave",
        label="Brave",
        linux=(
            (CONFIG, "BraveSoftware/Brave-Browser"),
            (CONFIG, "BraveSoftware/Brave-Browser-Beta"),
            (HOME, "snap/brave/current/.config/BraveSoftware/Brave-Browser"),
            (HOME, ".var/app/com.brave.Browser/config/BraveSoftware/Brave-Browser"),
        ),
        macos=((APP_SUPPORT, "BraveSoftware/Brave-Browser"),),
        windows=((LOCAL_APPDATA, "BraveSoftware/Brave-Browser/User Data"),),
        load=browser_cookie3.brave,
    ),
    Browser(
        name="vivaldi",
        label="Vivaldi",
        linux=(
            (CONFIG, "vivaldi"),
            (CONFIG, "vivaldi-snapshot"),
            (HOME, ".var/app/com.vivaldi.Vivaldi/config/vivaldi"),
        ),
        macos=((APP_SUPPORT, "Vivaldi"),),
        windows=((LOCAL_APPDATA, "Vivaldi/User Data"),),
        load=browser_cookie3.vivaldi,
    ),
    Browser(
        name="opera",
        label="Opera",
        linux=((CONFIG, "opera"), (CONFIG, "opera-beta"), (CONFIG, "opera-developer")),
        macos=((APP_SUPPORT, "com.operasoftware.Opera"),),
        windows=((APPDATA, "Opera Software/Opera Stable"),),
        load=browser_cookie3.opera,
    ),
)

BROWSERS = {browser.name: browser for browser in (FIREFOX, *CHROMIUM_FAMILY)}
BROWSER_CHOICES = (AUTO, *BROWSERS, DESKTOP_APP)

WINDOWS_APP_BOUND = (
    "Chrome on Windows encrypts cookies so other programs cannot read them: use the extension, "
    "or pass the token with --token-stdin"
)


@dataclass(frozen=True)
class Profile:
    label: str
    cookie_file: Path
    key_file: Path | None = None
    """Chromium's `Local State`, which holds the cookie key on Windows."""


@dataclass(frozen=True)
class Environment:
    """Where to look: the user's home folder, environment variables and operating system (`sys.platform`)."""

    home: Path
    environ: Mapping[str, str]
    platform: str
    now: datetime

    def roots(self, browser: Browser) -> list[Path]:
        if self.platform == "darwin":
            specs = browser.macos
        elif self.platform == "win32":
            specs = browser.windows
        else:
            specs = browser.linux
        bases = {
            CONFIG: Path(self.environ.get("XDG_CONFIG_HOME") or self.home / ".config"),
            HOME: self.home,
            APP_SUPPORT: self.home / "Library" / "Application Support",
            LOCAL_APPDATA: Path(self.environ.get("LOCALAPPDATA") or self.home / "AppData" / "Local"),
            APPDATA: Path(self.environ.get("APPDATA") or self.home / "AppData" / "Roaming"),
        }
        return [bases[base] / relative for base, relative in specs]


def _read_small_text(path: Path, limit: int) -> str:
    with path.open("rb") as handle:
        return handle.read(limit).decode("utf-8", errors="replace")


def firefox_profiles(root: Path) -> list[Profile]:
    """Profiles listed in `profiles.ini`, plus any profile folder next to it that has cookies."""
    names: dict[Path, str] = {}
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(_read_small_text(root / "profiles.ini", MAX_INI_BYTES))
    except (OSError, configparser.Error):
        parser.clear()
    for section in parser.sections():
        relative_path = parser.get(section, "Path", fallback="")
        if section.startswith("Profile") and relative_path:
            is_relative = parser.get(section, "IsRelative", fallback="1") != "0"
            folder = root / relative_path if is_relative else Path(relative_path)
            names[folder] = parser.get(section, "Name", fallback=folder.name)
    for cookie_file in sorted([*root.glob("*/cookies.sqlite"), *root.glob("Profiles/*/cookies.sqlite")]):
        names.setdefault(cookie_file.parent, cookie_file.parent.name)
    return [
        Profile(label=f"profile {name!r}", cookie_file=folder / "cookies.sqlite")
        for folder, name in names.items()
        if (folder / "cookies.sqlite").is_file()
    ]


def _chromium_profile_names(user_data_dir: Path) -> dict[str, str]:
    try:
        state = json.loads(_read_small_text(user_data_dir / "Local State", MAX_LOCAL_STATE_BYTES))
        cache = state["profile"]["info_cache"]
        return {
            folder: str(info["name"])
            for folder, info in cache.items()
            if isinstance(info, dict) and "name" in info
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def chromium_profiles(user_data_dir: Path) -> list[Profile]:
    """Every profile folder with a cookie database: `Default`, `Profile N`, or the folder itself (Opera)."""
    names = _chromium_profile_names(user_data_dir)
    folders = [user_data_dir, user_data_dir / "Default", *sorted(user_data_dir.glob("Profile *"))]
    key_file = user_data_dir / "Local State"
    profiles = []
    for folder in folders:
        for relative in ("Network/Cookies", "Cookies"):
            if (folder / relative).is_file():
                name = names.get(folder.name, folder.name) if folder != user_data_dir else "default"
                label = f"profile {name!r}" if name == folder.name else f"profile {name!r} ({folder.name})"
                profiles.append(Profile(label=label, cookie_file=folder / relative, key_file=key_file))
                break
    return profiles


def _is_missing_session_bus(error: Exception) -> bool:
    """browser-cookie3 talks to the desktop keyring over D-Bus and fails this way when there is none."""
    return (isinstance(error, KeyError) and "DBUS" in str(error)) or isinstance(error, OSError)


class _ChromiumDecryptor:
    """Asks browser-cookie3 for one profile's values, once, and only when a value is encrypted."""

    def __init__(self, browser: Browser, profile: Profile, server: ServerAddress, platform: str) -> None:
        self._browser = browser
        self._profile = profile
        self._server = server
        self._platform = platform
        self._values: dict[tuple[str, str], str] | None = None
        self._no_session_bus = False

    def _load(self) -> None:
        if self._values is not None or self._no_session_bus:
            return
        assert self._browser.load is not None
        try:
            jar = self._browser.load(
                cookie_file=str(self._profile.cookie_file),
                domain_name=self._server.host,
                key_file=str(self._profile.key_file) if self._profile.key_file else None,
            )
        except browser_cookie3.BrowserCookieError as error:
            raise SecretUnavailable(self._explain(str(error))) from None
        except Exception as error:
            if self._platform.startswith("linux") and _is_missing_session_bus(error):
                self._no_session_bus = True
                return
            raise SecretUnavailable(
                f"browser-cookie3 could not read this profile ({type(error).__name__})"
            ) from None
        self._values = {
            (cookie.domain, cookie.path): cookie.value
            for cookie in jar
            if cookie.name == SESSION_COOKIE_NAME and isinstance(cookie.value, str)
        }

    def _explain(self, reason: str) -> str:
        label = self._browser.label
        if "Unable to read database" in reason:
            return f"{label} keeps its cookie file locked while it runs: close {label} and try again"
        if self._platform == "darwin":
            return (
                f"macOS did not give out the key {label} encrypts cookies with ({label} Safe Storage): "
                "allow access when the Keychain asks, and try again"
            )
        if self._platform == "win32":
            return f"{label} encrypts its cookies so that other programs cannot read them: use the extension"
        return (
            f"{label} keeps the key to its cookies in your desktop keyring, which did not give it out: "
            "unlock your keyring (log in to your desktop session) and try again"
        )

    def decrypt(self, cookie: StoredCookie) -> str:
        if not cookie.encrypted_value:
            if not cookie.value:
                raise ValueError("the cookie is empty")
            return cookie.value
        if cookie.encrypted_value.startswith(chromium_crypto.APP_BOUND_PREFIX):
            raise ValueError(WINDOWS_APP_BOUND.replace("Chrome", self._browser.label, 1))
        self._load()
        if self._no_session_bus:
            token = chromium_crypto.decrypt_cbc(
                cookie.encrypted_value,
                chromium_crypto.basic_linux_keys(),
                cookie.host,
                cookie.has_domain_hash,
            )
            if token is None:
                raise SecretUnavailable(
                    f"{self._browser.label} keeps the key to its cookies in your desktop keyring, which "
                    "cannot be reached without a desktop session (D-Bus): run this from your desktop "
                    "session, or use the extension"
                )
            return token
        assert self._values is not None
        value = self._values.get((cookie.host, cookie.path))
        if not value:
            raise ValueError("browser-cookie3 could not decrypt the cookie")
        return value


def _firefox_tokens(server: ServerAddress, env: Environment) -> LookupReport:
    report = LookupReport()
    profiles = [profile for root in env.roots(FIREFOX) for profile in firefox_profiles(root)]
    if not profiles:
        report.not_installed.append(FIREFOX.label)
    for profile in profiles:
        source = f"{FIREFOX.label} ({profile.label})"
        try:
            cookies = read_firefox_cookies(profile.cookie_file, server)
        except CookieStoreError as error:
            report.notes.append(f"{source}: {error}")
            continue
        report.add_cookies(source, cookies, env.now, lambda cookie: cookie.value)
    return report


def _chromium_tokens(browser: Browser, server: ServerAddress, env: Environment) -> LookupReport:
    report = LookupReport()
    profiles = [profile for root in env.roots(browser) for profile in chromium_profiles(root)]
    if not profiles:
        report.not_installed.append(browser.label)
    for profile in profiles:
        source = f"{browser.label} ({profile.label})"
        try:
            cookies = read_chromium_cookies(profile.cookie_file, server)
        except CookieStoreError as error:
            reason = str(error)
            if env.platform == "win32":
                reason = f"{browser.label} keeps its cookie file locked: close it and try again"
            report.notes.append(f"{source}: {reason}")
            continue
        decryptor = _ChromiumDecryptor(browser, profile, server, env.platform)
        report.add_cookies(source, cookies, env.now, decryptor.decrypt)
    return report


def lookup(server: ServerAddress, browser_name: str, env: Environment) -> LookupReport:
    """Look in one browser (or all of them, for `auto`) and report every token and every miss."""
    if browser_name not in BROWSER_CHOICES:
        raise CredentialError(
            f"Unknown browser {browser_name!r}; choose one of: {', '.join(BROWSER_CHOICES)}."
        )
    names = [*BROWSERS, DESKTOP_APP] if browser_name == AUTO else [browser_name]
    report = LookupReport()
    for name in names:
        if name == DESKTOP_APP:
            report.extend(
                desktop_app.find_desktop_app_tokens(
                    server, home=env.home, environ=env.environ, platform=env.platform, now=env.now
                )
            )
        elif name == FIREFOX.name:
            report.extend(_firefox_tokens(server, env))
        else:
            report.extend(_chromium_tokens(BROWSERS[name], server, env))
    return report


def describe_miss(server: ServerAddress, browser_name: str, report: LookupReport) -> str:
    """One message for the person: what was tried, why each place gave nothing, and what to do next."""
    where = "any browser" if browser_name == AUTO else _label(browser_name)
    lines = [f"No usable login for {server.url} was found in {where}."]
    lines.extend(f"  - {note}" for note in report.notes)
    if report.not_installed:
        lines.append(f"  - not found on this computer: {', '.join(report.not_installed)}")
    if browser_name != AUTO and report.not_installed and not report.notes:
        lines.append(f"Is {where} installed for this user? Try --browser auto to look in every browser.")
    lines.append(
        f"Log in to {server.url} in that browser first (and keep the session), then run this again; "
        "or pass the token with --token-stdin."
    )
    return "\n".join(lines)


def _label(browser_name: str) -> str:
    if browser_name == DESKTOP_APP:
        return desktop_app.APP_LABEL
    return BROWSERS[browser_name].label


def ranked_tokens(server: ServerAddress, browser_name: str, env: Environment) -> list[FoundToken]:
    """Every usable token, best first; raises CredentialError (saying what was tried) when there is none."""
    report = lookup(server, browser_name, env)
    ranked = report.ranked()
    if not ranked:
        raise CredentialError(describe_miss(server, browser_name, report))
    return ranked
