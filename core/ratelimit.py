"""Rate limits: fixed windows counted in process, or in Redis when ``STOREFLOW_REDIS_URL`` is set.

A limit is ``count`` hits per ``seconds`` for one key (a client IP, an email).
Fixed windows are simple and identical in both back ends; their known weakness
(up to twice the rate across a window boundary) is acceptable for the abuse they
guard against (connect-request floods, password guessing). In-process counters
are per web worker, so with N gunicorn workers the effective limit is up to N
times higher: use Redis when that matters.

Windows follow ``storeflow.core.clock`` so tests can travel past them. If Redis is
unreachable the limiter lets requests through (and logs): throttling is a
protection, not a reason to refuse service.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Protocol

import attrs

from storeflow.core import clock
from storeflow.core.config import Settings
from storeflow.core.errors import RateLimited

log = logging.getLogger(__name__)


@attrs.frozen
class Limit:
    name: str  # e.g. "connect"; part of the counter's key
    count: int
    seconds: int


class Limiter(Protocol):
    def hit(self, limit: Limit, key: str) -> float | None:
        """Count one hit; return the seconds to wait when over the limit, else ``None``."""


def _window(limit: Limit) -> tuple[int, float]:
    """The current window's number and the seconds until it ends."""
    now = clock.now().timestamp()
    number = int(now // limit.seconds)
    return number, (number + 1) * limit.seconds - now


class MemoryLimiter:
    """Counters in this process (one web worker), grouped by limit and window.

    Each limit keeps one table of counters per window number; when a window has
    passed, its whole table is dropped in one step. No hit ever walks the counters
    of other keys, however many distinct keys (addresses, emails) a flood brings.
    """

    def __init__(self) -> None:
        self._windows: dict[str, dict[int, dict[str, int]]] = {}
        self._lock = threading.Lock()

    def hit(self, limit: Limit, key: str) -> float | None:
        number, remaining = _window(limit)
        with self._lock:
            windows = self._windows.setdefault(limit.name, {})
            for old in [n for n in windows if n != number]:  # at most one or two
                del windows[old]  # an expired window: all its keys at once
            counts = windows.setdefault(number, {})
            count = counts.get(key, 0) + 1
            counts[key] = count
        return remaining if count > limit.count else None

    def size(self) -> int:
        """How many counters are held (for tests and diagnostics)."""
        with self._lock:
            return sum(len(c) for w in self._windows.values() for c in w.values())


class RedisLimiter:
    """``INCR`` + ``EXPIRE`` on one key per window: shared by every worker and host."""

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)

    def hit(self, limit: Limit, key: str) -> float | None:
        number, remaining = _window(limit)
        name = f"storeflow:ratelimit:{limit.name}:{key}:{number}"
        try:
            pipe = self._redis.pipeline()
            pipe.incr(name)
            pipe.expire(name, limit.seconds + 1)
            count = int(pipe.execute()[0])
        except Exception:  # Redis down: let the request through rather than fail it
            log.warning("rate limiter unavailable; %s not enforced", limit.name, exc_info=True)
            return None
        return remaining if count > limit.count else None


def build(settings: Settings) -> Limiter:
    return RedisLimiter(settings.redis_url) if settings.redis_url else MemoryLimiter()


def enforce(limiter: Limiter, limit: Limit, key: str, message: str) -> None:
    """Count a hit; raise 429 ``rate_limited`` with ``Retry-After`` when over the limit."""
    wait = limiter.hit(limit, key)
    if wait is not None:
        retry_after = max(1, math.ceil(wait))
        raise RateLimited(
            message,
            details=[{"path": "$", "message": f"retry after {retry_after} s"}],
            headers={"Retry-After": str(retry_after)},
        )
