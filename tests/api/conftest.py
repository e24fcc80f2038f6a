from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from api_scripted_server import TOKEN, ScriptedServer

from mmtakeout.api import MattermostClient


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    scripted = ScriptedServer()
    await scripted.start()
    try:
        yield scripted
    finally:
        await scripted.stop()


@pytest.fixture
def make_client(server: ScriptedServer) -> Callable[..., MattermostClient]:
    """A client for the scripted server with fast retries (tests must not sleep for real backoffs)."""

    def make(**options: Any) -> MattermostClient:
        settings: dict[str, Any] = {"backoff_base": 0.01, "backoff_cap": 0.05, "max_retries": 3}
        settings.update(options)
        return MattermostClient(server.url, TOKEN, **settings)

    return make
