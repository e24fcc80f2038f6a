"""Register the helper with the user's browsers (no admin rights needed), remove it, and check it.

Chromium-family browsers and Firefox find a native-messaging host through a small JSON manifest:
on Linux and macOS in a per-browser folder of the user's profile, on Windows through a registry key
under HKCU whose default value is the manifest's path. The manifest points at a launcher script that
runs this package with the Python interpreter that installed it.

Planning is pure (platform, home and environment are parameters), so every OS's layout can be
tested anywhere; applying a plan touches the file system and, on Windows only, the registry.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mmtakeout.nativehost import paths
from mmtakeout.nativehost.protocol import (
    DEV_CHROMIUM_EXTENSION_ID,
    FIREFOX_ADDON_ID,
    HOST_NAME,
    PROTOCOL_VERSION,
    STORE_CHROMIUM_EXTENSION_IDS,
    encode_frame,
    read_frame,
)

MANIFEST_FILE_NAME = f"{HOST_NAME}.json"
HOST_DESCRIPTION = "Mattermost Takeout helper: keeps your own Mattermost chats"
LAUNCHER_CHECK_TIMEOUT_S = 30.0
_LAUNCHER_NOTE = "Mattermost Takeout helper, started by the browser (written by `mmtakeout install`)."


@dataclass(frozen=True)
class BrowserSpec:
    """Where one browser keeps its profile and looks for native-messaging hosts, per OS."""

    name: str
    label: str
    family: str  # "chromium" or "firefox"
    linux_dir: str  # relative to XDG_CONFIG_HOME (Chromium family) or to the home (Firefox)
    macos_dir: str  # relative to ~/Library/Application Support
    windows_profile: str  # relative to %LOCALAPPDATA% (Chromium family) or %APPDATA% (Firefox)
    windows_key: str  # under HKEY_CURRENT_USER


BROWSERS: tuple[BrowserSpec, ...] = (
    BrowserSpec(
        "chrome",
        "Google Chrome",
        "chromium",
        "google-chrome",
        "Google/Chrome",
        r"Google\Chrome\User Data",
        r"Software\Google\Chrome\NativeMessagingHosts",
    ),
    BrowserSpec(
        "chromium",
        "Chromium",
        "chromium",
        "chromium",
        "Chromium",
        r"Chromium\User Data",
        r"Software\Chromium\NativeMessagingHosts",
    ),
    BrowserSpec(
        "edge",
        "Microsoft Edge",
        "chromium",
        "microsoft-edge",
        "Microsoft Edge",
        r"Microsoft\Edge\User Data",
        r"Software\Microsoft\Edge\NativeMessagingHosts",
    ),
    # Brave and Vivaldi read Google Chrome's registry key on Windows.
    BrowserSpec(
        "brave",
        "Brave",
        "chromium",
        "BraveSoftware/Brave-Browser",
        "BraveSoftware/Brave-Browser",
        r"BraveSoftware\Brave-Browser\User Data",
        r"Software\Google\Chrome\NativeMessagingHosts",
    ),
    BrowserSpec(
        "vivaldi",
        "Vivaldi",
        "chromium",
        "vivaldi",
        "Vivaldi",
        r"Vivaldi\User Data",
        r"Software\Google\Chrome\NativeMessagingHosts",
    ),
    BrowserSpec(
        "firefox",
        "Firefox",
        "firefox",
        ".mozilla",
        "Mozilla",
        r"Mozilla\Firefox",
        r"Software\Mozilla\NativeMessagingHosts",
    ),
)
BROWSER_NAMES = tuple(browser.name for browser in BROWSERS)


def browser_by_name(name: str) -> BrowserSpec:
    for browser in BROWSERS:
        if browser.name == name:
            return browser
    raise KeyError(name)


def _config_home(user: paths.UserEnvironment) -> Path:
    return user.env_path("XDG_CONFIG_HOME", user.home / ".config")


def profile_dir(user: paths.UserEnvironment, browser: BrowserSpec) -> Path:
    """The folder whose existence shows the browser has been used by this user."""
    if user.is_windows:
        base = user.roaming_app_data if browser.family == "firefox" else user.local_app_data
        return base.joinpath(*browser.windows_profile.split("\\"))
    if user.is_macos:
        support = user.home / "Library" / "Application Support"
        return support / ("Firefox" if browser.family == "firefox" else browser.macos_dir)
    if browser.family == "firefox":
        return user.home / browser.linux_dir / "firefox"
    return _config_home(user) / browser.linux_dir


def manifest_path(user: paths.UserEnvironment, browser: BrowserSpec) -> Path:
    if user.is_windows:
        # One manifest per family, kept with the launcher; the registry points at it.
        return paths.data_dir(user) / "NativeMessagingHosts" / browser.family / MANIFEST_FILE_NAME
    if user.is_macos:
        support = user.home / "Library" / "Application Support"
        return support / browser.macos_dir / "NativeMessagingHosts" / MANIFEST_FILE_NAME
    if browser.family == "firefox":
        return user.home / browser.linux_dir / "native-messaging-hosts" / MANIFEST_FILE_NAME
    return _config_home(user) / browser.linux_dir / "NativeMessagingHosts" / MANIFEST_FILE_NAME


def registry_key(browser: BrowserSpec) -> str:
    return f"{browser.windows_key}\\{HOST_NAME}"


def launcher_path(user: paths.UserEnvironment) -> Path:
    name = "mmtakeout-native-host.bat" if user.is_windows else "mmtakeout-native-host"
    return paths.data_dir(user) / "native-host" / name


def launcher_script(user: paths.UserEnvironment, python: str, environment: Mapping[str, str]) -> str:
    """A tiny script that runs `python -m mmtakeout native-host` with the browser's arguments."""
    if user.is_windows:
        lines = ["@echo off", f"rem {_LAUNCHER_NOTE}"]
        lines += [f'set "{name}={value}"' for name, value in environment.items()]
        lines.append(f'"{python}" -m mmtakeout native-host %*')
        return "\r\n".join(lines) + "\r\n"
    lines = ["#!/bin/sh", f"# {_LAUNCHER_NOTE}"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in environment.items()]
    lines.append(f'exec {shlex.quote(python)} -m mmtakeout native-host "$@"')
    return "\n".join(lines) + "\n"


def host_manifest(browser: BrowserSpec, launcher: Path, chromium_ids: Iterable[str]) -> dict[str, object]:
    manifest: dict[str, object] = {
        "name": HOST_NAME,
        "description": HOST_DESCRIPTION,
        "path": str(launcher),
        "type": "stdio",
    }
    if browser.family == "firefox":
        manifest["allowed_extensions"] = [FIREFOX_ADDON_ID]
    else:
        manifest["allowed_origins"] = [f"chrome-extension://{ext_id}/" for ext_id in chromium_ids]
    return manifest


def allowed_chromium_ids(config: paths.HostConfig) -> list[str]:
    ids = [DEV_CHROMIUM_EXTENSION_ID, *STORE_CHROMIUM_EXTENSION_IDS, *config.extra_extension_ids]
    return list(dict.fromkeys(ids))


@dataclass(frozen=True)
class FileToWrite:
    path: Path
    content: str
    executable: bool = False


@dataclass(frozen=True)
class InstallPlan:
    browsers: tuple[BrowserSpec, ...]
    files: tuple[FileToWrite, ...]
    registry: tuple[tuple[str, str], ...]  # (HKCU key, default value = manifest path)


def detect_browsers(user: paths.UserEnvironment) -> list[BrowserSpec]:
    return [browser for browser in BROWSERS if profile_dir(user, browser).is_dir()]


def plan_install(
    user: paths.UserEnvironment,
    browsers: Sequence[BrowserSpec],
    *,
    python: str,
    config: paths.HostConfig,
    write_config: bool = False,
    launcher_environment: Mapping[str, str] | None = None,
) -> InstallPlan:
    """Everything `install` will write; `launcher_environment` lets tests point the host at a
    throw-away home."""
    launcher = launcher_path(user)
    script = launcher_script(user, python, launcher_environment or {})
    files = [FileToWrite(launcher, script, executable=True)]
    registry: list[tuple[str, str]] = []
    written: set[Path] = set()
    for browser in browsers:
        target = manifest_path(user, browser)
        if target not in written:
            manifest = host_manifest(browser, launcher, allowed_chromium_ids(config))
            files.append(FileToWrite(target, json.dumps(manifest, indent=2) + "\n"))
            written.add(target)
        if user.is_windows and (key := registry_key(browser)) not in {k for k, _ in registry}:
            registry.append((key, str(target)))
    if write_config:
        files.append(FileToWrite(paths.config_file(user), config.to_json()))
    return InstallPlan(browsers=tuple(browsers), files=tuple(files), registry=tuple(registry))


class Registry(Protocol):
    """The few HKCU operations the installer needs."""

    def set_default(self, key: str, value: str) -> None: ...

    def get_default(self, key: str) -> str | None: ...

    def delete(self, key: str) -> None: ...


if sys.platform == "win32":
    import winreg

    class WindowsRegistry:
        """HKEY_CURRENT_USER through winreg."""

        def set_default(self, key: str, value: str) -> None:
            with winreg.CreateKey(winreg.HKEY_CURRENT_USER, key) as handle:
                winreg.SetValueEx(handle, "", 0, winreg.REG_SZ, value)

        def get_default(self, key: str) -> str | None:
            try:
                with winreg.OpenKey(winreg.HKEY_CURRENT_USER, key) as handle:
                    value, _kind = winreg.QueryValueEx(handle, "")
            except OSError:
                return None
            return str(value)

        def delete(self, key: str) -> None:
            with contextlib.suppress(FileNotFoundError):
                winreg.DeleteKey(winreg.HKEY_CURRENT_USER, key)

    def system_registry(user: paths.UserEnvironment) -> Registry | None:
        return WindowsRegistry() if user.is_windows else None

else:

    def system_registry(user: paths.UserEnvironment) -> Registry | None:
        """No registry here; a Windows plan made on another OS can be inspected but not applied."""
        del user
        return None


def apply_install(plan: InstallPlan, registry: Registry | None) -> None:
    if plan.registry and registry is None:
        raise RuntimeError("registering a Windows host needs the Windows registry")
    for item in plan.files:
        _write_atomically(item)
    for key, value in plan.registry:
        assert registry is not None
        registry.set_default(key, value)


def _write_atomically(item: FileToWrite) -> None:
    item.path.parent.mkdir(parents=True, exist_ok=True)
    temporary = item.path.with_name(f".{item.path.name}.tmp")
    newline = "" if item.content.endswith("\r\n") else None
    with open(temporary, "w", encoding="utf-8", newline=newline) as handle:
        handle.write(item.content)
    os.chmod(temporary, 0o755 if item.executable else 0o644)
    os.replace(temporary, item.path)


@dataclass(frozen=True)
class UninstallPlan:
    files: tuple[Path, ...]
    registry_keys: tuple[str, ...]


def plan_uninstall(user: paths.UserEnvironment, browsers: Sequence[BrowserSpec] | None) -> UninstallPlan:
    """Remove the named browsers' registrations, or all of them and the launcher when none is named.

    On Windows a key shared by several browsers (Chrome, Brave, Vivaldi) goes only when all of them go.
    """
    chosen = list(BROWSERS) if browsers is None else list(browsers)
    remaining = [browser for browser in BROWSERS if browser not in chosen]
    kept_manifests = {manifest_path(user, browser) for browser in remaining}
    files = [
        path
        for path in dict.fromkeys(manifest_path(user, browser) for browser in chosen)
        if path not in kept_manifests
    ]
    keys: list[str] = []
    if user.is_windows:
        kept_keys = {registry_key(browser) for browser in remaining}
        chosen_keys = dict.fromkeys(registry_key(browser) for browser in chosen)
        keys = [key for key in chosen_keys if key not in kept_keys]
    if browsers is None:
        files.append(launcher_path(user))
    return UninstallPlan(files=tuple(files), registry_keys=tuple(keys))


def apply_uninstall(plan: UninstallPlan, registry: Registry | None) -> list[Path]:
    """Returns the files that were actually removed."""
    removed = []
    for path in plan.files:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
    if registry is not None:
        for key in plan.registry_keys:
            registry.delete(key)
    return removed


# ---------------------------------------------------------------------------------------------- doctor


@dataclass(frozen=True)
class BrowserStatus:
    browser: BrowserSpec
    found: bool
    manifest: Path
    registered: bool
    problems: tuple[str, ...] = field(default=())


def inspect_browser(
    user: paths.UserEnvironment, browser: BrowserSpec, config: paths.HostConfig, registry: Registry | None
) -> BrowserStatus:
    found = profile_dir(user, browser).is_dir()
    manifest = manifest_path(user, browser)
    problems: list[str] = []
    if user.is_windows and registry is not None:
        registered_path = registry.get_default(registry_key(browser))
        if registered_path is None:
            return BrowserStatus(browser, found, manifest, registered=False)
        if Path(registered_path) != manifest:
            problems.append(f"the registry points at {registered_path}, not at {manifest}")
    if not manifest.exists():
        return BrowserStatus(browser, found, manifest, registered=False, problems=tuple(problems))
    problems.extend(manifest_problems(manifest, browser, config))
    return BrowserStatus(browser, found, manifest, registered=True, problems=tuple(problems))


def manifest_problems(manifest: Path, browser: BrowserSpec, config: paths.HostConfig) -> list[str]:
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"the manifest cannot be read: {exc}"]
    if not isinstance(data, dict):
        return ["the manifest is not a JSON object"]
    problems = []
    if data.get("name") != HOST_NAME:
        problems.append(f"the manifest's name is {data.get('name')!r}, not {HOST_NAME!r}")
    launcher = Path(str(data.get("path", "")))
    if not launcher.is_absolute() or not launcher.is_file():
        problems.append(f"the launcher {launcher} does not exist")
    elif not os.access(launcher, os.X_OK):
        problems.append(f"the launcher {launcher} is not executable")
    if browser.family == "firefox":
        if FIREFOX_ADDON_ID not in (data.get("allowed_extensions") or []):
            problems.append(f"the manifest does not allow the add-on {FIREFOX_ADDON_ID}")
    else:
        origins = data.get("allowed_origins") or []
        missing = [i for i in allowed_chromium_ids(config) if f"chrome-extension://{i}/" not in origins]
        if missing:
            problems.append(f"the manifest does not allow the extension id(s) {', '.join(missing)}")
    return problems


def check_launcher(launcher: Path, timeout_s: float = LAUNCHER_CHECK_TIMEOUT_S) -> tuple[bool, str]:
    """Start the launcher the way Chromium does and exchange a `hello`; (works, what happened)."""
    if not launcher.is_file():
        return False, f"{launcher} does not exist"
    request = encode_frame({"v": PROTOCOL_VERSION, "type": "hello", "extension_version": "doctor"})
    try:
        completed = subprocess.run(
            [str(launcher), f"chrome-extension://{DEV_CHROMIUM_EXTENSION_ID}/"],
            input=request,
            capture_output=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"it could not be run: {exc}"
    try:
        payload = read_frame(io.BytesIO(completed.stdout))
        reply = json.loads(payload) if payload else None
    except Exception as exc:  # the launcher printed something that is not a frame
        return False, f"it answered with something that is not a message ({type(exc).__name__})"
    if not isinstance(reply, dict) or reply.get("type") != "hello":
        stderr = completed.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        return False, f"it did not answer hello (exit code {completed.returncode}: {stderr[0]})"
    return True, f"helper {reply.get('helper_version')} answers"
