"""Rate limiting (GCRA, like the server's `throttled` limiter) and seeded fault injection."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["500", "502", "503", "reset", "truncate"]
ALL_FAULT_KINDS: tuple[FaultKind, ...] = ("500", "502", "503", "reset", "truncate")


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_after_s: float
    retry_after_s: float

    def headers(self) -> dict[str, str]:
        """The server's X-RateLimit-* headers; Retry-After only on a refusal (reference §3.1)."""
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_after_s)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(math.ceil(self.retry_after_s))
        return headers


@dataclass(slots=True)
class RateLimiter:
    """Generic cell rate algorithm: `per_second` sustained, `burst` extra requests at once.

    Like `throttled`, the advertised limit is burst + 1 and the reset is a delta in seconds.
    """

    per_second: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _arrivals: dict[str, float] = field(default_factory=dict)

    def check(self, key: str) -> RateDecision:
        interval = 1.0 / self.per_second
        tolerance = interval * (self.burst + 1)
        now = self.clock()
        theoretical = max(self._arrivals.get(key, now), now)
        new_theoretical = theoretical + interval
        allow_at = new_theoretical - tolerance
        difference = now - allow_at
        limit = self.burst + 1
        if difference < 0:
            return RateDecision(False, limit, 0, theoretical - now, -difference)
        self._arrivals[key] = new_theoretical
        remaining = min(limit - 1, int(difference / interval + 1e-9))
        return RateDecision(True, limit, remaining, new_theoretical - now, 0.0)


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What a fault hook sees about a request (never any credential)."""

    method: str
    path: str
    route: str
    sequence: int


FaultHook = Callable[[RequestInfo], FaultKind | None]


@dataclass(slots=True)
class FaultInjector:
    """Decides per request, from a seeded generator, whether and how the response fails."""

    rate: float
    kinds: tuple[FaultKind, ...]
    seed: int
    hook: FaultHook | None = None
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(f"faults-{self.seed}")

    def decide(self, info: RequestInfo) -> FaultKind | None:
        if self.hook is not None:
            chosen = self.hook(info)
            if chosen is not None:
                return chosen
        if self.rate <= 0 or not self.kinds:
            return None
        if self._rng.random() >= self.rate:
            return None
        return self._rng.choice(self.kinds)

    def retry_after_for_503(self) -> int | None:
        """503s sometimes carry Retry-After (proxies and maintenance pages do)."""
        return self._rng.choice((None, 1, 2))
