"""Helpers for the sandbox tests: an API client over real loopback HTTP and a schema validator."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp
import jsonschema
from multidict import CIMultiDictProxy

from mmtakeout.sandbox.schemas import schema_for


@dataclass
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Api:
    """A client for one running sandbox; authenticates with `Authorization: Bearer` unless told otherwise."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.token = token
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())

    async def close(self) -> None:
        await self.session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
        body: Any = None,
    ) -> Reply:
        sent = {"Authorization": f"Bearer {self.token}"} if auth else {}
        sent.update(headers or {})
        data = json.dumps(body).encode() if body is not None else None
        async with self.session.request(
            method, self.base_url + path, params=params, headers=sent, data=data
        ) as r:
            return Reply(r.status, r.headers, await r.read())

    async def get(self, path: str, **params: str) -> Reply:
        return await self.request("GET", path, params=params or None)

    async def get_json(self, path: str, **params: str) -> Any:
        reply = await self.get(path, **params)
        assert reply.status == 200, (path, reply.status, reply.body[:300])
        return reply.json

    async def post_json(self, path: str, body: Any) -> Reply:
        return await self.request("POST", path, body=body)


def validate(instance: Any, name: str, *, array: bool = False) -> None:
    jsonschema.validate(instance, schema_for(name, array=array))


def assert_app_error(reply: Reply, status: int, error_id: str) -> dict[str, Any]:
    """The server's AppError: exact JSON content type, the id, and the request id also in the header."""
    assert reply.status == status, (reply.status, reply.body[:300])
    assert reply.headers["Content-Type"] == "application/json"
    body = reply.json
    validate(body, "AppError")
    assert body["id"] == error_id
    assert body["status_code"] == status
    assert body["request_id"] == reply.headers["X-Request-ID"]
    return dict(body)
