"""The Huey queue and the coalescing waker.

Huey is only the fast wake-up path: tasks carry job ids, the ``jobs`` table is
the record. ``SqliteHuey`` under the var dir by default, ``RedisHuey`` when
``STOREFLOW_REDIS_URL`` is set, ``MemoryHuey`` in immediate mode (tests). The
instance is built by the runtime factory, never at import.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from huey import MemoryHuey, RedisHuey, SqliteHuey
from huey.api import Huey

from storeflow.core import config

log = logging.getLogger(__name__)


def build_huey(settings: config.Settings) -> Huey:
    if settings.queue_immediate:
        return MemoryHuey("storeflow", immediate=True)
    if settings.redis_url:
        return RedisHuey("storeflow", url=settings.redis_url)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("storeflow", filename=str(settings.queue_path))


class Waker:
    """Coalesce wake-ups: at most one enqueue per interval per process.

    A request that commits new jobs calls :meth:`wake`. If nothing was enqueued
    within the interval, the ids go out at once; otherwise they join a batch that a
    timer flushes at the end of the interval. Every commit is therefore followed by
    an enqueue within one interval, without one queue write per request. A failed
    enqueue is logged and dropped: the jobs are durable and the sweeper finds them.
    """

    def __init__(self, enqueue: Callable[[list[int]], None], interval: float) -> None:
        self._enqueue = enqueue
        self._interval = interval
        self._lock = threading.Lock()
        self._pending: set[int] = set()
        self._timer: threading.Timer | None = None
        self._last = 0.0

    def wake(self, job_ids: Iterable[int]) -> None:
        flush_now = False
        with self._lock:
            self._pending.update(job_ids)
            if not self._pending or self._timer is not None:
                return
            wait = self._last + self._interval - time.monotonic()
            if wait <= 0:
                flush_now = True
            else:
                self._timer = threading.Timer(wait, self.flush)
                self._timer.daemon = True
                self._timer.start()
        if flush_now:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            ids = sorted(self._pending)
            self._pending.clear()
            self._timer = None
            self._last = time.monotonic()
        if not ids:
            return
        try:
            self._enqueue(ids)
        except Exception:  # the sweeper will find these jobs; never fail the request
            log.warning("could not wake workers for jobs %s", ids, exc_info=True)
