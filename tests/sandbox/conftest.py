from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sandbox_support import Api

from mmtakeout.sandbox.generator import SandboxSetup, generate_world
from mmtakeout.sandbox.server import RunningSandbox, SandboxConfig, running_sandbox

SEED = 3
POSTS = 700


@pytest.fixture
def world_setup() -> SandboxSetup:
    return generate_world(seed=SEED, posts=POSTS)


@pytest.fixture
def server_config() -> SandboxConfig:
    return SandboxConfig()


@pytest.fixture
async def served(world_setup: SandboxSetup, server_config: SandboxConfig) -> AsyncIterator[RunningSandbox]:
    async with running_sandbox(world_setup.world, server_config) as running:
        yield running


@pytest.fixture
async def api(served: RunningSandbox, world_setup: SandboxSetup) -> AsyncIterator[Api]:
    client = Api(served.url, world_setup.token)
    try:
        yield client
    finally:
        await client.close()
