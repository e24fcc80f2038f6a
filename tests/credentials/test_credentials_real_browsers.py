"""Cookie stores written by the real browsers (Debian's Firefox ESR and Chromium) after logging in to the
sandbox's login page, read back by `--browser`; then the whole flow (export, login, sync) with it."""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
from credentials_stores import CHROMIUM_SCHEMA, FIREFOX_SCHEMA

from chromium_browser import CHROMIUM, CHROMIUM_ARGS
from memory_keyring import MemoryKeyring
from mmtakeout.cli import main
from mmtakeout.credentials import CredentialError, ServerAddress
from mmtakeout.credentials.browsers import Environment, firefox_profiles, ranked_tokens
from mmtakeout.credentials.sqlite_snapshot import open_snapshot
from mmtakeout.sandbox.generator import SandboxSetup, generate_world
from mmtakeout.sandbox.server import RunningSandbox, start_sandbox_thread

pytestmark = pytest.mark.browser

FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox")


@pytest.fixture(scope="module")
def world_setup() -> SandboxSetup:
    return generate_world(seed=31, posts=60, unknown_channel_type=False)


@pytest.fixture(scope="module")
def running(world_setup: SandboxSetup) -> Iterator[RunningSandbox]:
    server = start_sandbox_thread(world_setup.world)
    try:
        yield server
    finally:
        server.stop()


def login_url(server: RunningSandbox, setup: SandboxSetup) -> str:
    return f"{server.login_url}?{urlencode({'login_id': setup.username, 'password': setup.password})}"


def browser_sessions(setup: SandboxSetup, before: set[str]) -> list[str]:
    """Sessions the sandbox issued to the user after `before` was taken: the browser's login."""
    world = setup.world
    return [
        token
        for token, session in world.sessions.items()
        if token not in before and session.user_id == setup.user_id
    ]


def env(home: Path) -> Environment:
    return Environment(home=home, environ={}, platform="linux", now=datetime.now(UTC))


def schema(path: Path) -> list[str]:
    return sorted(
        " ".join(row[0].split())
        for row in open_snapshot(path).execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")
    )


@pytest.fixture(scope="module")
def chromium_profile(
    tmp_path_factory: pytest.TempPathFactory, running: RunningSandbox, world_setup: SandboxSetup
) -> tuple[Path, str]:
    """Log in once with headless Chromium and close it cleanly: its profile folder and the session token."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    before = set(world_setup.world.sessions)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        page = context.new_page()
        page.goto(login_url(running, world_setup))
        assert "/login" not in page.url
        context.close()
    (token,) = browser_sessions(world_setup, before)
    return profile, token


@pytest.fixture
def chromium_login(chromium_profile: tuple[Path, str], private_home: Path) -> str:
    """The Chromium-written profile at its usual place in this test's home (~/.config/chromium)."""
    profile, token = chromium_profile
    shutil.copytree(profile, private_home / ".config" / "chromium")
    return token


def test_chromium_profile_written_by_chromium(
    chromium_login: str, private_home: Path, running: RunningSandbox, no_session_bus: None
) -> None:
    cookies = private_home / ".config" / "chromium" / "Default" / "Cookies"
    assert schema(cookies) == sorted(" ".join(statement.split()) for statement in CHROMIUM_SCHEMA)
    found = ranked_tokens(ServerAddress.parse(running.url), "chromium", env(private_home))
    assert [(item.token, item.source) for item in found] == [
        (chromium_login, "Chromium (profile 'Your Chromium' (Default))")
    ]
    with pytest.raises(Exception, match="no MMAUTHTOKEN cookie for this server"):
        ranked_tokens(
            ServerAddress.parse(running.url.replace("127.0.0.1", "localhost")), "chromium", env(private_home)
        )


def test_chromium_profile_through_browser_cookie3_with_a_session_bus(
    chromium_login: str, private_home: Path, running: RunningSandbox, session_bus: str
) -> None:
    found = ranked_tokens(ServerAddress.parse(running.url), "auto", env(private_home))
    assert [item.token for item in found] == [chromium_login]


def test_mattermost_desktop_app_layout_with_a_chromium_written_store(
    chromium_login: str, private_home: Path, running: RunningSandbox, no_session_bus: None
) -> None:
    app_dir = private_home / ".config" / "Mattermost"
    (app_dir / "Network").mkdir(parents=True)
    shutil.copyfile(
        private_home / ".config" / "chromium" / "Default" / "Cookies", app_dir / "Network" / "Cookies"
    )
    shutil.rmtree(private_home / ".config" / "chromium")
    (app_dir / "config.json").write_text(
        json.dumps({"version": 4, "servers": [{"name": "Sandbox", "url": running.url + "/", "order": 0}]})
    )
    found = ranked_tokens(ServerAddress.parse(running.url), "auto", env(private_home))
    assert [(item.token, item.source) for item in found] == [
        (chromium_login, "the Mattermost desktop app (Network/Cookies)")
    ]
    exported = private_home / "from-the-app"
    assert (
        main(["export", running.url, "--browser", "auto", "--out", str(exported), "--no-files", "--quiet"])
        == 0
    )
    assert (exported / "archive.sqlite").is_file()


def test_one_export_command_with_the_browser_login_then_login_and_sync(
    chromium_login: str,
    private_home: Path,
    running: RunningSandbox,
    world_setup: SandboxSetup,
    memory_keyring: MemoryKeyring,
    no_session_bus: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    exported = private_home / "exported"
    assert (
        main(["export", running.url, "--browser", "auto", "--out", str(exported), "--no-files", "--quiet"])
        == 0
    )
    assert (exported / "archive.sqlite").is_file()

    kept = private_home / "kept"
    assert main(["login", running.url, "--browser", "auto", "--out", str(kept), "--no-files"]) == 0
    assert "(login taken from Chromium (profile 'Your Chromium' (Default)))" in capsys.readouterr().out
    assert memory_keyring.secrets == {("mmtakeout", running.url): chromium_login}
    assert main(["sync", "--quiet"]) == 0
    with sqlite3.connect(f"{(kept / 'archive.sqlite').as_uri()}?mode=ro", uri=True) as db:
        assert db.execute("SELECT count(*) FROM posts").fetchone()[0] > 30


def test_firefox_profile_written_by_firefox(
    private_home: Path, running: RunningSandbox, world_setup: SandboxSetup, tmp_path: Path
) -> None:
    if FIREFOX is None:
        pytest.skip("Firefox ESR is not installed")
    before = set(world_setup.world.sessions)
    server = ServerAddress.parse(running.url)
    firefox = subprocess.Popen(
        [FIREFOX, "--headless", "--no-remote", login_url(running, world_setup)],
        env={"HOME": str(private_home), "PATH": "/usr/bin:/bin", "MOZ_CRASHREPORTER_DISABLE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        found_while_running = []
        deadline = time.monotonic() + 60
        while not found_while_running and time.monotonic() < deadline and firefox.poll() is None:
            time.sleep(0.25)
            with contextlib.suppress(CredentialError):
                found_while_running = ranked_tokens(server, "firefox", env(private_home))
        assert firefox.poll() is None, "Firefox stopped before writing its cookies"
    finally:
        firefox.send_signal(signal.SIGTERM)
        try:
            firefox.wait(timeout=30)
        except subprocess.TimeoutExpired:
            firefox.kill()
            firefox.wait()
    (token,) = browser_sessions(world_setup, before)
    assert [item.token for item in found_while_running] == [token]

    (profile,) = [
        p for root in (private_home / ".config" / "mozilla" / "firefox",) for p in firefox_profiles(root)
    ]
    assert schema(profile.cookie_file) == [" ".join(FIREFOX_SCHEMA.split())]
    after_exit = ranked_tokens(server, "auto", env(private_home))
    assert [(item.token, item.source.startswith("Firefox (profile")) for item in after_exit] == [
        (token, True)
    ]
    exported = private_home / "from-firefox"
    assert (
        main(["export", running.url, "--browser", "firefox", "--out", str(exported), "--no-files", "--quiet"])
        == 0
    )
    assert (exported / "archive.sqlite").is_file()
