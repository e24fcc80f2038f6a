"""What goes over the wire: auth headers, no cookies, URL handling, concurrency, secrecy of the token."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from aiohttp import web
from api_scripted_server import TOKEN, Handler, ScriptedServer, assert_token_hidden, json_reply, slow_reply

from mmtakeout.api import MattermostClient, NotFound, normalize_server_url

ME = {"id": "q1b6tyn3cfgw8mx4b5nhbzn1xe", "username": "alice"}
ClientFactory = Callable[..., MattermostClient]


def sets_a_cookie() -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.json_response(ME)
        response.set_cookie("MMAUTHTOKEN", "someone-elses-session", httponly=True)
        response.set_cookie("MMCSRF", "csrf")
        return response

    return handler


async def test_bearer_header_and_no_cookie_even_after_set_cookie(
    server: ScriptedServer, make_client: ClientFactory
) -> None:
    server.always("/api/v4/users/me", sets_a_cookie())
    async with make_client() as client:
        await client.get_me()
        await client.get_me()
    for seen in server.requests:
        assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
        assert seen.headers["X-Requested-With"] == "XMLHttpRequest"
        assert seen.headers["User-Agent"].startswith("mmtakeout/")
        assert "Cookie" not in seen.headers
        assert TOKEN not in str(seen.query) and TOKEN not in seen.path


async def test_keep_alive_reuses_one_connection(server: ScriptedServer, make_client: ClientFactory) -> None:
    peers: set[object] = set()

    async def remember_peer(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        peers.add(request.transport.get_extra_info("peername"))
        return web.json_response(ME)

    server.always("/api/v4/users/me", remember_peer)
    async with make_client() as client:
        for _ in range(5):
            await client.get_me()
    assert len(peers) == 1


async def test_concurrency_is_bounded(server: ScriptedServer, make_client: ClientFactory) -> None:
    server.always("/api/v4/users/me", slow_reply(ME, 0.05))
    async with make_client(concurrency=3) as client:
        await asyncio.gather(*(client.get_me() for _ in range(15)))
    assert server.max_in_flight == 3
    assert client.stats.requests == 15


async def test_server_under_a_subpath(server: ScriptedServer) -> None:
    server.always("/chat/api/v4/users/me", json_reply(ME))
    async with MattermostClient(f"{server.url}/chat/", TOKEN) as client:
        assert (await client.get_me()).username == "alice"


async def test_query_parameters_of_a_post_page(server: ScriptedServer, make_client: ClientFactory) -> None:
    channel = "7wu1s4xd9fgwmk3tn5h8oqd1nh"
    server.always(f"/api/v4/channels/{channel}/posts", json_reply({"order": [], "posts": {}}))
    async with make_client() as client:
        await client.get_posts(channel, before="8xk6r5w7ajd3jgi1o6h4b3iqyc", page=2)
        await client.get_posts(channel, since=1718000000000)
    paged, since = server.requests
    assert dict(paged.query) == {
        "skipFetchThreads": "true",
        "page": "2",
        "per_page": "200",
        "before": "8xk6r5w7ajd3jgi1o6h4b3iqyc",
    }
    assert dict(since.query) == {"skipFetchThreads": "true", "since": "1718000000000"}


async def test_channel_list_falls_back_to_teams_when_the_route_is_missing(
    server: ScriptedServer, make_client: ClientFactory
) -> None:
    team_a, team_b = "9t1k3tyjspdqmkz5r3b6gyu4qc", "4o9gdmsa1pfz5crdtzb1sybcyh"
    dm = {"id": "7wu1s4xd9fgwmk3tn5h8oqd1nh", "type": "D", "team_id": ""}
    server.always("/api/v4/users/me/teams", json_reply([{"id": team_a}, {"id": team_b}]))
    server.always(
        f"/api/v4/users/me/teams/{team_a}/channels",
        json_reply([dm, {"id": "kbg7w6m8zjrqdyz5w1pa3ex4yo", "type": "O", "team_id": team_a}]),
    )
    server.always(f"/api/v4/users/me/teams/{team_b}/channels", json_reply([dm]))
    async with make_client() as client:
        channels = await client.get_my_channels()
    assert sorted(channel.id for channel in channels) == [
        "7wu1s4xd9fgwmk3tn5h8oqd1nh",
        "kbg7w6m8zjrqdyz5w1pa3ex4yo",
    ]
    assert server.requests[0].path == "/api/v4/users/me/channels"
    assert server.requests[0].query["include_deleted"] == "true"


async def test_ids_are_checked_before_they_go_into_a_url(make_client: ClientFactory) -> None:
    async with make_client() as client:
        with pytest.raises(ValueError, match="channel id"):
            await client.get_channel("../../users/me")
        with pytest.raises(ValueError, match="user id"):
            await client.get_users_by_ids(["ok0000000000000000000000aa", "a b"])


async def test_big_id_lists_are_sent_in_chunks(server: ScriptedServer, make_client: ClientFactory) -> None:
    server.always("/api/v4/users/ids", json_reply([]))
    ids = [f"user{n:022d}" for n in range(450)]
    async with make_client() as client:
        assert await client.get_users_by_ids([*ids, *ids]) == []
    sizes = [len(json.loads(seen.body)) for seen in server.requests]
    assert sizes == [200, 200, 50]


async def test_thread_pages_follow_the_keyset_cursor(
    server: ScriptedServer, make_client: ClientFactory
) -> None:
    root = "8xk6r5w7ajd3jgi1o6h4b3iqyc"

    def post(post_id: str, at: int) -> dict[str, object]:
        return {"id": post_id, "create_at": at, "root_id": "" if post_id == root else root}

    first = [
        post(root, 100),
        post("reply000000000000000000001", 200),
        post("reply000000000000000000002", 200),
    ]
    second = [post(root, 100), post("reply000000000000000000003", 300)]
    server.script(
        f"/api/v4/posts/{root}/thread",
        json_reply(
            {"order": [p["id"] for p in first], "posts": {p["id"]: p for p in first}, "has_next": True}
        ),
        json_reply(
            {"order": [p["id"] for p in second], "posts": {p["id"]: p for p in second}, "has_next": False}
        ),
    )
    async with make_client() as client:
        pages = [page async for page in client.iter_thread(root, per_page=2)]
    assert len(pages) == 2
    assert "fromPost" not in server.requests[0].query
    assert server.requests[1].query["fromPost"] == "reply000000000000000000002"
    assert server.requests[1].query["fromCreateAt"] == "200"
    assert server.requests[1].query["direction"] == "down"
    assert server.requests[1].query["perPage"] == "2"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://chat.example.org/", "https://chat.example.org"),
        ("  https://chat.example.org/team/sub//  ", "https://chat.example.org/team/sub"),
        ("https://chat.example.org/api/v4", "https://chat.example.org"),
        ("http://127.0.0.1:8065", "http://127.0.0.1:8065"),
        ("https://chat.example.org/?x=1#frag", "https://chat.example.org"),
    ],
)
def test_server_url_is_normalised(given: str, expected: str) -> None:
    assert normalize_server_url(given) == expected


@pytest.mark.parametrize(
    "bad", ["chat.example.org", "ftp://chat.example.org", "https://user:pw@chat.example.org", "https://"]
)
def test_bad_server_urls_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="server address"):
        normalize_server_url(bad)


@pytest.mark.parametrize("bad_token", ["", "has space", "new\nline", "x" * 5000])
def test_malformed_token_is_refused_without_echoing_it(bad_token: str) -> None:
    with pytest.raises(ValueError) as caught:
        MattermostClient("https://chat.example.org", bad_token)
    if bad_token:
        assert bad_token not in str(caught.value)


async def test_client_repr_and_errors_hide_the_token(
    server: ScriptedServer, make_client: ClientFactory
) -> None:
    client = make_client()
    assert_token_hidden(client, client.stats)
    async with client:
        with pytest.raises(NotFound) as caught:
            await client.get_channel("7wu1s4xd9fgwmk3tn5h8oqd1nh")
    assert_token_hidden(caught.value)


async def test_using_the_client_outside_async_with_is_a_clear_error(make_client: ClientFactory) -> None:
    with pytest.raises(RuntimeError, match="async with"):
        await make_client().get_me()


def echoing(status: int, content_type: str = "application/json") -> Handler:
    """A hostile server that puts the caller's Authorization header everywhere it can."""

    async def handler(request: web.Request) -> web.StreamResponse:
        echoed = request.headers.get("Authorization", "")
        body = json.dumps({"id": echoed, "message": echoed, "request_id": echoed, "status_code": status})
        headers = {"Location": f"https://evil.example/{echoed}", "Retry-After": "0", "X-Echo": echoed}
        return web.Response(
            status=status, text=body, content_type=None, headers={"Content-Type": content_type, **headers}
        )

    return handler


@pytest.mark.parametrize(
    "handler",
    [
        echoing(400),
        echoing(401),
        echoing(403),
        echoing(404),
        echoing(418),
        echoing(500),
        echoing(501),
        echoing(302),
        echoing(200, "text/html"),
        echoing(200, "application/json; broken"),
    ],
    ids=["400", "401", "403", "404", "418", "500", "501", "302", "html", "bad-json"],
)
async def test_no_error_repeats_a_token_the_server_echoes(
    server: ScriptedServer, make_client: ClientFactory, handler: Handler
) -> None:
    server.always("/api/v4/users/me", handler)
    async with make_client(max_retries=1) as client:
        with pytest.raises(Exception) as caught:
            await client.get_me()
    assert_token_hidden(caught.value, client)
