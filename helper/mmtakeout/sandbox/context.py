"""Server configuration and the per-request context handed to endpoint handlers."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web

from mmtakeout.sandbox.faults import ALL_FAULT_KINDS, FaultHook, FaultInjector, FaultKind, RateLimiter
from mmtakeout.sandbox.responses import ApiError, invalid_url_param
from mmtakeout.sandbox.views import ViewSettings
from mmtakeout.sandbox.world import Session, World

SinceTruncation = Literal["spread", "oldest", "newest"]


@dataclass
class SandboxConfig:
    """Server settings and test knobs. Defaults match a stock server with nothing injected."""

    latency_ms: float = 0.0
    rate_limit_per_s: float | None = None
    rate_burst: int = 100
    rate_limit_by_token: bool = False
    fault_rate: float = 0.0
    fault_kinds: tuple[FaultKind, ...] = ALL_FAULT_KINDS
    fault_seed: int = 0
    fault_hook: FaultHook | None = None
    faults_on_login: bool = False
    custom_emoji_enabled: bool = True
    view_archived_channels: bool = True
    channel_list_fault: int | None = None
    """When set, `GET /users/{id}/channels` breaks off after this many channels (truncated JSON)."""
    show_email: bool = False
    show_full_name: bool = True
    link_previews_enabled: bool = True
    strict_csrf: bool = False
    since_truncation: SinceTruncation = "spread"
    """Which 1000 posts a truncated `since` answer holds: spread over the range, or its oldest/newest end."""
    server_version: str = "9.11.0"

    def view_settings(self) -> ViewSettings:
        return ViewSettings(
            show_email=self.show_email,
            show_full_name=self.show_full_name,
            custom_emoji_enabled=self.custom_emoji_enabled,
            link_previews_enabled=self.link_previews_enabled,
        )

    @property
    def version_header(self) -> str:
        return f"{self.server_version}.{self.server_version}.sandbox.false"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request as the sandbox saw it; credentials are never recorded (only where one came from)."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    route: str
    status: int
    auth: str

    @property
    def query_names(self) -> list[str]:
        return [name for name, _ in self.query]


@dataclass
class ServerState:
    world: World
    config: SandboxConfig
    faults: FaultInjector
    limiter: RateLimiter | None
    requests: list[RequestRecord] = field(default_factory=list)
    sequence: int = 0
    request_ids: random.Random = field(default_factory=random.Random)


@dataclass
class Ctx:
    request: web.Request
    params: dict[str, str]
    state: ServerState
    session: Session | None
    request_id: str
    truncate_stream: bool = False

    @property
    def world(self) -> World:
        return self.state.world

    @property
    def config(self) -> SandboxConfig:
        return self.state.config

    @property
    def settings(self) -> ViewSettings:
        return self.state.config.view_settings()

    @property
    def user_id(self) -> str:
        return self.session.user_id if self.session is not None else ""

    def query(self, name: str) -> str:
        return self.request.query.get(name, "")

    def flag(self, name: str) -> bool:
        """Go's `strconv.ParseBool`, with anything unparsable treated as false."""
        return self.query(name) in ("1", "t", "T", "TRUE", "true", "True")

    def page(self) -> int:
        try:
            value = int(self.query("page"))
        except ValueError:
            return 0
        return max(value, 0)

    def per_page(self) -> int:
        """`per_page` (or legacy `pageSize`): garbage or negative → 60, above 200 → 200, 0 allowed."""
        for name in ("per_page", "pageSize"):
            try:
                value = int(self.query(name))
            except ValueError:
                continue
            return 60 if value < 0 else min(value, 200)
        return 60

    def user_param(self) -> str:
        """`{user_id}` with `me` resolved to the session's user; 400 if it is not an id."""
        value = self.params["user_id"]
        if value == "me":
            return self.user_id
        if len(value) != 26:
            raise invalid_url_param("user_id")
        return value

    def id_param(self, name: str) -> str:
        value = self.params[name]
        if len(value) != 26:
            raise invalid_url_param(name)
        return value


Handler = Callable[[Ctx], Awaitable[web.StreamResponse]]
AuthMode = Literal["session", "none"]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    template: str
    handler: Handler
    auth: AuthMode = "session"
    csrf: bool = True


__all__ = ["ApiError", "Ctx", "Route", "SandboxConfig", "ServerState"]
