"""How the server finds a session (reference §1.1), checks CSRF (§1.2) and sets login cookies (§1.3)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import formatdate
from typing import Literal

from aiohttp import web

from mmtakeout.sandbox.responses import ApiError
from mmtakeout.sandbox.world import Session, User, World

TokenLocation = Literal["cookie", "header", "query", "none"]

SESSION_COOKIE = "MMAUTHTOKEN"
USER_COOKIE = "MMUSERID"
CSRF_COOKIE = "MMCSRF"
SESSION_LENGTH_S = 30 * 24 * 3600


@dataclass(frozen=True, slots=True)
class FoundToken:
    token: str
    location: TokenLocation


def find_token(request: web.Request) -> FoundToken:
    """The server's order: cookie first (even an empty one), then `Bearer`, then `Token`, then the query."""
    if SESSION_COOKIE in request.cookies:
        return FoundToken(request.cookies[SESSION_COOKIE], "cookie")
    header = request.headers.get("Authorization", "")
    if len(header) > 6 and header[:6].upper() == "BEARER":
        return FoundToken(header[7:], "header")
    if len(header) > 5 and header[:5].lower() == "token":
        return FoundToken(header[6:], "header")
    query_token = request.query.get("access_token", "")
    if query_token:
        return FoundToken(query_token, "query")
    return FoundToken("", "none")


def csrf_ok(request: web.Request, session: Session, *, strict: bool) -> bool:
    """Cookie-authenticated writes need X-CSRF-Token, or X-Requested-With unless strict enforcement is on."""
    if request.headers.get("X-CSRF-Token", "") == session.csrf:
        return True
    return not strict and request.headers.get("X-Requested-With", "") == "XMLHttpRequest"


def authenticate(world: World, login_id: str, password: str) -> User:
    """Username or email plus password, with the server's error ids for each refusal."""
    wanted = login_id.strip().lower()
    with world.lock:
        for user in world.users.values():
            if wanted and wanted in (user.username.lower(), user.email.lower()):
                if user.is_bot:
                    raise ApiError(401, "api.user.login.bot_login_forbidden.app_error")
                if not user.password or user.password != password:
                    break
                if user.delete_at:
                    raise ApiError(401, "api.user.login.inactive.app_error")
                return user
    raise ApiError(401, "api.user.login.invalid_credentials_email_username")


def _is_https(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


def attach_session_cookies(response: web.StreamResponse, request: web.Request, session: Session) -> None:
    """MMAUTHTOKEN (HttpOnly), MMUSERID and MMCSRF with Path=/, Max-Age and Expires; Secure over https."""
    secure = _is_https(request)
    expires = formatdate(time.time() + SESSION_LENGTH_S, usegmt=True)
    for name, value, http_only in (
        (SESSION_COOKIE, session.token, True),
        (USER_COOKIE, session.user_id, False),
        (CSRF_COOKIE, session.csrf, False),
    ):
        response.set_cookie(
            name,
            value,
            path="/",
            max_age=SESSION_LENGTH_S,
            expires=expires,
            httponly=http_only,
            secure=secure,
        )


def clear_session_cookies(response: web.StreamResponse) -> None:
    for name in (SESSION_COOKIE, USER_COOKIE, CSRF_COOKIE):
        response.set_cookie(name, "", path="/", max_age=0, expires="Thu, 01 Jan 1970 00:00:00 GMT")
