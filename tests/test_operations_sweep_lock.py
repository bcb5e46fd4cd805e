"""One sweep at a time: the ticker's ``sweep_now`` and Huey's periodic sweep share a lock.

With two lock names, a periodic sweep started while a ticker's sweep ran (or the
other way round) and both claimed the same due timers and expired leases.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from huey.exceptions import TaskLockedException

from storeflow.core.hookspecs import hookimpl
from storeflow.core.runtime import Runtime
from storeflow.core.work import tasks
from storeflow.core.work.jobs import Sweep


class _Blocking:
    """A sweep that waits inside the sweeper until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.runs = 0

    def run(self, _rt: Any, _session: Any) -> None:
        self.runs += 1
        self.entered.set()
        assert self.release.wait(20)

    @hookimpl
    def register_sweeps(self) -> list[Sweep]:
        return [Sweep("test-blocking", self.run)]


@pytest.fixture
def blocking(settings) -> Iterator[tuple[Runtime, _Blocking]]:
    plugin = _Blocking()
    rt = Runtime.build(settings, extra_plugins=[plugin])
    try:
        yield rt, plugin
    finally:
        plugin.release.set()
        rt.close()


def _periodic_sweep(rt: Runtime) -> Any:
    assert rt.huey is not None
    (task,) = [t for t in rt.huey._registry.periodic_tasks if "sweep" in t.name]
    return task


def test_a_periodic_sweep_does_not_start_while_sweep_now_runs(blocking):
    rt, plugin = blocking
    assert rt.tasks is not None and rt.tasks.sweep_now is not None
    sweep_now = rt.tasks.sweep_now
    running = threading.Thread(target=sweep_now.call_local)
    running.start()
    try:
        assert plugin.entered.wait(20)
        with pytest.raises(TaskLockedException):
            _periodic_sweep(rt).execute()
        assert plugin.runs == 1  # the second sweep never started
    finally:
        plugin.release.set()
        running.join(20)
    assert not running.is_alive()
    _periodic_sweep(rt).execute()  # the lock is free again once the first one ended
    assert plugin.runs == 2


def test_sweep_now_does_not_start_while_a_periodic_sweep_runs(blocking):
    rt, plugin = blocking
    assert rt.tasks is not None and rt.tasks.sweep_now is not None
    running = threading.Thread(target=_periodic_sweep(rt).execute)
    running.start()
    try:
        assert plugin.entered.wait(20)
        with pytest.raises(TaskLockedException):
            rt.tasks.sweep_now.call_local()
        assert plugin.runs == 1
    finally:
        plugin.release.set()
        running.join(20)
    assert rt.huey is not None and not rt.huey.is_locked(tasks.SWEEP_LOCK)
