"""Async client for the parts of Mattermost API v4 an export reads.

One `aiohttp` session with keep-alive serves every request. Each request holds one of `concurrency`
slots, waits its turn at the client-wide `Pacer` (so a slowdown the server asks for applies to all
requests), and is retried on transient faults: 5xx, 408, dropped connections, time-outs, truncated or
unreadable JSON. 429s are waited out as long as the server keeps asking, within a time budget.
The token travels only in the `Authorization` header; no cookie is ever sent (a cookie would take
precedence over the header on the server).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import random
import re
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Self, TypeVar

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from mmtakeout import __version__, jsoncodec
from mmtakeout.api.errors import (
    AuthenticationError,
    BadRequest,
    BadResponse,
    FeatureDisabled,
    FileTooLarge,
    MattermostError,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    TransportError,
)
from mmtakeout.api.models import (
    Channel,
    ChannelMember,
    Emoji,
    FileInfo,
    Post,
    PostList,
    Reaction,
    ServerPing,
    SidebarCategories,
    Team,
    User,
    is_safe_id,
    parse_list,
    parse_reactions_by_post,
)
from mmtakeout.api.pacing import Pacer, RateLimitInfo
from mmtakeout.api.server_clock import ServerClock
from mmtakeout.api.slots import RequestSlots

log = logging.getLogger(__name__)

T = TypeVar("T")

API_PREFIX = "/api/v4"
MAX_PER_PAGE = 200
MAX_POSTS_BY_IDS = 1000
USERS_BY_IDS_CHUNK = 200
REACTIONS_BY_IDS_CHUNK = 200
MAX_JSON_BYTES = 64 * 1024 * 1024
"""Larger JSON answers are refused: no real answer comes close, and memory must stay bounded."""
MAX_ERROR_BODY_BYTES = 64 * 1024
DOWNLOAD_CHUNK_BYTES = 256 * 1024
DEFAULT_CONCURRENCY = 16
"""Requests in flight by default: each is one cheap read (a page of 200 posts, one file), about what the
web app itself sends when it opens; a server that rate-limits is followed by the pacer whatever this is."""
WRITE_BATCH_BYTES = 1024 * 1024
RATE_LIMIT_BACKOFF_START = 1.0
RATE_LIMIT_BACKOFF_CAP = 60.0

_RETRYABLE_STATUSES = frozenset({408, 500, 502, 503, 504})
_TOKEN_SHAPE = re.compile(r"^[\x21-\x7e]{1,4096}$")
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


def normalize_server_url(server_url: str) -> str:
    """`https://host/sub/` → `https://host/sub`; also accepts an address ending in `/api/v4`."""
    try:
        url = URL(server_url.strip())
    except (ValueError, TypeError) as exc:
        raise ValueError("The server address is not a valid URL.") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("The server address must start with https:// (or http://) and name a host.")
    if url.user is not None or url.password is not None:
        raise ValueError("The server address must not contain a user name or password.")
    path = url.path.rstrip("/")
    if path.endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)]
    return str(url.with_path(path or "/").with_query(None).with_fragment(None)).rstrip("/")


def _require_id(value: str, what: str) -> str:
    if not is_safe_id(value):
        raise ValueError(f"{what} is not a valid Mattermost id")
    return value


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _flag(value: bool) -> str:
    return "true" if value else "false"


@dataclass(slots=True)
class ClientStats:
    """Counters for progress displays and the benchmark."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    bytes_received: int = 0
    rate_limit_pause_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """What a download saved. `not_modified`: the server answered 304; nothing was written."""

    size: int
    sha256: str | None
    etag: str | None
    not_modified: bool
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class _AppError:
    """The parts of a Mattermost error body worth keeping (the message is translated; never match on it)."""

    error_id: str | None
    request_id: str | None

    @classmethod
    def from_body(cls, body: bytes) -> _AppError:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return cls(None, None)
        if not isinstance(data, dict):
            return cls(None, None)
        error_id, request_id = data.get("id"), data.get("request_id")
        return cls(
            error_id if isinstance(error_id, str) else None,
            request_id if isinstance(request_id, str) else None,
        )


class _RetryableBody(Exception):
    """The body was incomplete or unreadable; asking again may help."""


def _status_error(status: int, app_error: _AppError, what: str, location: str | None) -> MattermostError:
    details: dict[str, Any] = {
        "what": what,
        "status": status,
        "error_id": app_error.error_id,
        "request_id": app_error.request_id,
    }
    if status == 400:
        return BadRequest(f"The server rejected the request {what}.", **details)
    if status == 401:
        return AuthenticationError(
            "The Mattermost server no longer accepts this login (the session is invalid or has expired). "
            "Log in again in your browser, then run the export again; everything saved so far stays.",
            **details,
        )
    if status == 403:
        return PermissionDenied(f"The server does not allow this account to read {what}.", **details)
    if status == 404:
        return NotFound(f"The server has nothing at {what}.", **details)
    if status == 501:
        return FeatureDisabled(f"This feature is switched off on the server ({what}).", **details)
    if status >= 500:
        return ServerError(f"The server kept failing for {what}.", **details)
    if status == 304:
        return BadResponse(f"The server answered 'not modified' to {what}, which was not asked.", **details)
    if 300 <= status < 400:
        target = (location or "another address")[:200]
        return BadResponse(
            f"The server redirected {what} to {target}. Check the server address (use the one your "
            "browser shows after logging in).",
            **details,
        )
    return MattermostError(f"The server gave an unexpected answer to {what}.", **details)


class _Attempts:
    """Retry bookkeeping for one logical request."""

    def __init__(self, client: MattermostClient, what: str) -> None:
        self._client = client
        self.what = what
        self.faults = 0
        self.rate_limit_pause = 0.0
        self.rate_limited_in_a_row = 0

    async def after_fault(self, final_error: MattermostError, *, server_pause: float | None = None) -> None:
        """Sleeps before the next attempt, or raises `final_error` when the attempts are used up."""
        self.faults += 1
        if self.faults > self._client.max_retries:
            raise final_error
        self._client.stats.retries += 1
        if server_pause is not None:
            self._client.pacer.block(min(server_pause, self._client.max_rate_limit_wait))
            delay = 0.0
        else:
            delay = self._client.backoff_delay(self.faults)
        log.debug("retrying %s in %.2fs (attempt %d): %s", self.what, delay, self.faults + 1, final_error)
        await asyncio.sleep(delay)

    def after_rate_limit(self, info: RateLimitInfo, sent_at: float) -> None:
        """Pauses the whole client as the server asked, or raises when the wait budget is spent."""
        client = self._client
        client.stats.rate_limited += 1
        self.rate_limited_in_a_row += 1
        budget = client.max_rate_limit_wait - self.rate_limit_pause
        asked = info.retry_after if info.retry_after is not None else 0.0
        if budget <= 0 or asked > budget:
            raise RateLimited(
                f"The server kept asking to slow down for {self.what} for longer than "
                f"{client.max_rate_limit_wait:.0f} seconds; try again later.",
                what=self.what,
                status=429,
            )
        backoff_ceiling = min(
            RATE_LIMIT_BACKOFF_CAP, RATE_LIMIT_BACKOFF_START * 2 ** (self.rate_limited_in_a_row - 1)
        )
        backoff = backoff_ceiling / 2 + client.random.uniform(0, backoff_ceiling / 2)
        pause = client.pacer.observe_rate_limited(info, sent_at, backoff)
        self.rate_limit_pause += pause
        client.stats.rate_limit_pause_seconds += pause
        client.stats.retries += 1


class MattermostClient:
    """Use as `async with MattermostClient(url, token) as client:`; one instance per export run."""

    def __init__(
        self,
        server_url: str,
        token: str,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_retries: int = 6,
        request_timeout: float = 60.0,
        user_agent: str = f"mmtakeout/{__version__}",
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_rate_limit_wait: float = 900.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if max_retries < 0:
            raise ValueError("max_retries must not be negative")
        if not _TOKEN_SHAPE.match(token):
            raise ValueError("The login token is empty or contains characters a token cannot have.")
        self.server_url = normalize_server_url(server_url)
        self._api_root = self.server_url + API_PREFIX
        self._token = token
        self._authorization = f"Bearer {token}"
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.request_timeout = request_timeout
        self.user_agent = user_agent
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_rate_limit_wait = max_rate_limit_wait
        self.stats = ClientStats()
        self.pacer = Pacer(concurrency=concurrency)
        self.server_clock = ServerClock()
        self.random = random.Random()
        self._slots = RequestSlots(concurrency)
        self._session: aiohttp.ClientSession | None = None
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=request_timeout, sock_read=request_timeout
        )

    def __repr__(self) -> str:
        return f"MattermostClient(server_url={self.server_url!r}, concurrency={self.concurrency})"

    async def __aenter__(self) -> Self:
        connector = aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=self.concurrency)
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            headers={"User-Agent": self.user_agent, "X-Requested-With": "XMLHttpRequest"},
            timeout=self._timeout,
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def backoff_delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter: spreads retries of many clients over time."""
        return self.random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))

    # -- transport -------------------------------------------------------------------------------

    @asynccontextmanager
    async def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        allow_redirects: bool = False,
        urgent: bool = True,
    ) -> AsyncIterator[tuple[aiohttp.ClientResponse, float]]:
        """One HTTP exchange inside a request slot (`urgent=False`: after every waiting API read), after
        the pacer's go-ahead."""
        if self._session is None:
            raise RuntimeError("MattermostClient must be used as `async with MattermostClient(...)`")
        request_headers = {"Authorization": self._authorization, **(headers or {})}
        async with self._slots.slot(urgent=urgent):
            sent_at = await self.pacer.wait_turn()
            self.stats.requests += 1
            answered = False
            try:
                async with self._session.request(
                    method,
                    URL(self._api_root + path, encoded=True),
                    params=params,
                    json=json_body,
                    headers=request_headers,
                    allow_redirects=allow_redirects,
                ) as response:
                    self.pacer.answered()
                    if not response.history and "Age" not in response.headers:
                        # Only the server's own, fresh answers tell its time (not a cache, not a
                        # file store a download was redirected to).
                        self.server_clock.observe(response.headers.get("Date"))
                    answered = True
                    yield response, sent_at
            finally:
                if not answered:
                    self.pacer.answered()

    async def _read_limited(self, response: aiohttp.ClientResponse, limit: int) -> bytes | None:
        """The whole body, or None when it is larger than `limit`."""
        chunks: list[bytes] = []
        total = 0
        async for chunk in response.content.iter_chunked(DOWNLOAD_CHUNK_BYTES):
            total += len(chunk)
            self.stats.bytes_received += len(chunk)
            if total > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _redact(self, text: str) -> str:
        """Server-supplied text may echo the token (a hostile redirect, say); it never reaches a message."""
        return text.replace(self._token, "[token]")

    def _transport_error(self, exc: BaseException, what: str) -> MattermostError:
        detail = self._redact(str(exc))[:300] or type(exc).__name__
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            return TransportError(
                f"The server's TLS certificate was not accepted for {what}: {detail}", what=what
            )
        if isinstance(exc, aiohttp.TooManyRedirects):
            return BadResponse(f"The server redirected {what} in a loop.", what=what)
        return TransportError(
            f"Could not get an answer from the Mattermost server at {self.server_url} for {what} "
            f"(server unreachable or connection dropped): {detail}",
            what=what,
        )

    @staticmethod
    def _is_permanent_transport_error(exc: BaseException) -> bool:
        return isinstance(
            exc,
            aiohttp.ClientConnectorCertificateError
            | aiohttp.InvalidURL
            | aiohttp.NonHttpUrlClientError
            | aiohttp.TooManyRedirects,
        )

    async def _request_json(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, json_body: Any = None
    ) -> tuple[Any, CIMultiDictProxy[str]]:
        what = f"{method} {API_PREFIX}{path}"
        attempts = _Attempts(self, what)
        while True:
            try:
                async with self._exchange(method, path, params=params, json_body=json_body) as (
                    response,
                    sent_at,
                ):
                    info = RateLimitInfo.from_headers(response.headers)
                    if response.status == 429:
                        await self._read_limited(response, MAX_ERROR_BODY_BYTES)
                        attempts.after_rate_limit(info, sent_at)
                        continue
                    self.pacer.observe(info)
                    attempts.rate_limited_in_a_row = 0
                    status, headers = response.status, response.headers
                    if 200 <= status < 300:
                        return self._decode_json(
                            await self._read_limited(response, MAX_JSON_BYTES), headers, what
                        ), headers
                    error_body = await self._read_limited(response, MAX_ERROR_BODY_BYTES) or b""
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = self._transport_error(exc, what)
                if self._is_permanent_transport_error(exc):
                    raise error from exc
                await attempts.after_fault(error)
                continue
            except _RetryableBody as exc:
                await attempts.after_fault(BadResponse(f"{exc} for {what}.", what=what))
                continue
            location = self._redact(headers.get("Location", ""))
            error = _status_error(status, _AppError.from_body(error_body), what, location)
            if status in _RETRYABLE_STATUSES or (status >= 500 and status != 501):
                server_pause = info.retry_after if status == 503 else None
                await attempts.after_fault(error, server_pause=server_pause)
                continue
            raise error

    @staticmethod
    def _decode_json(body: bytes | None, headers: Mapping[str, str], what: str) -> Any:
        if body is None:
            raise BadResponse(f"The answer to {what} is larger than {MAX_JSON_BYTES} bytes.", what=what)
        if "text/html" in headers.get("Content-Type", "").lower():
            raise BadResponse(
                f"The server answered {what} with a web page instead of data. Check the server address "
                "(a login portal or proxy may be in the way).",
                what=what,
            )
        try:
            return jsoncodec.parse(body)
        except (ValueError, RecursionError) as exc:
            raise _RetryableBody("The server sent incomplete or invalid JSON") from exc

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        data, _ = await self._request_json("GET", path, params=params)
        return data

    async def _post(self, path: str, body: Any) -> Any:
        data, _ = await self._request_json("POST", path, json_body=body)
        return data

    @staticmethod
    def _parsed(what: str, parse: Callable[[Any], T], data: Any) -> T:
        try:
            return parse(data)
        except BadResponse as exc:
            raise BadResponse(
                f"Unexpected answer from the server to {what}: {exc.message}.", what=what
            ) from exc

    async def _get_model(
        self, path: str, parse: Callable[[Any], T], params: Mapping[str, str] | None = None
    ) -> T:
        return self._parsed(f"GET {API_PREFIX}{path}", parse, await self._get(path, params))

    async def _get_list(
        self, path: str, parse: Callable[[Any], T], kind: str, params: Mapping[str, str] | None = None
    ) -> list[T]:
        return self._parsed(
            f"GET {API_PREFIX}{path}",
            lambda data: parse_list(data, parse, kind),
            await self._get(path, params),
        )

    async def _post_list(self, path: str, body: Any, parse: Callable[[Any], T], kind: str) -> list[T]:
        return self._parsed(
            f"POST {API_PREFIX}{path}",
            lambda data: parse_list(data, parse, kind),
            await self._post(path, body),
        )

    # -- endpoints --------------------------------------------------------------------------------

    async def ping(self) -> ServerPing:
        data, headers = await self._request_json("GET", "/system/ping")
        return self._parsed(
            f"GET {API_PREFIX}/system/ping",
            lambda d: ServerPing.from_json(d, headers.get("X-Version-Id")),
            data,
        )

    async def get_me(self) -> User:
        return await self._get_model("/users/me", User.from_json)

    async def get_my_teams(self) -> list[Team]:
        return await self._get_list("/users/me/teams", Team.from_json, "team")

    async def get_my_channels(self, include_deleted: bool = True) -> list[Channel]:
        """All channels of the user across teams; falls back to one list per team on servers before 6.1."""
        params = {"include_deleted": _flag(include_deleted)}
        try:
            return await self._get_list("/users/me/channels", Channel.from_json, "channel", params)
        except NotFound:
            log.info("GET /users/me/channels is not available; listing channels team by team")
        channels: dict[str, Channel] = {}
        for team in await self.get_my_teams():
            for channel in await self.get_my_team_channels(team.id, include_deleted):
                channels.setdefault(channel.id, channel)
        return list(channels.values())

    async def get_my_team_channels(self, team_id: str, include_deleted: bool = True) -> list[Channel]:
        """The team's channels of the user plus every DM/GM; a 404 means the user has none."""
        path = f"/users/me/teams/{_require_id(team_id, 'team id')}/channels"
        try:
            return await self._get_list(
                path, Channel.from_json, "channel", {"include_deleted": _flag(include_deleted)}
            )
        except NotFound:
            return []

    async def get_channel(self, channel_id: str) -> Channel:
        return await self._get_model(f"/channels/{_require_id(channel_id, 'channel id')}", Channel.from_json)

    async def get_channel_members(
        self, channel_id: str, page: int = 0, per_page: int = MAX_PER_PAGE
    ) -> list[ChannelMember]:
        path = f"/channels/{_require_id(channel_id, 'channel id')}/members"
        return await self._get_list(
            path, ChannelMember.from_json, "channel member", {"page": str(page), "per_page": str(per_page)}
        )

    async def get_my_team_channel_members(self, team_id: str) -> list[ChannelMember]:
        path = f"/users/me/teams/{_require_id(team_id, 'team id')}/channels/members"
        return await self._get_list(path, ChannelMember.from_json, "channel member")

    async def get_users_in_channel(
        self, channel_id: str, page: int = 0, per_page: int = MAX_PER_PAGE
    ) -> list[User]:
        params = {
            "in_channel": _require_id(channel_id, "channel id"),
            "page": str(page),
            "per_page": str(per_page),
        }
        return await self._get_list("/users", User.from_json, "user", params)

    async def get_sidebar_categories(self, team_id: str) -> SidebarCategories:
        path = f"/users/me/teams/{_require_id(team_id, 'team id')}/channels/categories"
        return await self._get_model(path, SidebarCategories.from_json)

    async def get_posts(
        self,
        channel_id: str,
        *,
        page: int = 0,
        per_page: int = MAX_PER_PAGE,
        before: str | None = None,
        after: str | None = None,
        since: int | None = None,
        skip_fetch_threads: bool = True,
    ) -> PostList:
        """A page of a channel, newest first; never asks for collapsed threads: replies must be included."""
        params = {"skipFetchThreads": _flag(skip_fetch_threads)}
        if since is not None:
            params["since"] = str(since)
        else:
            params.update(page=str(page), per_page=str(per_page))
            if before is not None:
                params["before"] = _require_id(before, "before")
            if after is not None:
                params["after"] = _require_id(after, "after")
        return await self._get_model(
            f"/channels/{_require_id(channel_id, 'channel id')}/posts", PostList.from_json, params
        )

    async def get_post_thread(
        self,
        post_id: str,
        *,
        per_page: int | None = None,
        from_post: str | None = None,
        from_create_at: int | None = None,
        direction: str | None = None,
    ) -> PostList:
        """A thread (root and replies); with `per_page`, one keyset page (`has_next`: more follow).

        Never sends `skipFetchThreads`: on this endpoint `true` makes the server return the root alone.
        """
        params: dict[str, str] = {}
        if per_page is not None:
            params["perPage"] = str(per_page)
        if from_post is not None:
            params["fromPost"] = _require_id(from_post, "from_post")
        if from_create_at is not None:
            params["fromCreateAt"] = str(from_create_at)
        if direction is not None:
            params["direction"] = direction
        return await self._get_model(
            f"/posts/{_require_id(post_id, 'post id')}/thread", PostList.from_json, params
        )

    async def iter_thread(self, post_id: str, per_page: int = MAX_PER_PAGE) -> AsyncIterator[PostList]:
        """Pages through a thread oldest first with the server's tie-safe (create_at, id) cursor."""
        cursor: tuple[int, str] | None = None
        while True:
            page = await self.get_post_thread(
                post_id,
                per_page=per_page,
                from_post=cursor[1] if cursor else None,
                from_create_at=cursor[0] if cursor else None,
                direction="down",
            )
            yield page
            if not page.has_next:
                return
            replies = [(post.create_at, post.id) for post in page.posts.values() if post.id != post_id]
            newest = max(replies, default=None)
            if newest is None or (cursor is not None and newest <= cursor):
                what = f"GET {API_PREFIX}/posts/{post_id}/thread"
                raise BadResponse(f"The server's thread pages for {what} do not advance.", what=what)
            cursor = newest

    async def get_posts_by_ids(self, post_ids: Iterable[str]) -> list[Post]:
        ids = [_require_id(post_id, "post id") for post_id in _unique(post_ids)]
        posts: list[Post] = []
        for chunk in _chunks(ids, MAX_POSTS_BY_IDS):
            posts.extend(await self._post_list("/posts/ids", chunk, Post.from_json, "post"))
        return posts

    async def get_reactions_for_posts(self, post_ids: Iterable[str]) -> dict[str, tuple[Reaction, ...]]:
        ids = [_require_id(post_id, "post id") for post_id in _unique(post_ids)]
        reactions: dict[str, tuple[Reaction, ...]] = {}
        for chunk in _chunks(ids, REACTIONS_BY_IDS_CHUNK):
            what = f"POST {API_PREFIX}/posts/ids/reactions"
            reactions.update(
                self._parsed(what, parse_reactions_by_post, await self._post("/posts/ids/reactions", chunk))
            )
        return reactions

    async def get_users_by_ids(self, user_ids: Iterable[str]) -> list[User]:
        """Unknown ids are left out by the server; deactivated users are included."""
        ids = [_require_id(user_id, "user id") for user_id in _unique(user_ids)]
        users: list[User] = []
        for chunk in _chunks(ids, USERS_BY_IDS_CHUNK):
            users.extend(await self._post_list("/users/ids", chunk, User.from_json, "user"))
        return users

    async def list_custom_emoji(self, page: int = 0, per_page: int = MAX_PER_PAGE) -> list[Emoji]:
        """One page of custom emoji by name; raises FeatureDisabled when the server has them switched off."""
        params = {"page": str(page), "per_page": str(per_page), "sort": "name"}
        return await self._get_list("/emoji", Emoji.from_json, "emoji", params)

    async def get_file_info(self, file_id: str) -> FileInfo:
        return await self._get_model(f"/files/{_require_id(file_id, 'file id')}/info", FileInfo.from_json)

    # -- downloads --------------------------------------------------------------------------------

    def _open_part_file(self, part: Path, *, append: bool) -> BinaryIO:
        """Opens the `.part` file a download streams into (a seam for disk-full tests)."""
        return part.open("ab" if append else "wb")

    async def download(
        self,
        path: str,
        dest: Path,
        *,
        max_bytes: int | None = None,
        if_none_match: str | None = None,
    ) -> DownloadResult:
        """Streams `GET /api/v4<path>` into `dest` atomically: via `dest.part`, fsynced, then renamed.

        The last write, the fsync and the rename happen after the request slot is given back: a
        slot waits for the network only, not for the disk. An interrupted download leaves only
        `dest.part`; the next attempt resumes it with a Range request when the server supports
        that. A full disk raises the OSError (errno ENOSPC) as is.
        """
        what = f"GET {API_PREFIX}{path}"
        part = dest.with_name(dest.name + ".part")
        attempts = _Attempts(self, what)
        while True:
            received: _Received | None = None
            offset = _partial_size(part)
            headers = {"Accept-Encoding": "identity"}
            if offset:
                headers["Range"] = f"bytes={offset}-"
            if if_none_match is not None:
                headers["If-None-Match"] = if_none_match
            try:
                async with self._exchange(
                    "GET", path, headers=headers, allow_redirects=True, urgent=False
                ) as (
                    response,
                    sent_at,
                ):
                    info = RateLimitInfo.from_headers(response.headers)
                    if response.status == 429:
                        await self._read_limited(response, MAX_ERROR_BODY_BYTES)
                        attempts.after_rate_limit(info, sent_at)
                        continue
                    self.pacer.observe(info)
                    attempts.rate_limited_in_a_row = 0
                    status, headers_in = response.status, response.headers
                    if status == 304:
                        return DownloadResult(0, None, headers_in.get("ETag", if_none_match), True)
                    if status in (200, 206):
                        received = await self._stream_to_part(response, part, offset, max_bytes, what)
                    else:
                        error_body = await self._read_limited(response, MAX_ERROR_BODY_BYTES) or b""
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = self._transport_error(exc, what)
                if self._is_permanent_transport_error(exc):
                    raise error from exc
                await attempts.after_fault(error)
                continue
            except _RetryableBody as exc:
                await attempts.after_fault(BadResponse(f"{exc} for {what}.", what=what))
                continue
            if received is not None:
                await asyncio.to_thread(
                    self._write_part,
                    part,
                    received.tail,
                    received.hasher,
                    append=received.append,
                    finish_into=dest,
                )
                return received.result()
            if status == 416 and offset:
                _discard(part)
                await attempts.after_fault(BadResponse(f"The server refused to resume {what}.", what=what))
                continue
            location = self._redact(headers_in.get("Location", ""))
            error = _status_error(status, _AppError.from_body(error_body), what, location)
            if status in _RETRYABLE_STATUSES or (status >= 500 and status != 501):
                await attempts.after_fault(error, server_pause=info.retry_after if status == 503 else None)
                continue
            raise error

    async def _stream_to_part(
        self,
        response: aiohttp.ClientResponse,
        part: Path,
        offset: int,
        max_bytes: int | None,
        what: str,
    ) -> _Received:
        """Writes in batches of a MiB; the last batch is left for the caller to write and finish
        outside the request slot (a small file then takes one thread hop, rename included).

        After a dropped connection what arrived is still written, so the next attempt can resume
        (it hashes the `.part` file's bytes from disk then).
        """
        try:
            start, expected_total = _content_span(response, offset)
        except _RetryableBody:
            _discard(part)
            raise
        if expected_total is not None and max_bytes is not None and expected_total > max_bytes:
            _discard(part)
            raise FileTooLarge(
                f"{what} is {expected_total} bytes, more than the limit of {max_bytes} bytes; not saved.",
                what=what,
            )
        hasher = hashlib.sha256()
        if start:
            await asyncio.to_thread(_hash_prefix, part, start, hasher)
        append = bool(start)
        written = start
        pending = bytearray()
        try:
            async for chunk in response.content.iter_chunked(DOWNLOAD_CHUNK_BYTES):
                self.stats.bytes_received += len(chunk)
                written += len(chunk)
                if max_bytes is not None and written > max_bytes:
                    raise FileTooLarge(
                        f"{what} is larger than the limit of {max_bytes} bytes; not saved.", what=what
                    )
                pending += chunk
                if len(pending) >= WRITE_BATCH_BYTES:
                    await asyncio.to_thread(self._write_part, part, bytes(pending), hasher, append=append)
                    append = True
                    pending.clear()
        except FileTooLarge:
            _discard(part)
            raise
        except (aiohttp.ClientError, TimeoutError):
            await asyncio.to_thread(self._write_part, part, bytes(pending), None, append=append)
            raise
        if expected_total is not None and written != expected_total:
            await asyncio.to_thread(self._write_part, part, bytes(pending), None, append=append)
            raise _RetryableBody(f"The download ended after {written} of {expected_total} bytes")
        return _Received(
            tail=bytes(pending),
            hasher=hasher,
            append=append,
            size=written,
            etag=response.headers.get("ETag"),
            content_type=response.headers.get("Content-Type"),
        )

    def _write_part(
        self, part: Path, data: bytes, hasher: Any, *, append: bool, finish_into: Path | None = None
    ) -> None:
        """Appends `data` to the `.part` file; with `finish_into`, also fsyncs and renames it there.

        Runs in a worker thread and hashes there too: hashing in the event loop made the loop and
        the writer threads pass the GIL back and forth (about 0.3 ms lost per small download).
        The file's bytes are fsynced before the rename, so the final name never shows unwritten
        data. The directory is not fsynced per file (that cost about 10 ms a file): the export
        engine renames the file once more and only then records it, with its sha256, in SQLite.
        A crash that loses the directory entry normally loses that later record too, and the next
        run fetches the file again; should the record survive, `verify` reports the file missing
        instead of the archive silently holding damaged bytes.
        """
        if hasher is not None:
            hasher.update(data)
        if not append:
            part.parent.mkdir(parents=True, exist_ok=True)
        with self._open_part_file(part, append=append) as handle:
            handle.write(data)
            if finish_into is not None:
                handle.flush()
                os.fsync(handle.fileno())
        if finish_into is not None:
            os.replace(part, finish_into)

    async def download_file(
        self, file_id: str, dest: Path, *, max_bytes: int | None = None
    ) -> DownloadResult:
        return await self.download(f"/files/{_require_id(file_id, 'file id')}", dest, max_bytes=max_bytes)

    async def download_file_thumbnail(self, file_id: str, dest: Path) -> DownloadResult | None:
        """The server's JPEG thumbnail, or None when the file has none."""
        return await self._download_optional(f"/files/{_require_id(file_id, 'file id')}/thumbnail", dest)

    async def download_file_preview(self, file_id: str, dest: Path) -> DownloadResult | None:
        """The server's JPEG preview, or None when the file has none."""
        return await self._download_optional(f"/files/{_require_id(file_id, 'file id')}/preview", dest)

    async def _download_optional(self, path: str, dest: Path) -> DownloadResult | None:
        try:
            return await self.download(path, dest)
        except BadRequest:
            return None

    async def download_user_image(self, user_id: str, dest: Path, etag: str | None = None) -> DownloadResult:
        """The profile picture; pass the ETag of the saved copy to skip an unchanged one (304)."""
        return await self.download(
            f"/users/{_require_id(user_id, 'user id')}/image", dest, if_none_match=etag
        )

    async def download_emoji_image(self, emoji_id: str, dest: Path) -> DownloadResult:
        return await self.download(f"/emoji/{_require_id(emoji_id, 'emoji id')}/image", dest)


@dataclass
class _Received:
    """A body that arrived in full; `tail` is its last, not yet written batch."""

    tail: bytes
    hasher: Any
    append: bool
    size: int
    etag: str | None
    content_type: str | None

    def result(self) -> DownloadResult:
        return DownloadResult(
            size=self.size,
            sha256=self.hasher.hexdigest(),
            etag=self.etag,
            not_modified=False,
            content_type=self.content_type,
        )


def _content_span(response: aiohttp.ClientResponse, offset: int) -> tuple[int, int | None]:
    """(first byte this body holds, expected total size); refuses a 206 that does not start at `offset`."""
    length = response.content_length
    if response.status != 206:
        return 0, length
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    if match is None or int(match.group(1)) != offset:
        raise _RetryableBody("The server resumed the download at the wrong place")
    total = match.group(3)
    return offset, int(total) if total != "*" else (offset + length if length is not None else None)


def _partial_size(part: Path) -> int:
    try:
        return part.stat().st_size
    except FileNotFoundError:
        return 0


def _discard(part: Path) -> None:
    part.unlink(missing_ok=True)


def _hash_prefix(part: Path, size: int, hasher: Any) -> None:
    with part.open("rb") as handle:
        remaining = size
        while remaining:
            block = handle.read(min(remaining, WRITE_BATCH_BYTES))
            if not block:
                raise _RetryableBody("The partial download shrank while resuming")
            hasher.update(block)
            remaining -= len(block)
