"""The human side of the sandbox: a login page that sets the real cookies and a Mattermost-like app shell.

A browser (or a browser test) signs in here and ends up holding the HttpOnly `MMAUTHTOKEN` cookie on a
page that looks like the Mattermost web app, which is what the extension reads and detects.
"""

from __future__ import annotations

import html
from urllib.parse import quote

from aiohttp import web

from mmtakeout.sandbox.auth import SESSION_COOKIE, attach_session_cookies, authenticate
from mmtakeout.sandbox.responses import ApiError
from mmtakeout.sandbox.world import Session, World

SESSION_LENGTH_MS = 30 * 24 * 3600 * 1000

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="application-name" content="Mattermost">
<meta name="apple-mobile-web-app-title" content="Mattermost">
<meta name="description" content="Mattermost is a secure collaboration platform (sandbox)">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; background: #f4f4f6; color: #1f2430; }}
header {{ background: #1e325c; color: #fff; padding: 12px 20px; }}
main {{ max-width: 520px; margin: 40px auto; background: #fff; padding: 24px; border-radius: 8px; }}
label {{ display: block; margin-top: 12px; }}
input {{ width: 100%; padding: 8px; box-sizing: border-box; }}
button {{ margin-top: 16px; padding: 8px 16px; }}
.error {{ color: #b00020; }}
</style>
</head>
<body>
<header>Mattermost (sandbox)</header>
<main>
<div id="root">{body}</div>
</main>
</body>
</html>
"""


def _page(title: str, body: str, *, status: int = 200) -> web.Response:
    return web.Response(
        text=_PAGE.format(title=html.escape(title), body=body),
        status=status,
        content_type="text/html",
        headers={"Cache-Control": "no-cache, max-age=31556926, public"},
    )


def _login_form(redirect_to: str, error: str = "") -> str:
    message = f'<p class="error">{html.escape(error)}</p>' if error else ""
    return (
        "<h1>Log in</h1>"
        f"{message}"
        '<form method="post" action="/login">'
        f'<input type="hidden" name="redirect_to" value="{html.escape(redirect_to)}">'
        '<label>Email or Username <input name="login_id" autocomplete="username" autofocus></label>'
        '<label>Password <input name="password" type="password" autocomplete="current-password"></label>'
        '<button type="submit" id="saveSetting">Log in</button>'
        "</form>"
    )


def home_path(world: World, user_id: str) -> str:
    """Where the web app lands after login: Town Square of the user's first team by name."""
    with world.lock:
        names = sorted(world.teams[team_id].name for team_id in world.user_team_ids(user_id))
        if not names:
            return "/select_team"
        return f"/{quote(names[0])}/channels/town-square"


def _safe_redirect(target: str) -> str:
    """Only same-site absolute paths; anything else would make the login page an open redirect."""
    return target if target.startswith("/") and not target.startswith("//") else ""


async def login_page(request: web.Request, world: World) -> web.StreamResponse:
    """GET shows the form (or logs in directly with ?login_id=&password=); POST submits it."""
    if request.method == "POST":
        form = await request.post()
        fields = {name: str(form.get(name, "")) for name in ("login_id", "password", "redirect_to")}
    else:
        fields = {
            "login_id": request.query.get("login_id", request.query.get("user", "")),
            "password": request.query.get("password", ""),
            "redirect_to": request.query.get("redirect_to", ""),
        }
    redirect_to = _safe_redirect(fields["redirect_to"])
    if request.method == "GET" and not fields["login_id"]:
        return _page("Mattermost", _login_form(redirect_to))
    try:
        user = authenticate(world, fields["login_id"], fields["password"])
    except ApiError as error:
        return _page("Mattermost", _login_form(redirect_to, error.body("")["message"]), status=401)
    session = world.add_session(user.id, expires_at=world.now() + SESSION_LENGTH_MS)
    response = web.Response(status=302, headers={"Location": redirect_to or home_path(world, user.id)})
    attach_session_cookies(response, request, session)
    return response


def _signed_in(request: web.Request, world: World) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    session = world.session(token) if token else None
    if session is None or session.is_expired(world.now()):
        return None
    return session


async def root_page(request: web.Request, world: World) -> web.StreamResponse:
    session = _signed_in(request, world)
    return web.Response(
        status=302, headers={"Location": home_path(world, session.user_id) if session else "/login"}
    )


async def app_shell(request: web.Request, world: World) -> web.StreamResponse:
    """Every other web path serves the single-page app, as the real server serves index.html."""
    session = _signed_in(request, world)
    if session is None:
        body = '<p>You are not signed in. <a href="/login">Log in</a></p>'
    else:
        with world.lock:
            username = world.users[session.user_id].username
        body = (
            f'<p id="signed-in">Signed in as <strong>@{html.escape(username)}</strong>.</p>'
            f"<p>Channel: <code>{html.escape(request.path)}</code></p>"
        )
    return _page("Town Square - Mattermost", body)
