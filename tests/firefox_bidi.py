"""Debian's Firefox ESR driven over WebDriver BiDi (its built-in remote protocol) on loopback.

Playwright drives only its own patched Firefox and Debian has no geckodriver, so this is a small BiDi
client of our own over aiohttp's websocket, shared by the viewer and the extension tests. `firefox()`
starts `firefox-esr --headless --remote-debugging-port=0` with a throwaway profile, reads the WebSocket
address Firefox announces on stderr and opens a session that records every network request and
console/CSP log entry, so tests can assert what their pages did. Tabs navigate, evaluate scripts, click
with trusted input and take screenshots; unpacked extensions install as temporary add-ons.

The profile sends every connection to a closed loopback port and turns off Firefox's own background
services, so nothing but loopback is ever contacted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

T = TypeVar("T")
FIREFOX = shutil.which("firefox-esr") or "/usr/bin/firefox-esr"
COMMAND_SECONDS = 30.0
STARTUP_SECONDS = 60.0
EXIT_SECONDS = 10.0
RECORDED_EVENTS = ["log.entryAdded", "network.beforeRequestSent"]
# Loopback only: everything else goes to a closed port on 127.0.0.1 (Firefox never proxies loopback
# itself), there is no DNS, and Firefox's own background services are off.
QUIET_PREFS: dict[str, bool | int | str] = {
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
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "network.http.speculative-parallel-limit": 0,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "services.settings.server": "http://127.0.0.1:9/",
    "security.OCSP.enabled": 0,
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
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.blocklist.enabled": False,
    "remote.prefs.recommended": True,
}
_LISTENING = re.compile(rb"WebDriver BiDi listening on (ws://\S+)")


def run_in_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """Runs a coroutine on its own event loop in a worker thread, so synchronous tests need no loop of
    their own (and Playwright's sync API in the same process cannot get in the way)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


class BidiError(Exception):
    """Firefox refused a command, a script threw, or the connection to Firefox closed."""


class Firefox:
    """One BiDi session: replies are matched to commands by id, events are recorded as they arrive
    (so by the time a command returns, every event Firefox sent before its reply is recorded)."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.requests: list[str] = []
        self.log: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self._socket:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                self._dispatch(json.loads(message.data))
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(BidiError("the connection to Firefox closed"))

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") == "event":
            params = message.get("params", {})
            if message.get("method") == "network.beforeRequestSent":
                self.requests.append(str(params.get("request", {}).get("url", "")))
            elif message.get("method") == "log.entryAdded":
                self.log.append(params)
            return
        future = self._pending.get(message.get("id", -1))
        if future is not None and not future.done():
            future.set_result(message)

    async def send(
        self, method: str, params: dict[str, Any], seconds: float = COMMAND_SECONDS
    ) -> dict[str, Any]:
        if self._reader.done():
            raise BidiError(f"{method}: the connection to Firefox closed")
        self._next_id += 1
        command_id = self._next_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[command_id] = future
        try:
            await self._socket.send_json({"id": command_id, "method": method, "params": params})
            reply = await asyncio.wait_for(future, seconds)
        finally:
            del self._pending[command_id]
        if reply.get("type") == "error":
            raise BidiError(f"{method}: {reply.get('error')}: {reply.get('message')}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def new_tab(self) -> Tab:
        created = await self.send("browsingContext.create", {"type": "tab"})
        return Tab(self, str(created["context"]))

    async def install_addon(self, folder: Path) -> str:
        """Installs an unpacked extension as a temporary add-on (unsigned is fine); returns its id."""
        source = {"type": "path", "path": str(folder)}
        installed = await self.send("webExtension.install", {"extensionData": source})
        return str(installed["extension"])

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@dataclass(frozen=True)
class Tab:
    """One browsing context of a session."""

    session: Firefox
    context: str

    async def navigate(self, url: str, *, wait: str = "complete") -> None:
        """`wait="none"` for moz-extension:// pages, whose navigation Firefox never reports complete."""
        params = {"context": self.context, "url": url, "wait": wait}
        await self.session.send("browsingContext.navigate", params)

    async def evaluate(self, expression: str) -> Any:
        """The expression's value (awaited if a promise) as plain Python: primitives, lists, dicts."""
        result = await self.session.send(
            "script.evaluate",
            {
                "expression": expression,
                "target": {"context": self.context},
                "awaitPromise": True,
                "resultOwnership": "none",
            },
        )
        if result.get("type") == "exception":
            raise BidiError(f"script failed: {result.get('exceptionDetails', {}).get('text')}")
        return _plain(result.get("result", {}))

    async def settle(self, seconds: float = 0.3) -> None:
        """Lets pending events (late requests, log entries) arrive."""
        await self.evaluate(f"new Promise((done) => setTimeout(() => done(true), {int(seconds * 1000)}))")

    async def wait_until(self, expression: str, seconds: float = 60.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not await self.evaluate(f"Boolean({expression})"):
            if loop.time() > deadline:
                state = await self.evaluate("JSON.stringify(document.body && document.body.dataset)")
                raise AssertionError(f"timed out waiting for {expression}; the page's body data is {state}")
            await asyncio.sleep(0.2)

    async def click(self, selector: str) -> None:
        """A trusted click (a user gesture, which permissions.request needs)."""
        x, y = await self.evaluate(
            f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        pointer = [
            {"type": "pointerMove", "x": round(x), "y": round(y)},
            {"type": "pointerDown", "button": 0},
            {"type": "pointerUp", "button": 0},
        ]
        mouse = {"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": pointer}
        await self.session.send("input.performActions", {"context": self.context, "actions": [mouse]})

    async def set_viewport(self, width: int, height: int) -> None:
        params = {"context": self.context, "viewport": {"width": width, "height": height}}
        await self.session.send("browsingContext.setViewport", params)

    async def screenshot(self, path: Path, *, whole_document: bool = True) -> None:
        """A PNG of the whole document (or just the viewport, for very long pages), written to `path`."""
        params = {"context": self.context, "origin": "document" if whole_document else "viewport"}
        shot = await self.session.send("browsingContext.captureScreenshot", params)
        await asyncio.to_thread(_write_file, path, base64.b64decode(shot["data"]))


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _plain(value: Mapping[str, Any]) -> Any:
    kind = value.get("type")
    if kind == "number" and isinstance(value.get("value"), str):
        return float(value["value"])  # NaN, -0, Infinity and -Infinity arrive as strings
    if kind in {"string", "number", "boolean"}:
        return value.get("value")
    if kind in {"undefined", "null"}:
        return None
    if kind == "array":
        return [_plain(item) for item in value.get("value", [])]
    if kind == "object":
        return {str(key): _plain(item) for key, item in value.get("value", [])}
    raise BidiError(f"unsupported result type {kind}: return plain values (or JSON.stringify) instead")


def _write_profile(profile: Path, prefs: Mapping[str, Any]) -> None:
    lines = [f"user_pref({json.dumps(name)}, {json.dumps(value)});" for name, value in prefs.items()]
    (profile / "user.js").write_text("\n".join(lines) + "\n", encoding="utf-8")


@contextlib.asynccontextmanager
async def firefox(
    *, env: Mapping[str, str] | None = None, prefs: Mapping[str, Any] | None = None
) -> AsyncIterator[Firefox]:
    """Headless Firefox ESR with a fresh profile (QUIET_PREFS plus `prefs`) and `env` added to ours.

    `--remote-allow-system-access` lets BiDi navigate to moz-extension:// pages.
    """
    with tempfile.TemporaryDirectory(prefix="mmt-firefox-", ignore_cleanup_errors=True) as profile:
        _write_profile(Path(profile), {**QUIET_PREFS, **(prefs or {})})
        process = await asyncio.create_subprocess_exec(
            FIREFOX,
            "--headless",
            "--no-remote",
            "--remote-debugging-port=0",
            "--remote-allow-system-access",
            "--profile",
            profile,
            "about:blank",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
        assert process.stderr is not None
        drain: asyncio.Task[None] | None = None
        try:
            address = await asyncio.wait_for(_announced_address(process.stderr), STARTUP_SECONDS)
            drain = asyncio.create_task(_drain(process.stderr))
            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(f"{address}/session", max_msg_size=64 * 1024 * 1024) as socket,
            ):
                session = Firefox(socket)
                try:
                    await session.send("session.new", {"capabilities": {}})
                    await session.send("session.subscribe", {"events": RECORDED_EVENTS})
                    yield session
                finally:
                    with contextlib.suppress(BidiError, TimeoutError, aiohttp.ClientError):
                        await session.send("browser.close", {}, seconds=EXIT_SECONDS)
                    await session.close()
        finally:
            await _stop(process)
            if drain is not None:
                drain.cancel()


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Gives Firefox time to finish closing (after `browser.close`), then makes sure it is gone."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), EXIT_SECONDS)
    if process.returncode is None:
        process.kill()
        await process.wait()


async def _announced_address(stream: asyncio.StreamReader) -> str:
    while True:
        line = await stream.readline()
        if not line:
            raise BidiError("Firefox exited before opening its WebDriver BiDi port")
        match = _LISTENING.search(line)
        if match:
            return match.group(1).decode().rstrip("/").removesuffix("/session")


async def _drain(stream: asyncio.StreamReader) -> None:
    """Keeps reading Firefox's stderr so a full pipe never blocks it."""
    while await stream.read(65536):
        pass
