"""`mmtakeout sandbox` as a real process, and the login page in a real headless Chromium."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import raw_http

from chromium_browser import CHROMIUM
from mmtakeout.sandbox.generator import PASSWORD, generate_world
from mmtakeout.sandbox.server import start_sandbox_thread


def wait_for(path: Path, process: subprocess.Popen[str], seconds: float = 30) -> dict[str, str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            details: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
            return details
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError("the sandbox never wrote its ready file")


def test_cli_serves_until_terminated(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    command = [
        sys.executable,
        "-m",
        "mmtakeout",
        "sandbox",
        "--posts",
        "150",
        "--seed",
        "4",
        "--ready-file",
        str(ready),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        details = wait_for(ready, process)
        assert set(details) == {"url", "login_url", "token", "user_id", "username", "password"}
        assert (
            details["url"].startswith("http://127.0.0.1:")
            and details["login_url"] == details["url"] + "/login"
        )
        status, body = raw_http.get(details["url"] + "/api/v4/users/me", details["token"])
        assert status == 200 and isinstance(body, bytes)
        assert json.loads(body)["id"] == details["user_id"] == generate_world(seed=4, posts=150).user_id
        assert (ready.stat().st_mode & 0o777) == 0o600
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert details["url"] in out and details["token"] in out


def test_cli_refuses_non_loopback_hosts() -> None:
    command = [sys.executable, "-m", "mmtakeout", "sandbox", "--host", "0.0.0.0", "--posts", "10"]  # noqa: S104
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2 and "loopback" in result.stderr


@pytest.mark.browser
def test_a_real_browser_logs_in_and_holds_the_http_only_cookie() -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    setup = generate_world(seed=6, posts=100)
    running = start_sandbox_thread(setup.world)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.goto(running.login_url)
                page.fill("input[name=login_id]", "alice")
                page.fill("input[name=password]", PASSWORD)
                page.click("#saveSetting")
                page.wait_for_url("**/alpha/channels/town-square")
                assert page.locator('meta[name="application-name"]').get_attribute("content") == "Mattermost"
                assert "@alice" in page.inner_text("#signed-in")
                cookies = {c["name"]: c for c in page.context.cookies()}
                token = cookies["MMAUTHTOKEN"]
                assert token["httpOnly"] is True and token["path"] == "/"
                session = setup.world.session(token["value"])
                assert session is not None and session.user_id == setup.user_id
                visible = page.evaluate("document.cookie")
                assert "MMAUTHTOKEN" not in visible and "MMCSRF=" in visible and "MMUSERID=" in visible
                ping = page.evaluate("fetch('/api/v4/users/me').then(r => r.json())")
                assert ping["username"] == "alice"
            finally:
                browser.close()
    finally:
        running.stop()
