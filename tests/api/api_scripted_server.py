"""A loopback HTTP server whose answers are scripted request by request.

For protocol edge cases the sandbox does not produce on demand: exact sequences of 429s with given
headers, 503 with Retry-After, truncated bodies, dropped connections, 401 in the middle of a run.
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
import struct
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy, MultiMapping

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

TOKEN = "mmtk-test-token-7f3a9c1e5b"


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    query: MultiMapping[str]
    headers: CIMultiDictProxy[str]
    body: bytes
    at: float


class ScriptedServer:
    """Answers each path from its script (one handler per request), then from its fallback."""

    def __init__(self) -> None:
        self._scripts: dict[str, deque[Handler]] = defaultdict(deque)
        self._fallbacks: dict[str, Handler] = {}
        self.requests: list[SeenRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    def script(self, path: str, *handlers: Handler) -> None:
        self._scripts[path].extend(handlers)

    def always(self, path: str, handler: Handler) -> None:
        self._fallbacks[path] = handler

    def requests_to(self, path: str) -> list[SeenRequest]:
        return [seen for seen in self.requests if seen.path == path]

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            SeenRequest(request.method, request.path, request.query, request.headers, body, time.monotonic())
        )
        script = self._scripts.get(request.path)
        handler = script.popleft() if script else self._fallbacks.get(request.path)
        if handler is None:
            return error(404, "api.context.404.app_error")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(data, status=status, headers=headers)

    return handler


def error(status: int, error_id: str, message: str = "Something went wrong.") -> web.Response:
    body = {
        "id": error_id,
        "message": message,
        "detailed_error": "",
        "request_id": "req123",
        "status_code": status,
    }
    return web.json_response(body, status=status)


def error_reply(
    status: int, error_id: str, message: str = "Something went wrong.", **headers: str
) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = error(status, error_id, message)
        response.headers.update(headers)
        return response

    return handler


def rate_limited(retry_after: str | None = "1", **headers: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.Response(status=429, text="limit exceeded\n")
        if retry_after is not None:
            response.headers["Retry-After"] = retry_after
        response.headers.update({name.replace("_", "-"): value for name, value in headers.items()})
        return response

    return handler


def raw_reply(
    body: bytes, status: int = 200, content_type: str = "application/json", **headers: str
) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.Response(status=status, body=body, content_type=None, headers=headers)
        response.headers["Content-Type"] = content_type
        return response

    return handler


def truncated_reply(body: bytes, keep: int, **headers: str) -> Handler:
    """Announces the full length, sends `keep` bytes, then drops the connection."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Length": str(len(body)), **headers})
        await response.prepare(request)
        await response.write(body[:keep])
        await asyncio.sleep(0.01)
        _abort(request)
        return response

    return handler


def dropped_connection() -> Handler:
    """Resets the TCP connection (RST) before sending anything."""

    async def handler(request: web.Request) -> web.StreamResponse:
        _abort(request)
        return web.Response(status=200)

    return handler


def slow_reply(data: Any, delay: float) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(delay)
        return web.json_response(data)

    return handler


def _abort(request: web.Request) -> None:
    transport = request.transport
    assert transport is not None
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def body_of(data: Any) -> bytes:
    return json.dumps(data).encode()


def assert_token_hidden(*objects: object) -> None:
    """The token must appear in no str/repr of the objects, nor of exceptions they were raised from."""
    pending = list(objects)
    seen: set[int] = set()
    while pending:
        item = pending.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        assert TOKEN not in str(item)
        assert TOKEN not in repr(item)
        if isinstance(item, BaseException):
            pending.extend([item.__cause__, item.__context__, *item.args])


class TokenBucket:
    """Mattermost's limiter (GCRA as in the `throttled` library), with its header semantics."""

    def __init__(self, rate: float, burst: int) -> None:
        self.interval = 1.0 / rate
        self.tolerance = self.interval * (burst + 1)
        self.limit = burst + 1
        self.tat = 0.0

    def take(self, now: float) -> tuple[bool, dict[str, str]]:
        """(allowed, rate-limit headers) for a request arriving at `now`."""
        tat = max(self.tat, now)
        new_tat = tat + self.interval
        diff = now - (new_tat - self.tolerance)
        if diff < -1e-9:
            allowed, ttl = False, tat - now
        else:
            allowed, ttl = True, new_tat - now
            self.tat = new_tat
        spare = self.tolerance - ttl
        remaining = max(int(spare / self.interval), 0) if spare > -self.interval else 0
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(math.ceil(ttl)),
        }
        if not allowed:
            headers["Retry-After"] = str(math.ceil(-diff))
        return allowed, headers


def bucket_limited(bucket: TokenBucket, data: Any) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        allowed, headers = bucket.take(time.monotonic())
        if not allowed:
            return web.Response(status=429, text="limit exceeded\n", headers=headers)
        return web.json_response(data, headers=headers)

    return handler
