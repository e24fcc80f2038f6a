"""Authentication like the server (reference §1, §2): token precedence, CSRF, errors, login and cookies."""

from __future__ import annotations

from http.cookies import SimpleCookie

import aiohttp
import pytest
from sandbox_support import Api, Reply, assert_app_error, validate

from mmtakeout.sandbox.generator import PASSWORD, SandboxSetup
from mmtakeout.sandbox.server import RunningSandbox, SandboxConfig

ME = "/api/v4/users/me"


def set_cookies(reply: Reply) -> dict[str, str]:
    """Every Set-Cookie header of a reply, by cookie name (the raw header line)."""
    cookies: dict[str, str] = {}
    for line in reply.headers.getall("Set-Cookie", []):
        cookies[line.split("=", 1)[0]] = line
    return cookies


def attributes(line: str) -> dict[str, str]:
    cookie = SimpleCookie()
    cookie.load(line)
    morsel = next(iter(cookie.values()))
    return {key: str(value) for key, value in morsel.items() if value}


async def test_missing_token_gets_the_app_error_body(api: Api, served: RunningSandbox) -> None:
    reply = await api.request("GET", ME, auth=False)
    body = assert_app_error(reply, 401, "api.context.session_expired.app_error")
    assert set(body) == {"id", "message", "detailed_error", "request_id", "status_code"}
    assert body["detailed_error"] == ""
    assert reply.headers["X-Version-Id"].startswith(served.config.server_version)


@pytest.mark.parametrize("scheme", ["Bearer", "BEARER", "bearer", "Token", "TOKEN"])
async def test_authorization_schemes(api: Api, world_setup: SandboxSetup, scheme: str) -> None:
    reply = await api.request(
        "GET", ME, auth=False, headers={"Authorization": f"{scheme} {world_setup.token}"}
    )
    assert reply.status == 200 and reply.json["id"] == world_setup.user_id


async def test_other_schemes_and_query_tokens_are_refused(api: Api, world_setup: SandboxSetup) -> None:
    basic = await api.request("GET", ME, auth=False, headers={"Authorization": f"Basic {world_setup.token}"})
    assert_app_error(basic, 401, "api.context.session_expired.app_error")
    query = await api.request("GET", ME, auth=False, params={"access_token": world_setup.token})
    assert_app_error(query, 401, "api.context.token_provided.app_error")
    ping = await api.request(
        "GET", "/api/v4/system/ping", auth=False, headers={"Authorization": "Bearer nope"}
    )
    assert ping.status == 200 and ping.json["status"] == "OK"


async def test_cookie_beats_the_authorization_header(api: Api, world_setup: SandboxSetup) -> None:
    valid = world_setup.token
    stale_cookie = await api.request("GET", ME, headers={"Cookie": "MMAUTHTOKEN=" + "x" * 26})
    assert_app_error(stale_cookie, 401, "api.context.session_expired.app_error")
    cleared = attributes(set_cookies(stale_cookie)["MMAUTHTOKEN"])
    assert cleared["max-age"] == "0", "a bad cookie is cleared"
    good_cookie = await api.request(
        "GET",
        ME,
        auth=False,
        headers={"Cookie": f"MMAUTHTOKEN={valid}", "Authorization": "Bearer " + "y" * 26},
    )
    assert good_cookie.status == 200 and "Set-Cookie" not in good_cookie.headers


async def test_cookie_writes_need_csrf_but_bearer_writes_do_not(api: Api, world_setup: SandboxSetup) -> None:
    session = world_setup.world.session(world_setup.token)
    assert session is not None
    cookie = {"Cookie": f"MMAUTHTOKEN={world_setup.token}"}
    body = [world_setup.user_id]
    bare = await api.request("POST", "/api/v4/users/ids", auth=False, headers=cookie, body=body)
    assert_app_error(bare, 401, "api.context.session_expired.app_error")
    for extra in ({"X-CSRF-Token": session.csrf}, {"X-Requested-With": "XMLHttpRequest"}):
        reply = await api.request(
            "POST", "/api/v4/users/ids", auth=False, headers={**cookie, **extra}, body=body
        )
        assert reply.status == 200, extra
    wrong = await api.request(
        "POST", "/api/v4/users/ids", auth=False, headers={**cookie, "X-CSRF-Token": "wrong"}, body=body
    )
    assert_app_error(wrong, 401, "api.context.session_expired.app_error")
    assert (await api.post_json("/api/v4/users/ids", body)).status == 200
    assert (await api.request("GET", ME, auth=False, headers=cookie)).status == 200, "GETs need no CSRF"


@pytest.mark.parametrize("server_config", [SandboxConfig(strict_csrf=True)])
async def test_strict_csrf_ignores_x_requested_with(api: Api, world_setup: SandboxSetup) -> None:
    headers = {"Cookie": f"MMAUTHTOKEN={world_setup.token}", "X-Requested-With": "XMLHttpRequest"}
    reply = await api.request(
        "POST", "/api/v4/users/ids", auth=False, headers=headers, body=[world_setup.user_id]
    )
    assert_app_error(reply, 401, "api.context.session_expired.app_error")


async def test_revoked_expired_and_deactivated_sessions(
    api: Api, world_setup: SandboxSetup, served: RunningSandbox
) -> None:
    world = world_setup.world
    bob = world.user_by_name("bob").id
    revoked, expired, deactivated = (served.call(lambda: world.create_session(bob)) for _ in range(3))
    served.call(lambda: world.revoke_token(revoked))
    served.call(lambda: world.expire_token(expired))
    served.call(lambda: world.deactivate_user(bob))
    for token in (revoked, expired, deactivated):
        reply = await api.request("GET", ME, auth=False, headers={"Authorization": f"Bearer {token}"})
        assert_app_error(reply, 401, "api.context.session_expired.app_error")
    assert (await api.get(ME)).status == 200


async def test_login_api_returns_token_header_and_cookies(api: Api, world_setup: SandboxSetup) -> None:
    login = {"login_id": "alice", "password": PASSWORD}
    reply = await api.request("POST", "/api/v4/users/login", auth=False, body=login)
    assert reply.status == 200
    validate(reply.json, "User")
    token = reply.headers["Token"]
    assert token and token != world_setup.token
    cookies = set_cookies(reply)
    assert set(cookies) == {"MMAUTHTOKEN", "MMUSERID", "MMCSRF"}
    auth = attributes(cookies["MMAUTHTOKEN"])
    assert auth["httponly"] is not None and auth["path"] == "/" and auth["max-age"] == str(30 * 24 * 3600)
    assert "expires" in auth and "samesite" not in auth and "secure" not in auth
    for name in ("MMUSERID", "MMCSRF"):
        assert "httponly" not in attributes(cookies[name])
    assert cookies["MMUSERID"].startswith(f"MMUSERID={world_setup.user_id};")
    session = world_setup.world.session(token)
    assert session is not None and cookies["MMCSRF"].startswith(f"MMCSRF={session.csrf};")
    me = await api.request("GET", ME, auth=False, headers={"Authorization": f"Bearer {token}"})
    assert me.status == 200
    logout = await api.request(
        "POST", "/api/v4/users/logout", auth=False, headers={"Authorization": f"Bearer {token}"}
    )
    assert logout.status == 200 and world_setup.world.session(token) is None


async def test_login_over_https_proxy_sets_secure_cookies(api: Api) -> None:
    reply = await api.request(
        "POST",
        "/api/v4/users/login",
        auth=False,
        headers={"X-Forwarded-Proto": "https"},
        body={"login_id": "alice@example.com", "password": PASSWORD},
    )
    assert reply.status == 200
    assert all("secure" in attributes(line) for line in set_cookies(reply).values())


@pytest.mark.parametrize(
    ("login_id", "password", "error_id"),
    [
        ("alice", "wrong", "api.user.login.invalid_credentials_email_username"),
        ("nobody", PASSWORD, "api.user.login.invalid_credentials_email_username"),
        ("heidi", PASSWORD, "api.user.login.inactive.app_error"),
        ("sandbox-bot", "", "api.user.login.bot_login_forbidden.app_error"),
    ],
)
async def test_login_failures(api: Api, login_id: str, password: str, error_id: str) -> None:
    reply = await api.request(
        "POST", "/api/v4/users/login", auth=False, body={"login_id": login_id, "password": password}
    )
    assert_app_error(reply, 401, error_id)


async def test_login_page_sets_the_http_only_cookie_and_redirects_to_the_app(
    served: RunningSandbox, world_setup: SandboxSetup
) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(served.login_url) as form:
            page = await form.text()
            assert form.status == 200 and 'name="login_id"' in page and 'content="Mattermost"' in page
        async with browser.post(
            served.login_url, data={"login_id": "alice", "password": PASSWORD}, allow_redirects=False
        ) as posted:
            assert posted.status == 302 and posted.headers["Location"] == "/alpha/channels/town-square"
            token = posted.cookies["MMAUTHTOKEN"]
            assert token["httponly"] and world_setup.world.session(token.value) is not None
        async with browser.get(served.url + "/alpha/channels/town-square") as shell:
            html = await shell.text()
            assert '<meta name="application-name" content="Mattermost">' in html and "@alice" in html
        async with browser.get(served.url + ME, headers={"X-Requested-With": "XMLHttpRequest"}) as me:
            assert me.status == 200 and (await me.json())["username"] == "alice"
        async with browser.get(served.login_url, params={"user": "alice", "password": "bad"}) as refused:
            assert refused.status == 401 and "valid email or username" in await refused.text()
        async with browser.get(
            served.login_url,
            params={"user": "alice", "password": PASSWORD, "redirect_to": "//evil.example/"},
            allow_redirects=False,
        ) as direct:
            assert direct.status == 302 and direct.headers["Location"] == "/alpha/channels/town-square"
