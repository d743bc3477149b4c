"""Rate limits of the HTTP API: a token bucket per bearer token, in memory.

Each token may send ``api_rate_per_s`` requests per second on average and ``api_burst`` at
once; beyond that the API answers 429 problem+json with ``Retry-After`` (whole seconds)
before any database work. Buckets are keyed by a digest of the ``Authorization`` header (the
token is not kept) and live in this process only: a restart refills them, and two API
processes each allow the rate. Requests without a token (public routes, 401s) are not
limited here.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from settings import Settings

MAX_KEYS = 100_000
"""Buckets kept at most; full (idle) buckets are dropped first, then the least recent."""


class TokenBuckets:
    """Token buckets of ``rate_per_s`` (0: no limit) and capacity ``burst``, one per key."""

    def __init__(self, rate_per_s: float, burst: int, *, max_keys: int = MAX_KEYS,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.rate_per_s = float(rate_per_s)
        self.burst = float(max(burst, 1))
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[bytes, list[float]] = {}  # key -> [tokens, last refill time]

    @property
    def enabled(self) -> bool:
        return self.rate_per_s > 0

    def take(self, key: bytes) -> float:
        """Spend one request of ``key``'s bucket: 0.0 when allowed, else the seconds until
        one request is allowed again (nothing is spent)."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now)
            bucket = self._buckets[key] = [self.burst, now]
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate_per_s)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate_per_s

    def _prune(self, now: float) -> None:
        full = [k for k, (tokens, last) in self._buckets.items()
                if tokens + (now - last) * self.rate_per_s >= self.burst]  # fmt: skip
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= self.max_keys:  # none idle: keep the most recent half
            recent = sorted(self._buckets.items(), key=lambda kv: kv[1][1])[-self.max_keys // 2:]
            self._buckets = dict(recent)

    def __len__(self) -> int:
        return len(self._buckets)


RATE_LIMITS = web.AppKey("rate_limits", TokenBuckets)


def buckets_for(settings: Settings) -> TokenBuckets:
    return TokenBuckets(settings.api_rate_per_s, settings.api_burst)


@web.middleware
async def rate_limit(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """429 with Retry-After when the request's token has spent its bucket."""
    from api.app import problem

    header = request.headers.get("Authorization")
    buckets = request.app[RATE_LIMITS]
    if header and buckets.enabled:
        wait_s = buckets.take(hashlib.blake2b(header.encode(), digest_size=16).digest())
        if wait_s > 0:
            retry = max(1, math.ceil(wait_s))
            resp = problem(429, "Too Many Requests",
                           f"this token may send {buckets.rate_per_s:g} requests per second "
                           f"(bursts of {buckets.burst:g}); retry after {retry} s")  # fmt: skip
            resp.headers["Retry-After"] = str(retry)
            return resp
    return await handler(request)
