"""`mmtakeout install / uninstall / doctor`: manifests, registry entries and the launcher."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nativehost_support import isolated_env

from mmtakeout import __version__
from mmtakeout.nativehost import install, paths
from mmtakeout.nativehost.protocol import DEV_CHROMIUM_EXTENSION_ID, FIREFOX_ADDON_ID, HOST_NAME

pytestmark = pytest.mark.timeout(120)
MANIFEST = f"{HOST_NAME}.json"
DEV_ORIGIN = f"chrome-extension://{DEV_CHROMIUM_EXTENSION_ID}/"


def linux_user(home: Path) -> paths.UserEnvironment:
    return paths.UserEnvironment(
        "linux",
        home,
        {"XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local" / "share")},
    )


def planned(plan: install.InstallPlan) -> dict[Path, str]:
    return {item.path: item.content for item in plan.files}


def test_linux_plan_covers_every_browser(tmp_path: Path) -> None:
    user = linux_user(tmp_path)
    plan = install.plan_install(
        user, install.BROWSERS, python="/opt/py/bin/python3", config=paths.HostConfig()
    )
    files = planned(plan)
    launcher = tmp_path / ".local" / "share" / "mmtakeout" / "native-host" / "mmtakeout-native-host"
    expected = {
        launcher,
        tmp_path / ".config" / "google-chrome" / "NativeMessagingHosts" / MANIFEST,
        tmp_path / ".config" / "chromium" / "NativeMessagingHosts" / MANIFEST,
        tmp_path / ".config" / "microsoft-edge" / "NativeMessagingHosts" / MANIFEST,
        tmp_path / ".config" / "BraveSoftware" / "Brave-Browser" / "NativeMessagingHosts" / MANIFEST,
        tmp_path / ".config" / "vivaldi" / "NativeMessagingHosts" / MANIFEST,
        tmp_path / ".mozilla" / "native-messaging-hosts" / MANIFEST,
    }
    assert set(files) == expected
    assert plan.registry == ()
    chrome = json.loads(files[tmp_path / ".config" / "google-chrome" / "NativeMessagingHosts" / MANIFEST])
    assert chrome == {
        "name": HOST_NAME,
        "description": install.HOST_DESCRIPTION,
        "path": str(launcher),
        "type": "stdio",
        "allowed_origins": [DEV_ORIGIN],
    }
    firefox = json.loads(files[tmp_path / ".mozilla" / "native-messaging-hosts" / MANIFEST])
    assert firefox["allowed_extensions"] == [FIREFOX_ADDON_ID] and "allowed_origins" not in firefox
    assert files[launcher].splitlines() == [
        "#!/bin/sh",
        "# " + "Mattermost Takeout helper, started by the browser (written by `mmtakeout install`).",
        'exec /opt/py/bin/python3 -m mmtakeout native-host "$@"',
    ]


def test_macos_plan_uses_application_support(tmp_path: Path) -> None:
    user = paths.UserEnvironment("darwin", tmp_path)
    browsers = [install.browser_by_name("chrome"), install.browser_by_name("firefox")]
    plan = install.plan_install(user, browsers, python="/usr/bin/python3", config=paths.HostConfig())
    files = planned(plan)
    support = tmp_path / "Library" / "Application Support"
    assert set(files) == {
        support / "mmtakeout" / "native-host" / "mmtakeout-native-host",
        support / "Google" / "Chrome" / "NativeMessagingHosts" / MANIFEST,
        support / "Mozilla" / "NativeMessagingHosts" / MANIFEST,
    }


def test_windows_plan_uses_hkcu_keys_and_a_batch_launcher(tmp_path: Path) -> None:
    local = tmp_path / "AppData" / "Local"
    user = paths.UserEnvironment("win32", tmp_path, {"LOCALAPPDATA": str(local)})
    config = paths.HostConfig(extra_extension_ids=("b" * 32,))
    plan = install.plan_install(user, install.BROWSERS, python=r"C:\Python 3\python.exe", config=config)
    files = planned(plan)
    chromium_manifest = local / "mmtakeout" / "NativeMessagingHosts" / "chromium" / MANIFEST
    firefox_manifest = local / "mmtakeout" / "NativeMessagingHosts" / "firefox" / MANIFEST
    launcher = local / "mmtakeout" / "native-host" / "mmtakeout-native-host.bat"
    assert set(files) == {launcher, chromium_manifest, firefox_manifest}
    origins = json.loads(files[chromium_manifest])["allowed_origins"]
    assert origins == [DEV_ORIGIN, f"chrome-extension://{'b' * 32}/"]
    # Brave and Vivaldi share Google Chrome's key, so it is written once.
    assert dict(plan.registry) == {
        rf"Software\Google\Chrome\NativeMessagingHosts\{HOST_NAME}": str(chromium_manifest),
        rf"Software\Chromium\NativeMessagingHosts\{HOST_NAME}": str(chromium_manifest),
        rf"Software\Microsoft\Edge\NativeMessagingHosts\{HOST_NAME}": str(chromium_manifest),
        rf"Software\Mozilla\NativeMessagingHosts\{HOST_NAME}": str(firefox_manifest),
    }
    assert files[launcher].endswith('"C:\\Python 3\\python.exe" -m mmtakeout native-host %*\r\n')
    assert "\n" not in files[launcher].replace("\r\n", "")
    with pytest.raises(RuntimeError, match="registry"):
        install.apply_install(plan, None)


def test_windows_uninstall_keeps_a_key_other_browsers_still_use(tmp_path: Path) -> None:
    user = paths.UserEnvironment("win32", tmp_path)
    only_brave = install.plan_uninstall(user, [install.browser_by_name("brave")])
    assert only_brave.registry_keys == () and only_brave.files == ()
    everything = install.plan_uninstall(user, None)
    assert len(everything.registry_keys) == 4
    assert install.launcher_path(user) in everything.files


def test_installed_launcher_really_starts_the_helper(tmp_path: Path) -> None:
    home = tmp_path / "home"
    user = linux_user(home)
    environment = {name: value for name, value in isolated_env(home).items() if name[:4] in {"HOME", "XDG_"}}
    plan = install.plan_install(
        user,
        [install.browser_by_name("chromium")],
        python=sys.executable,
        config=paths.HostConfig(),
        launcher_environment=environment,
    )
    install.apply_install(plan, None)
    launcher = install.launcher_path(user)
    assert os.access(launcher, os.X_OK)
    manifest = install.manifest_path(user, install.browser_by_name("chromium"))
    assert install.manifest_problems(manifest, install.browser_by_name("chromium"), paths.HostConfig()) == []
    works, detail = install.check_launcher(launcher)
    assert works, detail
    assert detail == f"helper {__version__} answers"
    assert (home / ".local" / "state" / "mmtakeout" / "native-host.log").is_file()


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mmtakeout", *args],
        capture_output=True,
        text=True,
        env=isolated_env(home),
        timeout=90,
        check=False,
    )


def test_install_doctor_uninstall_from_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    nothing = run_cli(home, "install")
    assert nothing.returncode == 1 and "No supported browser was found" in nothing.stderr

    (home / ".config" / "chromium").mkdir(parents=True)
    (home / ".mozilla" / "firefox").mkdir(parents=True)
    before = run_cli(home, "doctor")
    assert before.returncode == 1
    assert "not registered (run: mmtakeout install --browser chromium)" in before.stdout

    installed = run_cli(home, "install", "--archive-root", str(tmp_path / "backups"))
    assert installed.returncode == 0, installed.stderr
    assert "Registered for Chromium" in installed.stdout and "Registered for Firefox" in installed.stdout
    assert "Google Chrome" not in installed.stdout
    assert (home / ".config" / "chromium" / "NativeMessagingHosts" / MANIFEST).is_file()
    assert (home / ".mozilla" / "native-messaging-hosts" / MANIFEST).is_file()
    settings = json.loads((home / ".config" / "mmtakeout" / "native-host.json").read_text())
    assert settings == {"archive_root": str(tmp_path / "backups")}

    doctor = run_cli(home, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert f"works, helper {__version__} answers" in doctor.stdout
    assert f"Backups go to: {tmp_path / 'backups'}" in doctor.stdout

    (home / ".config" / "chromium" / "NativeMessagingHosts" / MANIFEST).write_text('{"name": "other"}')
    broken = run_cli(home, "doctor")
    assert broken.returncode == 1 and "problem: the manifest's name is 'other'" in broken.stdout

    removed = run_cli(home, "uninstall")
    assert removed.returncode == 0
    assert not (home / ".mozilla" / "native-messaging-hosts" / MANIFEST).exists()
    assert not install.launcher_path(linux_user(home)).exists()
    assert (home / ".config" / "mmtakeout" / "native-host.json").exists(), "settings stay"
    assert run_cli(home, "uninstall").stdout.startswith("Nothing to remove")


def test_named_browsers_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    result = run_cli(home, "install", "--browser", "edge", "--browser", "edge")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Registered for") == 1
    assert (home / ".config" / "microsoft-edge" / "NativeMessagingHosts" / MANIFEST).is_file()
    assert run_cli(home, "install", "--browser", "netscape").returncode == 2
