"""Rate limiting, injected faults, latency, routing details and the thread runner."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import raw_http
from sandbox_support import Api, assert_app_error

from mmtakeout.sandbox.faults import FaultInjector, RateLimiter, RequestInfo
from mmtakeout.sandbox.generator import SandboxSetup, generate_world
from mmtakeout.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox_thread


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_gcra_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = ManualClock()
    limiter = RateLimiter(per_second=2, burst=3, clock=clock)
    decisions = [limiter.check("ip") for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, True, False]
    assert [d.remaining for d in decisions[:4]] == [3, 2, 1, 0]
    assert decisions[0].limit == 4
    refused = decisions[4]
    assert refused.headers()["Retry-After"] == "1" and 0 < refused.retry_after_s <= 0.5
    assert "Retry-After" not in decisions[0].headers()
    clock.now += 0.5
    assert limiter.check("ip").allowed
    assert limiter.check("other ip").allowed, "limits are per key"


def test_fault_injection_is_seeded() -> None:
    info = RequestInfo("GET", "/api/v4/users/me", "/api/v4/users/{user_id}", 1)
    first = FaultInjector(0.3, ("500", "reset"), seed=4)
    second = FaultInjector(0.3, ("500", "reset"), seed=4)
    sequence = [first.decide(info) for _ in range(200)]
    assert sequence == [second.decide(info) for _ in range(200)]
    assert 30 < sum(kind is not None for kind in sequence) < 90
    assert FaultInjector(0.0, ("500",), seed=4).decide(info) is None


@pytest.mark.parametrize("server_config", [SandboxConfig(rate_limit_per_s=1, rate_burst=2)])
async def test_429_is_plain_text_with_rate_limit_headers(api: Api) -> None:
    replies = [await api.get("/api/v4/users/me") for _ in range(4)]
    assert [r.status for r in replies] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in replies[:3]] == ["2", "1", "0"]
    limited = replies[3]
    assert limited.body == b"limit exceeded\n"
    assert limited.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert limited.headers["X-RateLimit-Limit"] == "3"
    assert int(limited.headers["Retry-After"]) >= 1 and int(limited.headers["X-RateLimit-Reset"]) >= 1


def _scripted(*kinds: str | None) -> SandboxConfig:
    queue = list(kinds)
    return SandboxConfig(fault_hook=lambda info: queue.pop(0) if queue else None)  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize("server_config", [_scripted("500", "502", "503")])
async def test_injected_error_statuses(api: Api) -> None:
    assert_app_error(await api.get("/api/v4/users/me"), 500, "app.sandbox.injected_fault.app_error")
    gateway = await api.get("/api/v4/users/me")
    assert gateway.status == 502 and gateway.headers["Content-Type"].startswith("text/html")
    unavailable = await api.get("/api/v4/users/me")
    assert unavailable.status == 503
    assert (await api.get("/api/v4/users/me")).status == 200


@pytest.mark.parametrize("server_config", [_scripted("truncate", "truncate")])
async def test_truncated_bodies(api: Api) -> None:
    with pytest.raises(aiohttp.ClientPayloadError):
        await api.get("/api/v4/users/me")
    with pytest.raises((aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError)):
        await api.get("/api/v4/users/me/channels")


@pytest.mark.parametrize("server_config", [_scripted("reset", "reset")])
async def test_connection_reset(served: RunningSandbox, world_setup: SandboxSetup) -> None:
    status, error = await asyncio.to_thread(raw_http.get, served.url + "/api/v4/users/me", world_setup.token)
    assert status is None and error in ("reset", "closed")
    assert [r.status for r in served.requests] == [0]


@pytest.mark.parametrize("server_config", [SandboxConfig(fault_rate=1.0, fault_kinds=("500",))])
async def test_login_is_spared_from_faults(api: Api) -> None:
    reply = await api.request(
        "POST", "/api/v4/users/login", auth=False, body={"login_id": "alice", "password": "sandbox-password"}
    )
    assert reply.status == 200
    assert (await api.get("/api/v4/system/ping")).status == 500


@pytest.mark.parametrize("server_config", [SandboxConfig(latency_ms=150)])
async def test_latency_is_added(api: Api) -> None:
    started = time.perf_counter()
    await api.get("/api/v4/users/me")
    assert time.perf_counter() - started >= 0.15


async def test_routing_merges_slashes_and_answers_404_and_405(api: Api, served: RunningSandbox) -> None:
    merged = await api.get("//api/v4//users///me")
    assert merged.status == 200 and merged.headers["Content-Type"] == "application/json"
    assert_app_error(await api.get("/api/v4/no/such/route"), 404, "api.context.404.app_error")
    assert (await api.request("DELETE", "/api/v4/system/ping")).status == 405
    counts = served.request_counts()
    assert counts[("GET", "/api/v4/users/{user_id}")] == 1 and counts[("GET", "")] == 1
    assert served.requests[0].path == "/api/v4/users/me" and served.requests[0].auth == "header"


async def test_the_request_log_never_holds_a_token(
    api: Api, served: RunningSandbox, world_setup: SandboxSetup
) -> None:
    await api.request("GET", "/api/v4/users/me", auth=False, params={"access_token": world_setup.token})
    await api.get("/api/v4/users/me")
    assert world_setup.token not in repr(served.requests)
    assert served.requests[0].query == (("access_token", "<redacted>"),)


def test_thread_runner_serves_and_stops() -> None:
    setup = generate_world(seed=8, posts=200)
    running = start_sandbox_thread(setup.world)
    try:
        status, body = raw_http.get(running.url + "/api/v4/users/me", setup.token)
        assert status == 200 and b'"username":"alice"' in body
        post = running.call(
            lambda: setup.world.create_post(
                next(iter(setup.world.channel_posts)), setup.user_id, "made from the test thread"
            )
        )
        assert post.id in setup.world.posts
    finally:
        started = time.perf_counter()
        running.stop()
    assert time.perf_counter() - started < 5
    with pytest.raises(OSError):
        raw_http.get(running.url + "/api/v4/system/ping", "", raise_errors=True)


def test_non_loopback_hosts_are_refused() -> None:
    with pytest.raises(RuntimeError):
        start_sandbox_thread(generate_world(seed=8, posts=50).world, host="0.0.0.0")  # noqa: S104
