"""A small WebDriver BiDi client (aiohttp websocket) for driving headless Firefox ESR in tests.

Only what the extension tests need: start Firefox with a private profile, install the unpacked
extension as a temporary add-on, open pages, evaluate scripts, click with trusted input and take
screenshots. Firefox is started with `--remote-debugging-port=0` and announces its WebSocket address
on stderr.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp

FIREFOX = shutil.which("firefox-esr") or "/usr/bin/firefox-esr"
_LISTENING = re.compile(rb"WebDriver BiDi listening on (ws://\S+)")


class BiDiError(Exception):
    pass


class BiDi:
    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self._socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            future = self._pending.pop(data.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(data)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(BiDiError("the connection to Firefox closed"))

    async def send(self, method: str, params: Mapping[str, Any], seconds: float = 30.0) -> dict[str, Any]:
        self._next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = future
        await self._socket.send_str(json.dumps({"id": self._next_id, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, seconds)
        if reply.get("type") == "error":
            raise BiDiError(f"{method}: {reply.get('error')}: {reply.get('message')}")
        result: dict[str, Any] = reply["result"]
        return result

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._socket.close()

    # ------------------------------------------------------------------ helpers

    async def new_tab(self) -> str:
        return str((await self.send("browsingContext.create", {"type": "tab"}))["context"])

    async def navigate(self, context: str, url: str, *, wait: str = "complete") -> None:
        await self.send("browsingContext.navigate", {"context": context, "url": url, "wait": wait})

    async def evaluate(self, context: str, expression: str) -> Any:
        result = await self.send("script.evaluate", {
            "expression": expression, "target": {"context": context}, "awaitPromise": True,
            "resultOwnership": "none",
        })
        if result.get("type") == "exception":
            raise BiDiError(f"script failed: {result['exceptionDetails'].get('text')}")
        return _plain(result["result"])

    async def click(self, context: str, selector: str) -> None:
        """A trusted click (a user gesture, which permissions.request needs)."""
        box = await self.evaluate(context, f"""(() => {{
            const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();
            return JSON.stringify([r.x + r.width / 2, r.y + r.height / 2]);
        }})()""")
        x, y = json.loads(box)
        await self.send("input.performActions", {"context": context, "actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [
                {"type": "pointerMove", "x": round(x), "y": round(y)},
                {"type": "pointerDown", "button": 0},
                {"type": "pointerUp", "button": 0},
            ],
        }]})

    async def screenshot(self, context: str, path: Path) -> None:
        params = {"context": context, "origin": "document"}
        shot = await self.send("browsingContext.captureScreenshot", params)
        await asyncio.to_thread(_write_file, path, base64.b64decode(shot["data"]))

    async def wait_until(self, context: str, expression: str, seconds: float = 60.0) -> None:
        deadline = asyncio.get_running_loop().time() + seconds
        while not await self.evaluate(context, f"Boolean({expression})"):
            if asyncio.get_running_loop().time() > deadline:
                state = await self.evaluate(context, "JSON.stringify(document.body.dataset)")
                raise AssertionError(f"timed out waiting for {expression}; popup is {state}")
            await asyncio.sleep(0.2)


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _plain(value: Mapping[str, Any]) -> Any:
    kind = value.get("type")
    if kind in {"string", "number", "boolean"}:
        return value.get("value")
    if kind in {"undefined", "null"}:
        return None
    raise BiDiError(f"unsupported result type {kind}: return strings (JSON.stringify) instead")


def write_profile(profile: Path, prefs: Mapping[str, Any]) -> None:
    profile.mkdir(parents=True, exist_ok=True)
    lines = [f"user_pref({json.dumps(name)}, {json.dumps(value)});" for name, value in prefs.items()]
    (profile / "user.js").write_text("\n".join(lines) + "\n", encoding="utf-8")


# Loopback only: everything else goes to a closed port on 127.0.0.1 (Firefox never proxies loopback
# itself), and Firefox's own background services are off.
QUIET_PREFS = {
    "network.proxy.type": 1,
    "network.proxy.http": "127.0.0.1",
    "network.proxy.http_port": 9,
    "network.proxy.ssl": "127.0.0.1",
    "network.proxy.ssl_port": 9,
    "network.proxy.socks": "127.0.0.1",
    "network.proxy.socks_port": 9,
    "network.proxy.socks_remote_dns": True,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "network.http.speculative-parallel-limit": 0,
    "services.settings.server": "http://127.0.0.1:9/",
    "app.normandy.enabled": False,
    "extensions.blocklist.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "browser.search.update": False,
    "browser.region.update.enabled": False,
    "toolkit.telemetry.enabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "security.OCSP.enabled": 0,
    "app.update.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.update.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.startup.page": 0,
}


@asynccontextmanager
async def firefox(profile: Path, env: Mapping[str, str], prefs: Mapping[str, Any]) -> AsyncIterator[BiDi]:
    write_profile(profile, {**QUIET_PREFS, **prefs})
    process = await asyncio.create_subprocess_exec(
        FIREFOX, "--headless", "--no-remote", "--remote-debugging-port=0", "--remote-allow-system-access",
        "--profile", str(profile), "about:blank",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    assert process.stderr is not None
    try:
        address = await asyncio.wait_for(_announced_address(process.stderr), 60)
        drain = asyncio.ensure_future(_drain(process.stderr))
        async with aiohttp.ClientSession() as http:
            socket = await http.ws_connect(f"{address}/session", max_msg_size=64 * 1024 * 1024)
            bidi = BiDi(socket)
            try:
                await bidi.send("session.new", {"capabilities": {}})
                yield bidi
            finally:
                with contextlib.suppress(Exception):
                    await bidi.send("browser.close", {}, seconds=10)
                await bidi.close()
        drain.cancel()
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def _announced_address(stream: asyncio.StreamReader) -> str:
    while True:
        line = await stream.readline()
        if not line:
            raise BiDiError("Firefox exited before opening its WebDriver BiDi port")
        match = _LISTENING.search(line)
        if match:
            return match.group(1).decode().rstrip("/").removesuffix("/session")


async def _drain(stream: asyncio.StreamReader) -> None:
    """Keep reading Firefox's stderr so a full pipe never blocks it."""
    while await stream.read(65536):
        pass
