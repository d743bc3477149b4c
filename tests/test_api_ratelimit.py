"""Rate limits per API token: the token bucket (hand-computed with a fake clock) and the
429 problem+json with Retry-After through a real HTTP server."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine

from api import app as api_app
from api.ratelimit import RATE_LIMITS, TokenBuckets
from settings import Settings
from store.tokens import create_token
from tests.fake_cameras import GatewayThread
from tests.test_api_features import call


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_bucket_allows_the_burst_then_the_rate() -> None:
    clock = Clock()
    b = TokenBuckets(rate_per_s=2.0, burst=3, clock=clock)
    assert [b.take(b"k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert b.take(b"k") == pytest.approx(0.5)  # empty: one token in 1/2 s
    assert b.take(b"k") == pytest.approx(0.5)  # a refused request spends nothing
    clock.t += 0.25
    assert b.take(b"k") == pytest.approx(0.25)
    clock.t += 0.25
    assert b.take(b"k") == 0.0
    assert b.take(b"other") == 0.0  # buckets are per key
    clock.t += 100
    assert [b.take(b"k") for _ in range(4)][-1] > 0  # refills to the burst, not beyond


def test_zero_rate_is_no_limit_and_buckets_are_bounded() -> None:
    assert not TokenBuckets(0, 5).enabled
    clock = Clock()
    b = TokenBuckets(rate_per_s=1.0, burst=2, clock=clock, max_keys=10)
    for i in range(10):
        b.take(str(i).encode())
    clock.t += 5  # all idle and full again: dropped when room is needed
    b.take(b"new")
    assert len(b) == 1
    for i in range(30):  # none idle: the most recent half is kept
        b.take(str(i).encode())
    assert len(b) <= 10


@pytest.fixture(scope="module")
def limited(city_url: str) -> Iterator[tuple[GatewayThread, list[str]]]:
    engine = create_engine(city_url)
    with engine.begin() as conn:
        tokens = [create_token(conn, f"rl-{uuid.uuid4().hex[:8]}", user_name="rl", role="viewer",
                               jurisdiction_code=None) for _ in range(2)]  # fmt: skip
    settings = Settings(api_rate_per_s=0.5, api_burst=3)
    api = GatewayThread(lambda: api_app.create_app(settings, engine)).start()
    yield api, tokens
    api.stop()
    engine.dispose()


def test_a_token_over_its_rate_gets_429_with_retry_after(
    limited: tuple[GatewayThread, list[str]],
) -> None:
    api, (tok, other) = limited
    url = f"{api.base}/collections"
    assert [call("GET", url, tok).status for _ in range(3)] == [200, 200, 200]
    r = call("GET", url, tok)
    assert r.status == 429 and r.problem
    assert r.body["status"] == 429 and "retry after" in r.body["detail"]
    assert int(r.headers["Retry-After"]) == 2  # one request per 2 s, rounded up
    assert call("GET", url, other).status == 200  # another token has its own bucket
    assert call("GET", f"{api.base}/health").status == 200  # no token: not limited here
    # unknown tokens are limited too (before any database work), and still get 401 first
    bad = "slt_not-a-token"
    assert [call("GET", url, bad).status for _ in range(4)] == [401, 401, 401, 429]
    assert api.app is not None
    digest = hashlib.blake2b(f"Bearer {tok}".encode(), digest_size=16).digest()
    assert api.app[RATE_LIMITS].take(digest) > 0  # keyed by a digest, not the token
