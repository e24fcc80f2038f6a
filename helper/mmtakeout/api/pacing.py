"""Client-wide request pacing that follows the server's rate limiter.

One `Pacer` is shared by every request of a client, so when the server says "slow down" (a 429, a
`Retry-After`, an exhausted `X-RateLimit-Remaining`) every request waits, not only the one that was
told.

Mattermost's limiter is a token bucket (GCRA): `X-RateLimit-Limit` is the bucket size (burst + 1),
`X-RateLimit-Remaining` the tokens left and `X-RateLimit-Reset` the whole seconds until the bucket is
full again, on every response while rate limiting is on. The pacer sends freely while the bucket is
well filled. Once `Remaining` (minus requests still on their way) drops to a small cushion, it paces
requests at the refill rate plus a correction for how far the bucket is from the cushion. The refill
rate is measured by token accounting (tokens granted = tokens spent + growth of the bucket) over the
last seconds, so the bucket neither runs dry (429s) nor overflows (unused allowance), and a long
export runs at close to the permitted rate. When `Remaining` reaches 0 on a success, the next
request waits for one token's worth of time (for a token bucket that is when the next request is
allowed; a server that means a fixed window answers 429 with `Retry-After`, which is honoured).
Servers or proxies that only send 429 (no `Remaining`) get a multiplicative slowdown on each 429
and a gradual speed-up in between.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Self

PROPORTIONAL_SECONDS = 2.0
"""Time over which a surplus or shortfall of tokens (relative to the cushion) is spent or rebuilt."""

SLOWDOWN_FACTOR = 0.9
"""Rate multiplier applied when the server answers 429 although we were pacing."""

STEEP_SLOWDOWN_FACTOR = 0.5
"""Used instead when the previous 429 was recent: the rate is still far too high."""

STEEP_SLOWDOWN_WITHIN = 3.0
"""Seconds after a slowdown during which another 429 calls for the steep factor."""

SPEEDUP_PER_SECOND = 0.05
"""Relative rate increase per second without a 429, when the server gives no `Remaining` to steer by."""

PROBING_SPEEDUP_PER_SECOND = 0.5
"""The same while no rate has been seen to fail yet (the first guess may be far too low)."""

CEILING_RECOVERY_PER_SECOND = 0.003
"""How fast the rate that last caused a 429 stops being an upper bound (such servers only)."""

FULL_BUCKET_SPEEDUP = 1.5
"""Estimate multiplier when the bucket filled up although requests were queued behind the pacer."""

MIN_RATE = 0.1
"""Requests per second never go below this, however unhappy the server looks."""

MAX_RATE = 1000.0
"""Above this estimated rate pacing is pointless; the pacer stops spacing requests."""

DEFAULT_RATE = 1.0
"""Starting rate after a 429 when the server tells us nothing about its limits."""

MAX_BLOCK_SECONDS = 3600.0
"""A single server-requested pause is capped at this (the caller's own budget is usually smaller)."""

MEASURE_WINDOW_SECONDS = 10.0
"""The refill rate is measured over (at most) this many recent seconds."""

MIN_MEASURE_SECONDS = 1.0
"""…and only once at least this much time is covered, so rounding of `Remaining` does not dominate."""

_RECENT_WINDOW_SECONDS = 5.0


def _parse_seconds(value: str | None, now_wall: float) -> float | None:
    """Delta seconds, or an HTTP date (allowed for `Retry-After`); None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now_wall
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_BLOCK_SECONDS)


def _parse_count(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        count = int(value.strip())
    except ValueError:
        return None
    return count if count >= 0 else None


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """The rate-limit headers of one response; None for what the server did not send."""

    limit: int | None
    remaining: int | None
    reset: float | None
    retry_after: float | None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], now_wall: float | None = None) -> Self:
        wall = time.time() if now_wall is None else now_wall
        return cls(
            limit=_parse_count(headers.get("X-RateLimit-Limit")),
            remaining=_parse_count(headers.get("X-RateLimit-Remaining")),
            reset=_parse_seconds(headers.get("X-RateLimit-Reset"), wall),
            retry_after=_parse_seconds(headers.get("Retry-After"), wall),
        )

    def refill_rate_estimate(self) -> float | None:
        """Tokens per second from the time the bucket needs to refill (rounding makes it an underestimate)."""
        if self.limit is None or self.remaining is None or not self.reset:
            return None
        missing = self.limit - self.remaining
        return missing / self.reset if missing > 0 else None


def _can_steer_by(info: RateLimitInfo) -> bool:
    """`Remaining` is useful unless the bucket is so small (no burst) that it always reads 0."""
    return info.remaining is not None and (info.limit is None or info.limit > 2)


class Pacer:
    """Decides when the next request of a client may start; see the module docstring."""

    def __init__(self, *, concurrency: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._concurrency = concurrency
        self._blocked_until = 0.0
        self._next_start = 0.0
        self._rate: float | None = None
        self._rate_estimate = DEFAULT_RATE
        self._ceiling: float | None = None
        self._steered_by_remaining = False
        self._last_slowdown_at = -math.inf
        self._last_speedup_at = -math.inf
        self._recent_starts: deque[float] = deque(maxlen=1024)
        self._in_flight = 0
        self._accepted = 0
        self._estimated = False
        self._samples: deque[tuple[float, int, int]] = deque()

    @property
    def rate(self) -> float | None:
        """Requests per second the pacer currently allows, or None while it does not pace."""
        return self._rate

    @property
    def blocked_until(self) -> float:
        return self._blocked_until

    def block(self, seconds: float) -> None:
        """Holds back every request for `seconds` (a server-requested pause)."""
        until = self._clock() + min(max(seconds, 0.0), MAX_BLOCK_SECONDS)
        self._blocked_until = max(self._blocked_until, until)

    def reserve(self) -> float:
        """Claims the next start slot and returns its time; `wait_turn` is the async way to use it."""
        now = self._clock()
        start = max(now, self._blocked_until)
        if self._rate is not None:
            start = max(start, self._next_start)
            self._next_start = start + 1.0 / self._rate
        return start

    async def wait_turn(self) -> float:
        """Waits until this request may start; returns the start time (clock of this pacer)."""
        while True:
            start = self.reserve()
            delay = start - self._clock()
            if delay > 0:
                await asyncio.sleep(delay)
            if self._blocked_until <= start:
                self.started(start)
                return start

    def started(self, at: float) -> None:
        """Records that a request went out; pair with `answered` once its response (or failure) arrives."""
        self._recent_starts.append(at)
        self._in_flight += 1

    def answered(self) -> None:
        self._in_flight = max(self._in_flight - 1, 0)

    def _recent_rate(self, now: float) -> float | None:
        """Requests started per second lately (at least over one second, so a short burst is not inflated)."""
        while self._recent_starts and self._recent_starts[0] < now - _RECENT_WINDOW_SECONDS:
            self._recent_starts.popleft()
        if len(self._recent_starts) < 2:
            return None
        return len(self._recent_starts) / max(now - self._recent_starts[0], 1.0)

    def _cushion(self, limit: int | None) -> int:
        """Tokens kept in reserve so that requests already on their way never meet an empty bucket."""
        if limit is None:
            return max(2, self._concurrency)
        return max(1, min(self._concurrency, limit // 10))

    def _set_rate(self, rate: float) -> None:
        self._rate = None if rate >= MAX_RATE else max(rate, MIN_RATE)

    def observe(self, info: RateLimitInfo) -> None:
        """Learns from any response that was not a 429."""
        now = self._clock()
        if _can_steer_by(info):
            self._steer_by_remaining(info, now)
        elif self._rate is not None and not self._steered_by_remaining:
            elapsed = min(now - self._last_speedup_at, 1.0)
            self._last_speedup_at = now
            if self._ceiling is not None:
                self._ceiling *= 1 + CEILING_RECOVERY_PER_SECOND * elapsed
                speedup = self._rate * (1 + SPEEDUP_PER_SECOND * elapsed)
                self._set_rate(min(speedup, 0.98 * self._ceiling))
            else:
                self._set_rate(self._rate * (1 + PROBING_SPEEDUP_PER_SECOND * elapsed))

    def _steer_by_remaining(self, info: RateLimitInfo, now: float) -> None:
        """Requests still on their way will take tokens too, so they count against `Remaining`."""
        assert info.remaining is not None
        remaining = info.remaining - self._in_flight
        cushion = self._cushion(info.limit)
        self._accepted += 1
        full = info.limit is not None and info.remaining >= info.limit - 1
        if full:
            self._samples.clear()
        else:
            self._samples.append((now, info.remaining, self._accepted))
        measured = self._measured_rate()
        if measured is not None:
            self._rate_estimate = measured
        if full:
            if self._rate is not None and self._next_start > now:
                self._rate_estimate *= FULL_BUCKET_SPEEDUP
            self._steered_by_remaining = False
            self._rate = None
            return
        if not self._steered_by_remaining:
            if remaining > cushion:
                return
            self._steered_by_remaining = True
            if measured is None and not self._estimated:
                self._rate_estimate = info.refill_rate_estimate() or self._rate or DEFAULT_RATE
            self._estimated = True
        self._set_rate(
            max(self._rate_estimate + (remaining - cushion) / PROPORTIONAL_SECONDS, self._rate_estimate / 4)
        )
        if info.remaining == 0:
            self.block(1.0 / self._rate_estimate)

    def _measured_rate(self) -> float | None:
        """Refill rate from token accounting: tokens granted = tokens spent + growth of the bucket.

        Only over a stretch where the bucket never was full (a full bucket discards its refill).
        """
        samples = self._samples
        while len(samples) > 2 and samples[-1][0] - samples[0][0] > MEASURE_WINDOW_SECONDS:
            samples.popleft()
        if len(samples) < 2 or samples[-1][0] - samples[0][0] < MIN_MEASURE_SECONDS:
            return None
        (first_at, first_remaining, first_count), (last_at, last_remaining, last_count) = (
            samples[0],
            samples[-1],
        )
        granted = (last_count - first_count) + (last_remaining - first_remaining)
        return max(granted / (last_at - first_at), MIN_RATE)

    def observe_rate_limited(self, info: RateLimitInfo, sent_at: float, backoff: float) -> float:
        """Learns from a 429, pauses the whole client and returns the pause in seconds.

        `backoff` is the pause to use when the server does not say how long to wait.
        """
        now = self._clock()
        if info.retry_after is not None:
            pause = info.retry_after
        elif info.reset is not None and info.remaining == 0 and info.limit:
            pause = info.reset / info.limit
        else:
            pause = backoff
        self.block(pause)
        if sent_at > self._last_slowdown_at:
            self._slow_down(info, now)
        return pause

    def _slow_down(self, info: RateLimitInfo, now: float) -> None:
        """Once per pacing period: a 429 on a request sent before the last slowdown says nothing new."""
        factor = (
            STEEP_SLOWDOWN_FACTOR if now - self._last_slowdown_at < STEEP_SLOWDOWN_WITHIN else SLOWDOWN_FACTOR
        )
        self._last_slowdown_at = now
        if self._rate is None:
            estimate = info.refill_rate_estimate() or (
                SLOWDOWN_FACTOR * recent if (recent := self._recent_rate(now)) is not None else DEFAULT_RATE
            )
            self._rate_estimate = estimate
            self._estimated = True
            self._set_rate(estimate)
            if _can_steer_by(info):
                self._steered_by_remaining = True
            return
        self._ceiling = self._rate
        if not self._steered_by_remaining:
            self._rate_estimate = self._rate
        self._rate_estimate = max(self._rate_estimate * factor, MIN_RATE)
        self._set_rate(min(self._rate * factor, self._rate_estimate))
