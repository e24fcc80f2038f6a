"""Retries, backoff and error mapping of the client, against a scripted loopback server."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import pytest
from api_scripted_server import (
    ScriptedServer,
    assert_token_hidden,
    body_of,
    dropped_connection,
    error_reply,
    json_reply,
    raw_reply,
    truncated_reply,
)

from mmtakeout.api import (
    AuthenticationError,
    BadResponse,
    FeatureDisabled,
    MattermostClient,
    MattermostError,
    NotFound,
    PermissionDenied,
    ServerError,
    TransportError,
)

ME = {"id": "q1b6tyn3cfgw8mx4b5nhbzn1xe", "username": "alice", "create_at": 1500000000000}
ClientFactory = Callable[..., MattermostClient]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
async def test_transient_status_is_retried_until_success(
    server: ScriptedServer, make_client: ClientFactory, status: int
) -> None:
    server.script("/api/v4/users/me", error_reply(status, "app.busy"), error_reply(status, "app.busy"))
    server.always("/api/v4/users/me", json_reply(ME))
    async with make_client() as client:
        me = await client.get_me()
    assert me.username == "alice"
    assert len(server.requests_to("/api/v4/users/me")) == 3
    assert client.stats.retries == 2
    assert client.stats.requests == 3


async def test_server_error_after_retries_are_used_up(
    server: ScriptedServer, make_client: ClientFactory
) -> None:
    server.always("/api/v4/users/me", error_reply(502, "app.gateway"))
    async with make_client(max_retries=2) as client:
        with pytest.raises(ServerError) as caught:
            await client.get_me()
    assert caught.value.status == 502
    assert caught.value.error_id == "app.gateway"
    assert len(server.requests_to("/api/v4/users/me")) == 3
    assert_token_hidden(caught.value, client)


async def test_503_retry_after_is_honoured(server: ScriptedServer, make_client: ClientFactory) -> None:
    server.script("/api/v4/users/me", error_reply(503, "app.maintenance", **{"Retry-After": "1"}))
    server.always("/api/v4/users/me", json_reply(ME))
    async with make_client() as client:
        await client.get_me()
    first, second = server.requests_to("/api/v4/users/me")
    assert second.at - first.at >= 0.95


async def test_dropped_connection_is_retried(server: ScriptedServer, make_client: ClientFactory) -> None:
    server.script("/api/v4/users/me", dropped_connection(), dropped_connection())
    server.always("/api/v4/users/me", json_reply(ME))
    async with make_client() as client:
        assert (await client.get_me()).id == ME["id"]
    assert len(server.requests_to("/api/v4/users/me")) == 3


async def test_truncated_json_body_is_retried(server: ScriptedServer, make_client: ClientFactory) -> None:
    body = body_of([{"id": "9t1k3tyjspdqmkz5r3b6gyu4qc", "name": "team", "display_name": "Team"}] * 50)
    server.script("/api/v4/users/me/teams", truncated_reply(body, keep=len(body) // 2))
    server.always("/api/v4/users/me/teams", raw_reply(body))
    async with make_client() as client:
        teams = await client.get_my_teams()
    assert len(teams) == 50
    assert len(server.requests_to("/api/v4/users/me/teams")) == 2


async def test_invalid_json_in_a_complete_body_is_retried_then_reported(
    server: ScriptedServer, make_client: ClientFactory
) -> None:
    # A streamed channel list that fails mid-stream ends "cleanly" with half a JSON document.
    server.always("/api/v4/users/me/channels", raw_reply(b'[{"id": "7wu1s4xd9fgwmk3tn5h8oqd1nh", "na'))
    async with make_client(max_retries=2) as client:
        with pytest.raises(BadResponse, match="invalid JSON"):
            await client.get_my_channels()
    assert len(server.requests_to("/api/v4/users/me/channels")) == 3


async def test_deeply_nested_json_is_a_bad_response_not_a_crash(
    server: ScriptedServer, make_client: ClientFactory
) -> None:
    server.always("/api/v4/users/me", raw_reply(b"[" * 100_000 + b"]" * 100_000))
    async with make_client(max_retries=0) as client:
        with pytest.raises(BadResponse):
            await client.get_me()


async def test_401_is_an_authentication_error_without_retry_or_token(
    server: ScriptedServer, make_client: ClientFactory
) -> None:
    server.always(
        "/api/v4/users/me",
        error_reply(
            401, "api.context.session_expired.app_error", "Invalid or expired session, please login again."
        ),
    )
    async with make_client() as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.get_me()
    assert caught.value.error_id == "api.context.session_expired.app_error"
    assert "log in again" in str(caught.value).lower()
    assert len(server.requests_to("/api/v4/users/me")) == 1
    assert_token_hidden(caught.value)


async def test_401_in_the_middle_of_a_run_stops_that_request(
    server: ScriptedServer, make_client: ClientFactory
) -> None:
    server.always("/api/v4/users/me", json_reply(ME))
    server.always("/api/v4/users/me/teams", error_reply(401, "api.context.session_expired.app_error"))
    async with make_client() as client:
        await client.get_me()
        with pytest.raises(AuthenticationError):
            await client.get_my_teams()


@pytest.mark.parametrize(
    ("status", "error_id", "expected"),
    [
        (403, "api.context.permissions.app_error", PermissionDenied),
        (404, "app.channel.get.existing.app_error", NotFound),
        (501, "api.emoji.disabled.app_error", FeatureDisabled),
    ],
)
async def test_status_maps_to_error_class_with_app_error_id(
    server: ScriptedServer,
    make_client: ClientFactory,
    status: int,
    error_id: str,
    expected: type[MattermostError],
) -> None:
    server.always("/api/v4/channels/7wu1s4xd9fgwmk3tn5h8oqd1nh", error_reply(status, error_id))
    async with make_client() as client:
        with pytest.raises(expected) as caught:
            await client.get_channel("7wu1s4xd9fgwmk3tn5h8oqd1nh")
    assert caught.value.status == status
    assert caught.value.error_id == error_id
    assert caught.value.request_id == "req123"
    assert "/api/v4/channels/7wu1s4xd9fgwmk3tn5h8oqd1nh" in str(caught.value)
    assert len(server.requests) == 1


async def test_custom_emoji_switched_off_is_feature_disabled(
    server: ScriptedServer, make_client: ClientFactory
) -> None:
    server.always("/api/v4/emoji", error_reply(501, "api.emoji.disabled.app_error"))
    async with make_client() as client:
        with pytest.raises(FeatureDisabled):
            await client.list_custom_emoji()


async def test_html_page_instead_of_data_is_reported_at_once(
    server: ScriptedServer, make_client: ClientFactory
) -> None:
    server.always("/api/v4/users/me", raw_reply(b"<html>Sign in</html>", content_type="text/html"))
    async with make_client() as client:
        with pytest.raises(BadResponse, match="web page"):
            await client.get_me()
    assert len(server.requests) == 1


async def test_redirect_is_not_followed_with_the_token(
    server: ScriptedServer, make_client: ClientFactory
) -> None:
    server.always("/api/v4/users/me", raw_reply(b"", status=302, Location="https://sso.example.org/login"))
    async with make_client() as client:
        with pytest.raises(BadResponse, match=r"sso\.example\.org"):
            await client.get_me()
    assert len(server.requests) == 1


async def test_unreachable_server_is_a_transport_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = MattermostClient(f"http://127.0.0.1:{port}", "tok", max_retries=2, backoff_base=0.01)
    started = time.monotonic()
    async with client:
        with pytest.raises(TransportError, match="unreachable") as caught:
            await client.ping()
    assert time.monotonic() - started < 5
    assert client.stats.requests == 3
    assert_token_hidden(caught.value)


async def test_wrong_field_type_is_a_bad_response_naming_the_field(
    server: ScriptedServer, make_client: ClientFactory
) -> None:
    server.always("/api/v4/users/me", json_reply({**ME, "create_at": "yesterday"}))
    async with make_client() as client:
        with pytest.raises(BadResponse, match="create_at") as caught:
            await client.get_me()
    assert "GET /api/v4/users/me" in str(caught.value)
    assert len(server.requests) == 1
