from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path

import pytest
from nativehost_support import CHROMIUM_ORIGIN, HostProcess

from mmtakeout.sandbox.generator import SandboxSetup, generate_world
from mmtakeout.sandbox.server import RunningSandbox, SandboxConfig, start_sandbox_thread
from mmtakeout.sandbox.world import World

NATIVEHOST_POSTS = 300


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
async def spawn_host(home: Path) -> AsyncIterator[Callable[..., Awaitable[HostProcess]]]:
    """Start host processes in the throw-away home; all are killed at the end of the test."""
    started: list[HostProcess] = []

    async def spawn(
        args: Sequence[str] = (CHROMIUM_ORIGIN,), env: dict[str, str] | None = None
    ) -> HostProcess:
        host = await HostProcess.start(home, args, env)
        started.append(host)
        return host

    yield spawn
    for host in started:
        host.kill()
        await host.process.wait()


@pytest.fixture
def sandbox_setup() -> SandboxSetup:
    return generate_world(seed=7, posts=NATIVEHOST_POSTS)


@pytest.fixture
def slow_sandbox(sandbox_world: World) -> Iterator[RunningSandbox]:
    """Slow enough that a run can be cancelled or interrupted in the middle."""
    running = start_sandbox_thread(sandbox_world, SandboxConfig(latency_ms=120))
    try:
        yield running
    finally:
        running.stop()
