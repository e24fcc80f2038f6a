"""Driving the real native host over real pipes, the way a browser does."""

from __future__ import annotations

import asyncio
import json
import os
import struct
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mmtakeout.nativehost.protocol import DEV_CHROMIUM_EXTENSION_ID, PROTOCOL_VERSION

CHROMIUM_ORIGIN = f"chrome-extension://{DEV_CHROMIUM_EXTENSION_ID}/"
FRAME_TIMEOUT_S = 20.0


def isolated_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The host's environment with every per-user folder inside `home` (never the real one)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("XDG_", "MMTAKEOUT_"))}
    env.pop("PYTHON_KEYRING_BACKEND", None)
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "XDG_CACHE_HOME": str(home / ".cache"),
        }
    )
    env.update(extra or {})
    return env


def frame(message: Any) -> bytes:
    payload = json.dumps(message).encode("utf-8")
    return struct.pack("=I", len(payload)) + payload


def start_message(
    server: str, token: str, *, job: str = "job-1", overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    parts = urlsplit(server)
    message: dict[str, Any] = {
        "v": PROTOCOL_VERSION,
        "type": "start",
        "job": job,
        "server": server,
        "cookie_site": f"{parts.scheme}://{parts.netloc}",
        "cookie_domain": parts.hostname,
        "cookie_secure": False,
        "token": token,
        "options": {"scope": "all", "include_files": True},
    }
    message.update(overrides or {})
    return message


class HostProcess:
    """`python -m mmtakeout native-host ARGS` with pipes for frames and a captured stderr."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        assert process.stdin is not None and process.stdout is not None
        self._stdin = process.stdin
        self._stdout = process.stdout

    @classmethod
    async def start(
        cls, home: Path, args: Sequence[str] = (CHROMIUM_ORIGIN,), env: Mapping[str, str] | None = None
    ) -> HostProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "mmtakeout",
            "native-host",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=isolated_env(home, env),
            cwd=str(home),
        )
        return cls(process)

    async def send(self, message: Any) -> None:
        await self.send_raw(frame(message))

    async def send_raw(self, data: bytes) -> None:
        self._stdin.write(data)
        await self._stdin.drain()

    async def close_input(self) -> None:
        self._stdin.close()

    async def receive(self, seconds: float = FRAME_TIMEOUT_S) -> dict[str, Any] | None:
        """The next frame, or None when the host closed its output."""
        try:
            header = await asyncio.wait_for(self._stdout.readexactly(4), seconds)
        except asyncio.IncompleteReadError as exc:
            assert exc.partial == b"", f"the host wrote {exc.partial!r}, which is not a frame"
            return None
        (length,) = struct.unpack("=I", header)
        assert length < 1024 * 1024, f"a frame of {length} bytes would break the browser's connection"
        payload = await asyncio.wait_for(self._stdout.readexactly(length), seconds)
        decoded = json.loads(payload)
        assert isinstance(decoded, dict)
        return decoded

    async def receive_until(
        self, *types: str, seconds: float = 120.0
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Frames up to and including the first of `types`; (that frame, the frames before it)."""
        seen: list[dict[str, Any]] = []
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            message = await self.receive(seconds=max(remaining, 0.1))
            assert message is not None, f"the host closed its output; frames so far: {seen[-3:]}"
            if message.get("type") in types:
                return message, seen
            seen.append(message)

    async def wait(self, seconds: float = 15.0) -> int:
        return await asyncio.wait_for(self.process.wait(), seconds)

    async def stderr_text(self) -> str:
        assert self.process.stderr is not None
        return (await asyncio.wait_for(self.process.stderr.read(), 10)).decode("utf-8", "replace")

    async def finish(self) -> tuple[int, str]:
        """Close the browser side and return (exit code, stderr)."""
        if not self._stdin.is_closing():
            self._stdin.close()
        code = await self.wait()
        return code, await self.stderr_text()

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
