"""scripts/build-extension: per-browser packages, reproducible to the byte."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from mmtakeout.nativehost.protocol import FIREFOX_ADDON_ID

ROOT = Path(__file__).resolve().parents[2]
SOURCE_MANIFEST = json.loads((ROOT / "extension" / "manifest.json").read_text())
VERSION = SOURCE_MANIFEST["version"]


def build(out: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build-extension"), "--out", str(out)],
        check=True,
        capture_output=True,
        timeout=60,
    )


def manifest_in(package: Path) -> dict[str, object]:
    with zipfile.ZipFile(package) as archive:
        loaded = json.loads(archive.read("manifest.json"))
    assert isinstance(loaded, dict)
    return loaded


def test_packages_are_reproducible_and_fit_their_store(tmp_path: Path) -> None:
    build(tmp_path / "one")
    build(tmp_path / "two")
    names = [f"mmtakeout-{kind}-{VERSION}.zip" for kind in ("chrome", "firefox", "dev")]
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name

    chrome = manifest_in(tmp_path / "one" / names[0])
    assert "key" not in chrome and "browser_specific_settings" not in chrome
    assert chrome["background"] == {"service_worker": "background.js"}
    assert chrome["minimum_chrome_version"] == "116"

    firefox = manifest_in(tmp_path / "one" / names[1])
    assert "key" not in firefox and "minimum_chrome_version" not in firefox
    assert firefox["background"] == {"scripts": ["background.js"]}
    gecko = firefox["browser_specific_settings"]["gecko"]  # type: ignore[index]
    assert gecko["id"] == FIREFOX_ADDON_ID and float(gecko["strict_min_version"]) >= 128

    dev = manifest_in(tmp_path / "one" / names[2])
    assert dev == SOURCE_MANIFEST
    assert json.loads((tmp_path / "one" / f"mmtakeout-dev-{VERSION}" / "manifest.json").read_text()) == dev

    with zipfile.ZipFile(tmp_path / "one" / names[0]) as archive:
        entries = archive.namelist()
        assert entries == sorted(entries)
        assert {
            "manifest.json",
            "background.js",
            "popup.html",
            "popup.js",
            "popup.css",
            "icons/icon-128.png",
        } <= set(entries)
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())


def test_least_privilege_permissions() -> None:
    assert sorted(SOURCE_MANIFEST["permissions"]) == sorted(
        ["cookies", "nativeMessaging", "storage", "activeTab", "notifications"]
    )
    assert "host_permissions" not in SOURCE_MANIFEST
    assert SOURCE_MANIFEST["optional_host_permissions"] == ["https://*/*", "http://*/*"]
    assert "content_scripts" not in SOURCE_MANIFEST and "externally_connectable" not in SOURCE_MANIFEST
