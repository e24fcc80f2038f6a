"""The same extension in headless Firefox ESR, driven over WebDriver BiDi, with the real native host."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest
from extension_bidi import FIREFOX, firefox
from extension_browser import ARTIFACTS, NEW_SUMMARY, archive_dir, extension_copy, isolated_env

from conftest import Serve
from export_checks import assert_matches_world, query
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
    plan = install.plan_install(user, [install.browser_by_name("firefox")], python=sys.executable,
                                config=paths.HostConfig(), launcher_environment=isolated_env(home))
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
    async with firefox(tmp_path / "profile", isolated_env(home), prefs) as bidi:
        source = {"type": "path", "path": str(extension)}
        installed = await bidi.send("webExtension.install", {"extensionData": source})
        assert installed["extension"] == FIREFOX_ADDON_ID

        tab = await bidi.new_tab()
        await bidi.navigate(tab, f"{sandbox.login_url}?login_id={sandbox_setup.username}&password={PASSWORD}")
        assert await bidi.evaluate(tab, "document.querySelector('#signed-in') !== null")

        popup = await bidi.new_tab()
        viewport = {"width": 360, "height": 640}
        await bidi.send("browsingContext.setViewport", {"context": popup, "viewport": viewport})
        popup_url = f"moz-extension://{addon_uuid}/popup.html?target={sandbox.url}/"
        await bidi.navigate(popup, popup_url, wait="none")
        await bidi.wait_until(popup, "document.body && document.body.dataset.view === 'idle'")
        assert await bidi.evaluate(popup, "document.querySelector('#check-login').dataset.state") == "yes"
        await bidi.screenshot(popup, ARTIFACTS / "firefox-idle.png")

        await bidi.click(popup, "#backup")
        await bidi.wait_until(popup, "document.body.dataset.view === 'running'", 30)
        await bidi.wait_until(popup, "Number(document.querySelector('#bar').ariaValueNow) > 5")
        await bidi.screenshot(popup, ARTIFACTS / "firefox-running.png")
        await bidi.wait_until(popup, "document.body.dataset.view === 'done'", 120)
        assert await bidi.evaluate(popup, "document.body.dataset.status") == "incomplete"
        await bidi.screenshot(popup, ARTIFACTS / "firefox-done.png")

        folder = archive_dir(home, sandbox.url)
        assert_matches_world(folder, sandbox_setup.world)
        posts = query(folder, "SELECT count(*) FROM posts")[0][0]
        assert await bidi.evaluate(popup, "document.querySelector('#done-posts').textContent") == f"{posts:,}"
        stored = await bidi.evaluate(popup, "browser.storage.session.get(null).then(JSON.stringify)")
        assert "MMAUTHTOKEN" not in stored

        # Firefox hands the helper the manifest path and the add-on id.
        log = (home / ".local" / "state" / "mmtakeout" / "native-host.log").read_text()
        assert f"started by firefox extension {FIREFOX_ADDON_ID}" in log

        requests_before = len(sandbox.requests)
        await bidi.evaluate(popup, "document.body.dataset.status = 'previous run'")
        await bidi.click(popup, "#again")
        await bidi.wait_until(popup, NEW_SUMMARY, 60)
        assert len(sandbox.requests) - requests_before < requests_before / 2
