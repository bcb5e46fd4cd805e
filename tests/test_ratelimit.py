"""Rate limits: connect requests per address (429 + Retry-After), in process or in Redis."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from storeflow.core import clock, ratelimit
from storeflow.core.errors import RateLimited
from storeflow.core.storage.tables import ConnectRequest
from storeflow.web.woocommerce_plugin import CONNECT_LIMIT
from tests.conftest import TEST_REDIS_URL
from tests.connecting import connect_payload


def _connect(client, ip="203.0.113.7"):
    return client.post(
        "/api/woocommerce/connect",
        json=connect_payload(),
        environ_base={"REMOTE_ADDR": ip},
    )


def test_connect_is_rate_limited_per_address(rt, client):
    codes = [_connect(client).status_code for _ in range(CONNECT_LIMIT.count)]
    assert codes == [201] * CONNECT_LIMIT.count
    limited = _connect(client)
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert 0 < int(limited.headers["Retry-After"]) <= CONNECT_LIMIT.seconds
    with rt.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(ConnectRequest)) == 10

    assert _connect(client, ip="198.51.100.9").status_code == 201  # another address
    clock.travel(timedelta(seconds=CONNECT_LIMIT.seconds))
    assert _connect(client).status_code == 201  # a new window


def test_memory_limiter_counts_per_key_and_window():
    limiter = ratelimit.MemoryLimiter()
    limit = ratelimit.Limit("t", count=2, seconds=60)
    assert limiter.hit(limit, "a") is None and limiter.hit(limit, "a") is None
    assert limiter.hit(limit, "a") is not None
    assert limiter.hit(limit, "b") is None
    with pytest.raises(RateLimited) as exc:
        ratelimit.enforce(limiter, limit, "a", "slow down")
    assert exc.value.status == 429 and int(exc.value.headers["Retry-After"]) >= 1


def test_redis_limiter_lets_requests_through_when_redis_is_down():
    limiter = ratelimit.RedisLimiter("redis://127.0.0.1:1/0")
    limit = ratelimit.Limit("t", count=1, seconds=60)
    assert limiter.hit(limit, "a") is None and limiter.hit(limit, "a") is None


@pytest.mark.redis
def test_redis_limiter_is_shared_between_limiters():
    import redis

    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    limit = ratelimit.Limit("shared", count=2, seconds=60)
    one, two = ratelimit.RedisLimiter(TEST_REDIS_URL), ratelimit.RedisLimiter(TEST_REDIS_URL)
    assert one.hit(limit, "ip") is None and two.hit(limit, "ip") is None
    assert one.hit(limit, "ip") is not None  # the other process's hits count too
