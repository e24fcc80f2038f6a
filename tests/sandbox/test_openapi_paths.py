"""The sandbox's routes and requests against the vendored OpenAPI file (with its operationId fix)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sandbox_support import Api

from mmtakeout.sandbox import openapi_check
from mmtakeout.sandbox.generator import SandboxSetup
from mmtakeout.sandbox.server import RunningSandbox, api_routes


@pytest.fixture(scope="session")
def spec() -> dict[str, Any]:
    try:
        return openapi_check.load_spec()
    except openapi_check.SpecNotFound as missing:
        pytest.skip(f"the vendored OpenAPI file is not available: {missing}")


def test_the_patched_spec_is_valid(spec: dict[str, Any]) -> None:
    from openapi_spec_validator import validate

    operation_ids = Counter(
        operation["operationId"]
        for item in spec["paths"].values()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    )
    assert max(operation_ids.values()) == 1
    validate(spec)


@pytest.mark.parametrize(("method", "template"), api_routes())
def test_every_sandbox_route_is_in_the_spec(spec: dict[str, Any], method: str, template: str) -> None:
    assert openapi_check.check_route(method, template) == []


@pytest.mark.parametrize(
    ("method", "path", "query", "problems"),
    [
        ("GET", "/api/v4/users/me", [], 0),
        ("GET", "/api/v4/users/me/channels", ["include_deleted", "last_delete_at"], 0),
        ("GET", "/api/v4/users/me/teams/abc/channels/categories", [], 0),
        ("POST", "/api/v4/users/ids", ["since"], 0),
        (
            "GET",
            "/api/v4/channels/abc/posts",
            ["before", "per_page", "skipFetchThreads", "collapsedThreads"],
            0,
        ),
        (
            "GET",
            "/api/v4/posts/abc/thread",
            ["perPage", "fromPost", "fromCreateAt", "fromUpdateAt", "updatesOnly"],
            0,
        ),
        ("GET", "http://127.0.0.1:8065/api/v4/emoji?page=0&per_page=200&sort=name", [], 0),
        ("GET", "/api/v4/channels/abc/posts", ["perPage"], 1),
        ("GET", "/api/v4/users/me", ["skipFetchThreads"], 1),
        ("GET", "/api/v4/channels/abc/posts?bogus=1", ["fromUpdateAt"], 2),
        ("DELETE", "/api/v4/system/ping", [], 1),
        ("GET", "/api/v4/no/such/thing", [], 1),
        ("GET", "/api/v4//users/me", [], 1),
    ],
)
def test_check_request(spec: dict[str, Any], method: str, path: str, query: list[str], problems: int) -> None:
    found = openapi_check.check_request(method, path, query)
    assert len(found) == problems, found


async def test_an_exporters_requests_all_match_the_spec(
    spec: dict[str, Any], api: Api, served: RunningSandbox, world_setup: SandboxSetup
) -> None:
    """Requests recorded by the sandbox during a typical crawl can be checked against the spec."""
    world, me = world_setup.world, world_setup.user_id
    await api.get("/api/v4/system/ping")
    await api.get("/api/v4/users/me")
    for team in await api.get_json("/api/v4/users/me/teams"):
        await api.get(f"/api/v4/users/me/teams/{team['id']}/channels/categories")
    channels = await api.get_json("/api/v4/users/me/channels", include_deleted="true")
    for channel in channels[:4]:
        page = await api.get_json(
            f"/api/v4/channels/{channel['id']}/posts", per_page="200", skipFetchThreads="true"
        )
        if page["order"]:
            await api.get(f"/api/v4/channels/{channel['id']}/posts", before=page["order"][-1], per_page="200")
            await api.get(f"/api/v4/channels/{channel['id']}/posts", since="1", skipFetchThreads="true")
            await api.get(f"/api/v4/posts/{page['order'][0]}/thread", perPage="200", direction="down")
    await api.post_json("/api/v4/users/ids", [me])
    await api.get("/api/v4/emoji", page="0", per_page="200", sort="name")
    await api.get(f"/api/v4/users/{me}/image", _="0")
    info = next(f for f in world.files.values() if f.has_preview_image)
    await api.get(f"/api/v4/files/{info.id}/thumbnail")
    assert len(served.requests) > 10
    for record in served.requests:
        assert openapi_check.check_request(record.method, record.path, record.query_names) == [], record
