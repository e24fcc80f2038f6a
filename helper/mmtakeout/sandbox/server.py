"""The sandbox HTTP server: an aiohttp app that answers like a Mattermost server's API v4.

One catch-all aiohttp route feeds `_dispatch`, which merges double slashes, rate-limits, adds latency,
injects faults, authenticates like the server and calls the endpoint handler from `handlers.ROUTES`.
Run it with `running_sandbox` (async context manager) or `start_sandbox_thread` (for synchronous tests).
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import re
import socket
import struct
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from aiohttp import web

from mmtakeout.sandbox.auth import FoundToken, clear_session_cookies, csrf_ok, find_token
from mmtakeout.sandbox.bulk_import import handle_import_request
from mmtakeout.sandbox.context import Ctx, RequestRecord, Route, SandboxConfig, ServerState
from mmtakeout.sandbox.faults import FaultInjector, FaultKind, RateLimiter, RequestInfo
from mmtakeout.sandbox.handlers import ROUTES
from mmtakeout.sandbox.ids import new_id
from mmtakeout.sandbox.login import app_shell, login_page, root_page
from mmtakeout.sandbox.responses import ApiError, json_response, session_expired
from mmtakeout.sandbox.world import Session, World

__all__ = [
    "RequestRecord",
    "RunningSandbox",
    "SandboxConfig",
    "api_routes",
    "create_app",
    "running_sandbox",
    "start_sandbox_thread",
]

T = TypeVar("T")

STATE_KEY = web.AppKey("sandbox_state", ServerState)
_HEADERS_KEY = web.RequestKey("sandbox_headers", dict[str, str])
_ROUTE_KEY = web.RequestKey("sandbox_route", str)
_RESET_STATUS = 0
_ID_PARAM = "[A-Za-z0-9]+"
_EMOJI_NAME_PARAM = r"[A-Za-z0-9_+\-]+"
_SECRET_QUERY_NAMES = frozenset({"access_token", "token", "password"})


@dataclass(frozen=True, slots=True)
class _CompiledRoute:
    route: Route
    pattern: re.Pattern[str]


def _compile(template: str) -> re.Pattern[str]:
    pieces = []
    for part in template.strip("/").split("/"):
        if part.startswith("{"):
            name = part[1:-1]
            pieces.append(f"(?P<{name}>{_EMOJI_NAME_PARAM if name == 'emoji_name' else _ID_PARAM})")
        else:
            pieces.append(re.escape(part))
    return re.compile("^/" + "/".join(pieces) + "$")


_COMPILED = tuple(_CompiledRoute(route, _compile(route.template)) for route in ROUTES)


def api_routes() -> list[tuple[str, str]]:
    """(method, path template) of every implemented API route, e.g. for checking them against the spec."""
    return [(route.method, route.template) for route in ROUTES]


def _match(method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """The route for method + path, its parameters, and whether the path exists for another method."""
    path_exists = False
    for compiled in _COMPILED:
        found = compiled.pattern.match(path)
        if found is None:
            continue
        if compiled.route.method == method:
            return compiled.route, found.groupdict(), True
        path_exists = True
    return None, {}, path_exists


def _merge_slashes(path: str) -> str:
    return re.sub("/{2,}", "/", path)


def _reset_connection(request: web.Request) -> None:
    """Drop the TCP connection with an RST, no response at all."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _truncated(request: web.Request, response: web.Response) -> web.StreamResponse:
    """Announce the full Content-Length, send half the body, then cut the connection."""
    body = response.body if isinstance(response.body, bytes) else b""
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    stream.content_length = len(body)
    await stream.prepare(request)
    await stream.write(body[: len(body) // 2])
    _reset_connection(request)
    return stream


def _proxy_error(status: int, retry_after: int | None) -> web.Response:
    """What a reverse proxy in front of the server sends: a small HTML page, not JSON."""
    reason = {502: "Bad Gateway", 503: "Service Temporarily Unavailable"}[status]
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    page = (
        f"<html><head><title>{status} {reason}</title></head><body><h1>{status} {reason}</h1></body></html>\n"
    )
    return web.Response(status=status, text=page, content_type="text/html", headers=headers)


def _session_for(state: ServerState, found: FoundToken) -> Session | None:
    if found.location in ("none", "query") or not found.token:
        return None
    session = state.world.session(found.token)
    if session is None or session.is_expired(state.world.now()):
        return None
    return session


async def _api(
    request: web.Request, state: ServerState, path: str, found: FoundToken, request_id: str
) -> web.StreamResponse:
    config = state.config
    headers: dict[str, str] = request[_HEADERS_KEY]
    if state.limiter is not None:
        key = found.token if config.rate_limit_by_token and found.token else (request.remote or "")
        decision = state.limiter.check(key)
        headers.update(decision.headers())
        if not decision.allowed:
            return web.Response(status=429, text="limit exceeded\n", content_type="text/plain")
    route, params, path_exists = _match(request.method, path)
    if route is None:
        if path_exists:
            return web.Response(status=405)
        raise ApiError(404, "api.context.404.app_error")
    request[_ROUTE_KEY] = route.template
    if config.latency_ms > 0:
        await asyncio.sleep(config.latency_ms / 1000)
    fault: FaultKind | None = None
    if route.template not in ("/api/v4/users/login", "/api/v4/users/logout") or config.faults_on_login:
        fault = state.faults.decide(RequestInfo(request.method, path, route.template, state.sequence))
    if fault == "500":
        raise ApiError(500, "app.sandbox.injected_fault.app_error")
    if fault in ("502", "503"):
        retry_after = state.faults.retry_after_for_503() if fault == "503" else None
        return _proxy_error(int(fault), retry_after)
    if fault == "reset":
        _reset_connection(request)
        return web.Response(status=_RESET_STATUS)
    session = _session_for(state, found)
    if route.auth == "session":
        if found.location == "query":
            raise ApiError(401, "api.context.token_provided.app_error")
        if session is None:
            raise session_expired()
        cookie_write = found.location == "cookie" and route.csrf and request.method != "GET"
        if cookie_write and not csrf_ok(request, session, strict=config.strict_csrf):
            raise session_expired()
    ctx = Ctx(request, params, state, session, request_id, truncate_stream=fault == "truncate")
    response = await route.handler(ctx)
    if fault == "truncate" and isinstance(response, web.Response) and not response.prepared:
        return await _truncated(request, response)
    return response


async def _web_page(request: web.Request, state: ServerState, path: str) -> web.StreamResponse:
    if path == "/login" and request.method in ("GET", "POST"):
        return await login_page(request, state.world)
    if path == "/sandbox/import" and request.method == "POST":
        return await handle_import_request(request, state.world)
    if request.method not in ("GET", "HEAD"):
        return web.Response(status=405)
    if path == "/":
        return await root_page(request, state.world)
    return await app_shell(request, state.world)


def _record(state: ServerState, request: web.Request, path: str, route: str, status: int, auth: str) -> None:
    query = tuple(
        (name, "<redacted>" if name.lower() in _SECRET_QUERY_NAMES else value)
        for name, value in request.query.items()
    )
    state.requests.append(RequestRecord(request.method, path, query, route, status, auth))


async def _dispatch(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    path = _merge_slashes(request.path)
    if not path.startswith("/api/v4/"):
        response = await _web_page(request, state, path)
        _record(state, request, path, path, response.status, "none")
        return response
    state.sequence += 1
    request_id = new_id(state.request_ids)
    request[_HEADERS_KEY] = {"X-Request-ID": request_id, "X-Version-Id": state.config.version_header}
    found = find_token(request)
    try:
        response = await _api(request, state, path, found, request_id)
    except ApiError as error:
        response = json_response(error.body(request_id), status=error.status)
        if error.status == 401 and found.location == "cookie" and found.token:
            clear_session_cookies(response)
    _record(state, request, path, request.get(_ROUTE_KEY, ""), response.status, found.location)
    return response


async def _add_server_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in request.get(_HEADERS_KEY, {}).items():
        response.headers.setdefault(name, value)
    world = request.app[STATE_KEY].world
    response.headers["Date"] = email.utils.formatdate(world.clock() / 1000, usegmt=True)


def create_app(world: World, config: SandboxConfig | None = None) -> web.Application:
    """The aiohttp application; `app[STATE_KEY]` holds the state, including the request log."""
    config = config or SandboxConfig()
    limiter = (
        RateLimiter(config.rate_limit_per_s, config.rate_burst)
        if config.rate_limit_per_s is not None
        else None
    )
    faults = FaultInjector(config.fault_rate, tuple(config.fault_kinds), config.fault_seed, config.fault_hook)
    state = ServerState(world=world, config=config, faults=faults, limiter=limiter)
    app = web.Application()
    app[STATE_KEY] = state
    app.on_response_prepare.append(_add_server_headers)
    app.router.add_route("*", "/{tail:.*}", _dispatch)
    return app


@dataclass
class RunningSandbox:
    """A started sandbox: its base URL, world, config and request log."""

    url: str
    world: World
    config: SandboxConfig
    state: ServerState
    _stopper: Callable[[], None] | None = field(default=None, repr=False)

    @property
    def login_url(self) -> str:
        return f"{self.url}/login"

    @property
    def requests(self) -> list[RequestRecord]:
        return self.state.requests

    def request_counts(self) -> Counter[tuple[str, str]]:
        """How many requests each (method, route template) received."""
        return Counter((record.method, record.route) for record in self.state.requests)

    def call(self, function: Callable[[], T]) -> T:
        """Run `function` while holding the world lock (safe against concurrent requests)."""
        with self.world.lock:
            return function()

    def stop(self) -> None:
        """Stop a sandbox started with `start_sandbox_thread` (no-op for the async context manager)."""
        if self._stopper is not None:
            self._stopper()
            self._stopper = None


def _require_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the sandbox only listens on loopback addresses, not {host!r}")


@asynccontextmanager
async def running_sandbox(
    world: World, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningSandbox]:
    """Serve `world` on host:port (0 = any free port) for the duration of the block."""
    _require_loopback(host)
    app = create_app(world, config)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = runner.addresses[0][1]
        url_host = f"[{host}]" if ":" in host else host
        state = app[STATE_KEY]
        yield RunningSandbox(f"http://{url_host}:{bound_port}", world, state.config, state)
    finally:
        await runner.cleanup()


def start_sandbox_thread(
    world: World, config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningSandbox:
    """Run the sandbox on its own event loop in a daemon thread; call `.stop()` when done."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop_requested: asyncio.Event | None = None
    result: list[RunningSandbox | BaseException] = []

    async def serve() -> None:
        nonlocal stop_requested
        stop_requested = asyncio.Event()
        try:
            async with running_sandbox(world, config, host, port) as sandbox:
                result.append(sandbox)
                started.set()
                await stop_requested.wait()
        except BaseException as error:
            result.append(error)
            started.set()
            raise

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(serve())
        except BaseException:  # noqa: S110 - already handed to the starting thread via `result`
            pass
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="mmtakeout-sandbox", daemon=True)
    thread.start()
    started.wait()
    outcome = result[0]
    if isinstance(outcome, BaseException):
        raise RuntimeError("the sandbox failed to start") from outcome

    def stop() -> None:
        if stop_requested is not None:
            loop.call_soon_threadsafe(stop_requested.set)
        thread.join(timeout=10)

    outcome._stopper = stop
    return outcome
