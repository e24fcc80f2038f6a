"""Running the real extension in headless Chromium with the real native host, in a throw-away home.

The test copy of the extension differs from `extension/` in one way: it is granted host access to
127.0.0.1 at install time, because headless Chromium cannot answer a permission prompt.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Worker, sync_playwright

from chromium_browser import CHROMIUM, CHROMIUM_ARGS
from mmtakeout.nativehost import install, paths
from mmtakeout.nativehost.protocol import DEV_CHROMIUM_EXTENSION_ID, HOST_NAME

REPO = Path(__file__).resolve().parents[2]
EXTENSION_SOURCE = REPO / "extension"
ARTIFACTS = REPO / "test-artifacts" / "extension"
EXTENSION_ID = DEV_CHROMIUM_EXTENSION_ID
BACK_UP = re.compile(r"^Back up")


def isolated_env(home: Path) -> dict[str, str]:
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }


def extension_copy(target: Path, *, grant_loopback: bool = True) -> Path:
    shutil.copytree(EXTENSION_SOURCE, target)
    manifest_path = target / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if grant_loopback:
        manifest["host_permissions"] = ["http://127.0.0.1/*"]
    manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return target


def write_launcher(home: Path) -> Path:
    """The launcher `mmtakeout install` writes, but pointing the helper at the test's home."""
    user = paths.UserEnvironment("linux", home, isolated_env(home))
    plan = install.plan_install(
        user, [], python=sys.executable, config=paths.HostConfig(), launcher_environment=isolated_env(home)
    )
    install.apply_install(plan, None)
    return install.launcher_path(user)


def write_host_manifest(profile: Path, launcher: Path, origins: list[str] | None = None) -> Path:
    """Register the host in the profile's own NativeMessagingHosts folder (used with --user-data-dir)."""
    chromium = install.browser_by_name("chromium")
    manifest = install.host_manifest(chromium, launcher, [EXTENSION_ID])
    if origins is not None:
        manifest["allowed_origins"] = origins
    target = profile / "NativeMessagingHosts" / f"{HOST_NAME}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(manifest), encoding="utf-8")
    return target


def archive_dir(home: Path, server: str) -> Path:
    return home / "Documents" / "Mattermost Takeout" / paths.folder_name_for_server(server)


@dataclass
class Browser:
    context: BrowserContext
    worker: Worker
    home: Path
    profile: Path

    def popup(self, target_url: str, *, dark: bool = False) -> Page:
        page = self.context.new_page()
        page.set_viewport_size({"width": 360, "height": 300})
        page.emulate_media(color_scheme="dark" if dark else "light")
        page.goto(f"chrome-extension://{EXTENSION_ID}/popup.html?target={target_url}")
        wait_until(page, "document.body.dataset.view !== 'loading'")
        return page

    def log_in(self, login_url: str, username: str, password: str) -> None:
        page = self.context.new_page()
        page.goto(f"{login_url}?login_id={username}&password={password}")
        page.wait_for_selector("#signed-in")
        page.close()

    def session_token(self) -> str:
        cookies = [c for c in self.context.cookies() if c["name"] == "MMAUTHTOKEN"]
        assert len(cookies) == 1 and cookies[0]["httpOnly"], cookies
        return cookies[0]["value"]

    def badge(self) -> str:
        return str(self.worker.evaluate("chrome.action.getBadgeText({})"))

    def stored(self) -> dict[str, Any]:
        """Everything the extension keeps, in both storage areas."""
        session = self.worker.evaluate("chrome.storage.session.get(null)")
        local = self.worker.evaluate("chrome.storage.local.get(null)")
        return {"session": session, "local": local}


@contextmanager
def chromium(
    tmp: Path, *, extension: Path | None = None, host: bool = True, env: Mapping[str, str] | None = None
) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/test installs it)")
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    profile = tmp / "profile"
    profile.mkdir(exist_ok=True)
    extension = extension or extension_copy(tmp / "extension")
    if host:
        write_host_manifest(profile, write_launcher(home))
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            ignore_default_args=["--disable-extensions"],
            args=[
                *CHROMIUM_ARGS,
                # Loopback only: anything else would go to a closed port (loopback is never proxied).
                "--proxy-server=http://127.0.0.1:9",
                f"--load-extension={extension}",
                f"--disable-extensions-except={extension}",
            ],
            env=dict(env) if env is not None else None,
        )
        try:
            worker = (
                context.service_workers[0]
                if context.service_workers
                else context.wait_for_event("serviceworker", timeout=30_000)
            )
            assert worker.url == f"chrome-extension://{EXTENSION_ID}/background.js", worker.url
            yield Browser(context, worker, home, profile)
        finally:
            context.close()


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


def view(page: Page) -> str:
    return str(page.evaluate("document.body.dataset.view"))


def wait_until(page: Page, expression: str, seconds: float = 30.0) -> None:
    """Poll a JavaScript expression (extension pages forbid the eval that wait_for_function uses)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            state = page.evaluate("({view: document.body.dataset.view, error: document.body.dataset.error})")
            raise AssertionError(f"timed out waiting for {expression}; popup is {state}")
        time.sleep(0.1)


def wait_view(page: Page, name: str, seconds: float = 90.0) -> None:
    wait_until(page, f"document.body.dataset.view === {json.dumps(name)}", seconds)


# Set the status marker before a second click; this waits for the new run's summary.
NEW_SUMMARY = "document.body.dataset.view === 'done' && document.body.dataset.status !== 'previous run'"


def wait_error(page: Page, code: str, seconds: float = 30.0) -> None:
    wait_until(page, f"document.body.dataset.error === {json.dumps(code)}", seconds)
