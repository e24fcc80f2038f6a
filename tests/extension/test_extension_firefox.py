"""The same extension in headless Firefox ESR, driven over WebDriver BiDi, with the real native host."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest
from extension_browser import ARTIFACTS, NEW_SUMMARY, archive_dir, extension_copy, isolated_env

from conftest import Serve
from export_checks import assert_matches_world, query
from firefox_bidi import FIREFOX, firefox
from mmtakeout.nativehost import install, paths
from mmtakeout.nativehost.protocol import FIREFOX_ADDON_ID
from mmtakeout.sandbox.generator import PASSWORD, SandboxSetup

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.skipif(not Path(FIREFOX).exists(), reason="Debian's firefox-esr is not installed"),
]


def register_host_for_firefox(home: Path) -> Path:
    """What `mmtakeout install --browser firefox` writes, with the helper kept inside the test's home."""
    user = paths.UserEnvironment("linux", home, isolated_env(home))
    plan = install.plan_install(
        user,
        [install.browser_by_name("firefox")],
        python=sys.executable,
        config=paths.HostConfig(),
        launcher_environment=isolated_env(home),
    )
    install.apply_install(plan, None)
    return install.manifest_path(user, install.browser_by_name("firefox"))


async def test_one_click_backup_in_firefox(tmp_path: Path, serve: Serve, sandbox_setup: SandboxSetup) -> None:
    sandbox = serve(latency_ms=60)
    home = tmp_path / "home"
    home.mkdir()
    manifest = register_host_for_firefox(home)
    assert manifest == home / ".mozilla" / "native-messaging-hosts" / "org.mmtakeout.helper.json"
    extension = extension_copy(tmp_path / "extension")
    addon_uuid = str(uuid.uuid4())
    prefs = {"extensions.webextensions.uuids": json.dumps({FIREFOX_ADDON_ID: addon_uuid})}
    async with firefox(env=isolated_env(home), prefs=prefs) as browser:
        assert await browser.install_addon(extension) == FIREFOX_ADDON_ID

        tab = await browser.new_tab()
        await tab.navigate(f"{sandbox.login_url}?login_id={sandbox_setup.username}&password={PASSWORD}")
        assert await tab.evaluate("document.querySelector('#signed-in') !== null")

        popup = await browser.new_tab()
        await popup.set_viewport(360, 640)
        popup_url = f"moz-extension://{addon_uuid}/popup.html?target={sandbox.url}/"
        await popup.navigate(popup_url, wait="none")
        await popup.wait_until("document.body && document.body.dataset.view === 'idle'")
        assert await popup.evaluate("document.querySelector('#check-login').dataset.state") == "yes"
        await popup.screenshot(ARTIFACTS / "firefox-idle.png")

        await popup.click("#backup")
        await popup.wait_until("document.body.dataset.view === 'running'", 30)
        await popup.wait_until("Number(document.querySelector('#bar').ariaValueNow) > 5")
        await popup.screenshot(ARTIFACTS / "firefox-running.png")
        await popup.wait_until("document.body.dataset.view === 'done'", 120)
        assert await popup.evaluate("document.body.dataset.status") == "incomplete"
        await popup.screenshot(ARTIFACTS / "firefox-done.png")

        folder = archive_dir(home, sandbox.url)
        assert_matches_world(folder, sandbox_setup.world)
        posts = query(folder, "SELECT count(*) FROM posts")[0][0]
        assert await popup.evaluate("document.querySelector('#done-posts').textContent") == f"{posts:,}"
        stored = await popup.evaluate("browser.storage.session.get(null).then(JSON.stringify)")
        assert "MMAUTHTOKEN" not in stored

        # Firefox hands the helper the manifest path and the add-on id.
        log = (home / ".local" / "state" / "mmtakeout" / "native-host.log").read_text()
        assert f"started by firefox extension {FIREFOX_ADDON_ID}" in log

        requests_before = len(sandbox.requests)
        await popup.evaluate("document.body.dataset.status = 'previous run'")
        await popup.click("#again")
        await popup.wait_until(NEW_SUMMARY, 60)
        assert len(sandbox.requests) - requests_before < requests_before / 2
