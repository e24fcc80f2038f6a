"""Debian's Firefox ESR driven over WebDriver BiDi (its built-in remote protocol) on loopback.

Playwright only drives its own patched Firefox, so this is a small BiDi client of our own: it starts
`firefox-esr --headless --remote-debugging-port=0` with a throwaway profile, reads the WebSocket
address Firefox prints, and sends `browsingContext.navigate` / `script.evaluate` commands while
recording network requests and console/CSP log entries of the page.

The profile sends every connection to a closed loopback port and turns off Firefox's own background
services, so nothing but loopback is ever contacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

T = TypeVar("T")
FIREFOX = shutil.which("firefox-esr") or "/usr/bin/firefox-esr"
PREFS = {
    "network.proxy.type": 1,
    "network.proxy.http": "127.0.0.1",
    "network.proxy.http_port": 9,
    "network.proxy.ssl": "127.0.0.1",
    "network.proxy.ssl_port": 9,
    "network.proxy.socks": "127.0.0.1",
    "network.proxy.socks_port": 9,
    "network.proxy.socks_remote_dns": True,
    "network.proxy.no_proxies_on": "",
    "network.dns.disabled": True,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.prefetch-next": False,
    "network.dns.disablePrefetch": True,
    "network.http.speculative-parallel-limit": 0,
    "app.update.auto": False,
    "app.update.enabled": False,
    "app.normandy.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "browser.search.update": False,
    "browser.region.update.enabled": False,
    "browser.region.network.url": "",
    "browser.newtabpage.enabled": False,
    "browser.startup.homepage": "about:blank",
    "browser.startup.page": 0,
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.blocklist.enabled": False,
    "services.settings.server": "http://127.0.0.1:9/",
    "security.OCSP.enabled": 0,
    "remote.prefs.recommended": True,
}
_LISTENING = re.compile(r"WebDriver BiDi listening on (ws://[^\s]+)")


def run_in_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine on its own event loop in a worker thread, so callers need no loop of their own
    (and Playwright's sync API in the same process cannot get in the way)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class BidiError(Exception):
    """Firefox answered a command with an error."""


@dataclass
class FirefoxPage:
    """One browsing context plus everything it was seen doing."""

    socket: aiohttp.ClientWebSocketResponse
    context: str = ""
    requests: list[str] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)
    _next_id: int = 0

    async def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        command_id = self._next_id
        await self.socket.send_json({"id": command_id, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self.socket.receive_json(), timeout=30)
            if message.get("type") == "event":
                self._record(message)
            elif message.get("id") == command_id:
                if message.get("type") == "error":
                    raise BidiError(f"{method}: {message.get('error')}: {message.get('message')}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def _record(self, event: dict[str, Any]) -> None:
        params = event.get("params", {})
        if event.get("method") == "network.beforeRequestSent":
            self.requests.append(str(params.get("request", {}).get("url", "")))
        elif event.get("method") == "log.entryAdded":
            self.log.append(params)

    async def goto(self, url: str) -> None:
        await self.call("browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"})

    async def evaluate(self, expression: str) -> Any:
        result = await self.call(
            "script.evaluate",
            {
                "expression": expression,
                "target": {"context": self.context},
                "awaitPromise": True,
                "resultOwnership": "none",
            },
        )
        if result.get("type") == "exception":
            raise BidiError(str(result.get("exceptionDetails", {}).get("text")))
        return _unwrap(result.get("result", {}))

    async def settle(self, seconds: float = 0.3) -> None:
        """Lets pending events (late requests, log entries) arrive."""
        await self.evaluate(f"new Promise((done) => setTimeout(() => done(true), {int(seconds * 1000)}))")


def _unwrap(value: dict[str, Any]) -> Any:
    kind = value.get("type")
    if kind in ("string", "number", "boolean"):
        return value.get("value")
    if kind in ("undefined", "null"):
        return None
    if kind == "array":
        return [_unwrap(item) for item in value.get("value", [])]
    if kind == "object":
        return {str(key): _unwrap(item) for key, item in value.get("value", [])}
    return value


def _write_profile(directory: Path) -> None:
    lines = []
    for name, value in PREFS.items():
        literal = (
            ("true" if value else "false")
            if isinstance(value, bool)
            else (str(value) if isinstance(value, int) else f'"{value}"')
        )
        lines.append(f'user_pref("{name}", {literal});')
    (directory / "user.js").write_text("\n".join(lines) + "\n", encoding="utf-8")


@contextlib.asynccontextmanager
async def firefox_page() -> AsyncIterator[FirefoxPage]:
    profile = Path(tempfile.mkdtemp(prefix="mmt-firefox-"))
    _write_profile(profile)
    process = await asyncio.create_subprocess_exec(
        FIREFOX,
        "--headless",
        "--no-remote",
        "--profile",
        str(profile),
        "--remote-debugging-port=0",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        address = await asyncio.wait_for(_listening_address(process), timeout=60)
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{address}/session", max_msg_size=64 * 1024 * 1024) as socket,
        ):
            page = FirefoxPage(socket)
            await page.call("session.new", {"capabilities": {}})
            await page.call("session.subscribe", {"events": ["log.entryAdded", "network.beforeRequestSent"]})
            tree = await page.call("browsingContext.getTree", {})
            page.context = tree["contexts"][0]["context"]
            try:
                yield page
            finally:
                with contextlib.suppress(Exception):
                    await page.call("session.end", {})
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=20)
            except TimeoutError:
                process.kill()
                await process.wait()
        shutil.rmtree(profile, ignore_errors=True)


async def _listening_address(process: asyncio.subprocess.Process) -> str:
    assert process.stderr is not None
    while True:
        line = await process.stderr.readline()
        if not line:
            raise BidiError("Firefox exited before its remote protocol started")
        match = _LISTENING.search(line.decode("utf-8", "replace"))
        if match:
            asyncio.get_running_loop().create_task(_drain(process.stderr))
            return match.group(1).rstrip("/")


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass
