"""The extension in headless Chromium, with the real native host and the sandbox server."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from extension_browser import (
    BACK_UP,
    EXTENSION_ID,
    NEW_SUMMARY,
    archive_dir,
    chromium,
    extension_copy,
    screenshot,
    view,
    wait_error,
    wait_until,
    wait_view,
    write_host_manifest,
    write_launcher,
)
from playwright.sync_api import Page, expect

from conftest import Serve
from export_checks import assert_files_intact, assert_matches_world, query
from mmtakeout.sandbox.faults import RequestInfo
from mmtakeout.sandbox.generator import PASSWORD, SandboxSetup

pytestmark = pytest.mark.timeout(240)


def start_backup(popup: Page) -> None:
    popup.get_by_role("button", name=BACK_UP).click()


def counts(popup: Page, prefix: str) -> dict[str, str]:
    return {name: popup.locator(f"#{prefix}-{name}").inner_text() for name in ("channels", "posts", "files")}


def test_one_click_backup_then_one_click_update(
    tmp_path: Path, serve: Serve, sandbox_setup: SandboxSetup
) -> None:
    sandbox = serve(latency_ms=60)
    world = sandbox_setup.world
    opened = tmp_path / "opened.txt"
    with chromium(tmp_path, env=recording_opener(tmp_path / "bin", opened)) as browser:
        browser.log_in(sandbox.login_url, sandbox_setup.username, PASSWORD)
        token = browser.session_token()
        target = f"{sandbox.url}/alpha/channels/town-square"
        popup = browser.popup(target)
        assert view(popup) == "idle"
        expect(popup.locator("#site-host")).to_have_text(sandbox.url.removeprefix("http://"))
        expect(popup.locator("#check-mattermost")).to_have_attribute("data-state", "yes")
        expect(popup.locator("#check-login")).to_have_attribute("data-state", "yes")
        expect(popup.locator("#notice")).to_be_hidden()
        screenshot(popup, "idle")
        screenshot(browser.popup(target, dark=True), "idle-dark")

        start_backup(popup)
        wait_view(popup, "running", 20)
        wait_until(popup, "Number(document.querySelector('#bar').getAttribute('aria-valuenow')) > 5")
        expect(popup.get_by_role("button", name="Cancel")).to_be_enabled()
        assert browser.badge().endswith("%")
        screenshot(popup, "running")

        wait_view(popup, "done")
        assert popup.evaluate("document.body.dataset.status") == "incomplete"  # one blob is gone on purpose
        expect(popup.locator("#done-title")).to_have_text("Backup finished, with gaps")
        expect(popup.locator("#problems-summary")).to_have_text("1 item could not be saved")
        folder = archive_dir(browser.home, sandbox.url)
        expect(popup.locator("#archive-path")).to_have_text(f"Archive: {folder}")
        posts = query(folder, "SELECT count(*) FROM posts")[0][0]
        channels = query(folder, "SELECT count(*) FROM channels")[0][0]
        assert counts(popup, "done")["posts"] == f"{posts:,}"
        assert counts(popup, "done")["channels"] == f"{channels:,}"
        assert "in " in popup.locator("#done-text").inner_text()
        popup.locator("#problems").evaluate("details => details.open = true")
        screenshot(popup, "done")
        assert_matches_world(folder, world)
        assert_files_intact(folder, world)
        assert (folder / "index.html").is_file()
        assert browser.badge() == "!"
        dark = browser.popup(target, dark=True)
        assert view(dark) == "done", "a reopened popup shows the last result"
        screenshot(dark, "done-dark")
        dark.close()
        notifications = browser.worker.evaluate("chrome.notifications.getAll()")
        assert list(notifications) == [f"done:{sandbox.url}"]

        # The summary's buttons: the helper opens the viewer and the folder with the desktop's opener.
        popup.get_by_role("button", name="Open archive").click()
        popup.get_by_role("button", name="Show folder").click()
        wait_until_file_lines(opened, 2)
        assert sorted(opened.read_text().splitlines()) == sorted([str(folder / "index.html"), str(folder)])
        expect(popup.locator("#open-result")).to_be_empty()

        # The token lives only in the browser's cookie jar: not in extension storage, not in the log.
        stored = json.dumps(browser.stored())
        assert token not in stored and "MMAUTHTOKEN" not in stored
        log = (browser.home / ".local" / "state" / "mmtakeout" / "native-host.log").read_text()
        assert token not in log

        # Second click: the same archive is brought up to date with few requests.
        requests_before = len(sandbox.requests)
        first_run = requests_before
        channel = world.visible_channels(world.primary_user_id)[0]
        added = sandbox.call(lambda: world.create_post(channel.id, world.primary_user_id, "news since then"))
        popup.evaluate("document.body.dataset.status = 'previous run'")
        popup.get_by_role("button", name="Back up again").click()
        wait_until(popup, NEW_SUMMARY)
        assert counts(popup, "done")["posts"] == f"{posts + 1:,}"
        assert "1 new message" in popup.locator("#done-text").inner_text()
        update_requests = len(sandbox.requests) - requests_before
        assert update_requests < first_run / 2, (first_run, update_requests)
        assert query(folder, "SELECT message FROM posts WHERE id = ?", added.id) == [(added.message,)]


def test_closing_the_popup_does_not_stop_the_backup(
    tmp_path: Path, serve: Serve, sandbox_setup: SandboxSetup
) -> None:
    sandbox = serve(latency_ms=150)
    with chromium(tmp_path) as browser:
        browser.log_in(sandbox.login_url, sandbox_setup.username, PASSWORD)
        popup = browser.popup(sandbox.url)
        start_backup(popup)
        wait_view(popup, "running", 20)
        popup.close()
        time.sleep(1.5)
        reopened = browser.popup(sandbox.url)
        assert view(reopened) in {"running", "done"}
        if view(reopened) == "running":
            expect(reopened.locator("#running-title")).to_contain_text("Backing up")
            screenshot(reopened, "running-reopened")
        reopened.close()
        # Nobody watches now; the background finishes the job on its own.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            state = browser.stored()["session"].get(f"job:{sandbox.url}", {})
            if state.get("status") not in {"starting", "running"}:
                break
            time.sleep(0.5)
        assert state["status"] == "done", state
        final = browser.popup(sandbox.url)
        assert view(final) == "done"
        assert_matches_world(archive_dir(browser.home, sandbox.url), sandbox_setup.world)


def test_cancel_keeps_what_was_saved(tmp_path: Path, serve: Serve, sandbox_setup: SandboxSetup) -> None:
    sandbox = serve(latency_ms=150)
    with chromium(tmp_path) as browser:
        browser.log_in(sandbox.login_url, sandbox_setup.username, PASSWORD)
        popup = browser.popup(sandbox.url)
        start_backup(popup)
        wait_view(popup, "running", 20)
        wait_until(popup, "Number(document.querySelector('#bar').getAttribute('aria-valuenow')) > 20")
        popup.get_by_role("button", name="Cancel").click()
        wait_view(popup, "done", 30)
        assert popup.evaluate("document.body.dataset.status") == "cancelled"
        expect(popup.locator("#done-title")).to_have_text("Backup cancelled")
        screenshot(popup, "cancelled")
        folder = archive_dir(browser.home, sandbox.url)
        assert query(folder, "PRAGMA integrity_check") == [("ok",)]
        saved = query(folder, "SELECT count(*) FROM posts")[0][0]
        assert 0 < saved < len(sandbox_setup.world.readable_posts(sandbox_setup.world.primary_user_id))
        assert counts(popup, "done")["posts"] == f"{saved:,}"


def test_expired_session(tmp_path: Path, serve: Serve, sandbox_setup: SandboxSetup) -> None:
    sandbox = serve()
    with chromium(tmp_path) as browser:
        browser.log_in(sandbox.login_url, sandbox_setup.username, PASSWORD)
        sandbox.call(lambda: sandbox_setup.world.revoke_token(browser.session_token()))
        popup = browser.popup(sandbox.url)
        start_backup(popup)
        wait_error(popup, "session-expired", 60)
        expect(popup.locator("#notice-title")).to_have_text("Your session has expired")
        expect(popup.locator("#notice-text")).to_contain_text("Log in again")
        assert browser.badge() == "!"
        screenshot(popup, "error-session-expired")


def test_not_logged_in_not_mattermost_and_not_a_website(tmp_path: Path, serve: Serve) -> None:
    sandbox = serve()
    with chromium(tmp_path) as browser, plain_website() as other_site:
        popup = browser.popup(f"{sandbox.url}/login")
        expect(popup.locator("#check-mattermost")).to_have_attribute("data-state", "yes")
        expect(popup.locator("#check-login")).to_have_attribute("data-state", "no")
        assert popup.evaluate("document.body.dataset.error") == "not-logged-in"
        screenshot(popup, "error-not-logged-in")
        start_backup(popup)
        wait_error(popup, "not-logged-in")
        expect(popup.locator("#notice-title")).to_contain_text("You are not logged in")

        elsewhere = browser.popup(other_site)
        expect(elsewhere.locator("#check-mattermost")).to_have_attribute("data-state", "no")
        assert elsewhere.evaluate("document.body.dataset.error") == "not-mattermost"
        screenshot(elsewhere, "error-not-mattermost")

        nowhere = browser.popup("chrome://extensions/")
        assert view(nowhere) == "unsupported"
        expect(nowhere.get_by_role("button", name=BACK_UP)).to_be_hidden()
        screenshot(nowhere, "not-a-website")


def test_helper_missing_then_registered_for_another_extension(
    tmp_path: Path, serve: Serve, sandbox_setup: SandboxSetup
) -> None:
    sandbox = serve()
    with chromium(tmp_path, host=False) as browser:
        browser.log_in(sandbox.login_url, sandbox_setup.username, PASSWORD)
        popup = browser.popup(sandbox.url)
        start_backup(popup)
        wait_error(popup, "helper-missing", 30)
        expect(popup.locator("#notice-title")).to_have_text("The helper app is not installed")
        command = popup.locator("#notice-command-text")
        expect(command).to_have_text("pipx install . && mmtakeout install")
        screenshot(popup, "error-helper-missing")

        # Installed, but for another copy of the extension (e.g. a store build with another id).
        other_copy = [f"chrome-extension://{'a' * 32}/"]
        write_host_manifest(browser.profile, write_launcher(browser.home), origins=other_copy)
        start_backup(popup)
        wait_error(popup, "helper-forbidden", 30)
        expect(command).to_have_text(f"mmtakeout install --extension-id {EXTENSION_ID}")
        screenshot(popup, "error-helper-forbidden")


def test_server_unreachable_for_the_helper(tmp_path: Path, serve: Serve, sandbox_setup: SandboxSetup) -> None:
    # The site answers the extension's ping, but every API call of the helper is cut off.
    def cut_off(info: RequestInfo) -> str | None:
        return None if info.route == "/api/v4/system/ping" else "reset"

    sandbox = serve(fault_hook=cut_off)
    with chromium(tmp_path) as browser:
        browser.log_in(sandbox.login_url, sandbox_setup.username, PASSWORD)
        popup = browser.popup(sandbox.url)
        start_backup(popup)
        wait_error(popup, "unreachable", 120)
        expect(popup.locator("#notice-title")).to_have_text(
            f"Can't reach {sandbox.url.removeprefix('http://')}"
        )
        screenshot(popup, "error-unreachable")


def test_disk_full(tmp_path: Path, serve: Serve, sandbox_setup: SandboxSetup, tiny_disk: Path) -> None:
    sandbox = serve()
    with chromium(tmp_path) as browser:
        config = browser.home / ".config" / "mmtakeout" / "native-host.json"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(json.dumps({"archive_root": str(tiny_disk)}))
        browser.log_in(sandbox.login_url, sandbox_setup.username, PASSWORD)
        popup = browser.popup(sandbox.url)
        start_backup(popup)
        wait_error(popup, "disk-full", 60)
        expect(popup.locator("#notice-title")).to_have_text("The disk is full")
        screenshot(popup, "error-disk-full")


def test_access_is_requested_for_this_site_from_the_click(tmp_path: Path, serve: Serve) -> None:
    """Without pre-granted access (the real extension): the click asks for exactly this site.

    Headless Chromium cannot answer the permission prompt, so the prompt's answer is scripted here.
    """
    sandbox = serve()
    extension = extension_copy(tmp_path / "extension", grant_loopback=False)
    with chromium(tmp_path, extension=extension) as browser:
        popup = browser.popup(f"{sandbox.url}/alpha/channels/town-square")
        expect(popup.locator("#check-mattermost")).to_have_attribute("data-state", "unknown")
        assert popup.evaluate("document.body.dataset.error") == ""
        popup.evaluate("""() => {
            window.__asked = [];
            chrome.permissions.request = (wanted) => {
                window.__asked.push(wanted);
                return Promise.resolve(false);
            };
        }""")
        start_backup(popup)
        wait_error(popup, "permission-denied")
        assert popup.evaluate("window.__asked") == [{"origins": ["http://127.0.0.1/*"]}]
        expect(popup.locator("#notice-title")).to_contain_text("was not allowed")
        screenshot(popup, "error-permission-denied")


def recording_opener(bin_dir: Path, record: Path) -> dict[str, str]:
    """The browser's environment with an `xdg-open` first on PATH that notes what it was asked to open."""
    bin_dir.mkdir()
    opener = bin_dir / "xdg-open"
    opener.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{record}"\n')
    opener.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def wait_until_file_lines(path: Path, count: int, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not (path.exists() and len(path.read_text().splitlines()) >= count):
        assert time.monotonic() < deadline, f"{path} did not get {count} lines"
        time.sleep(0.1)


class _PlainPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><title>Not Mattermost</title><body>Hello</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@contextmanager
def plain_website() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PlainPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
