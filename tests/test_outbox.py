"""The outbox: claims, leases, retries, dead jobs, the sweeper and the waker."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from storeflow.core import clock
from storeflow.core.storage.tables import Job
from storeflow.core.work import outbox, tasks
from storeflow.core.work.queue import Waker
from tests.kinds import FnKind


@pytest.fixture(autouse=True)
def no_wake(rt):
    """These tests drive jobs by hand: nothing runs unless a test runs it."""
    waker, rt.waker = rt.waker, None
    yield
    rt.waker = waker


def _job(rt, company_id: int, key: str = "k1", kind: str = "test-noop") -> int:
    with rt.unit_of_work() as session:
        job_id = outbox.add(session, company_id=company_id, kind=kind, key=key)
    assert job_id is not None
    return job_id


def test_same_key_is_queued_once(rt, tenant):
    with rt.unit_of_work() as session:
        first = outbox.add(session, company_id=tenant.company_id, kind="x", key="same")
        second = outbox.add(session, company_id=tenant.company_id, kind="x", key="same")
    assert first is not None and second is None


def test_claim_is_exclusive_until_the_lease_expires(rt, tenant):
    job_id = _job(rt, tenant.company_id)
    with rt.unit_of_work() as session:
        assert outbox.claim(session, job_id, lease_seconds=30) is not None
    with rt.unit_of_work() as session:
        assert outbox.claim(session, job_id, lease_seconds=30) is None
    clock.travel(timedelta(seconds=31))
    with rt.unit_of_work() as session:
        again = outbox.claim(session, job_id, lease_seconds=30)
        assert again is not None and again.attempts == 2


def test_a_job_not_yet_due_cannot_be_claimed(rt, tenant):
    with rt.unit_of_work() as session:
        job_id = outbox.add(
            session,
            company_id=tenant.company_id,
            kind="x",
            key="later",
            available_at=clock.now() + timedelta(hours=1),
        )
    with rt.unit_of_work() as session:
        assert outbox.claim(session, job_id, 30) is None
        assert job_id not in outbox.due_ids(session, 100)


def test_failures_back_off_then_park_as_dead_with_the_reason(rt, tenant):
    calls = []

    def boom(rt_, session, job):
        calls.append(job.attempts)
        raise RuntimeError("store unreachable")

    rt.job_kinds["test-boom"] = FnKind("test-boom", boom)
    try:
        job_id = _job(rt, tenant.company_id, kind="test-boom")
        for _ in range(rt.settings.job_max_attempts):
            assert tasks.execute(rt, job_id)
            clock.travel(timedelta(hours=2))
        with rt.unit_of_work() as session:
            job = session.get_one(Job, job_id)
            assert job.status == "dead"
            assert "store unreachable" in (job.last_error or "")
        assert calls == list(range(1, rt.settings.job_max_attempts + 1))
        assert not tasks.execute(rt, job_id)  # dead jobs are never claimed again
    finally:
        del rt.job_kinds["test-boom"]


def test_sweeper_reruns_expired_leases_and_parks_exhausted_ones(rt, tenant):
    ran = []
    rt.job_kinds["test-noop"] = FnKind("test-noop", lambda rt_, session, job: ran.append(job.id))
    try:
        alive = _job(rt, tenant.company_id, key="alive")
        exhausted = _job(rt, tenant.company_id, key="exhausted")
        with rt.unit_of_work() as session:
            outbox.claim(session, alive, 5)  # a worker claimed it, then died
            session.get_one(Job, exhausted).attempts = rt.settings.job_max_attempts - 1
            session.flush()
            outbox.claim(session, exhausted, 5)
        clock.travel(timedelta(seconds=6))
        report = tasks.sweep(rt)
        assert report.dead == 1
        with rt.unit_of_work() as session:
            assert session.get_one(Job, alive).status == "done"
            dead = session.get_one(Job, exhausted)
            assert dead.status == "dead" and "lease expired" in (dead.last_error or "")
        assert ran == [alive]
    finally:
        del rt.job_kinds["test-noop"]


def test_sweeper_finds_jobs_that_were_never_enqueued(rt, tenant):
    ran = []
    rt.job_kinds["test-noop"] = FnKind("test-noop", lambda rt_, session, job: ran.append(job.id))
    job_id = _job(rt, tenant.company_id)  # committed, but no worker was woken
    try:
        assert ran == []
        tasks.sweep(rt)
        assert ran == [job_id]
        with rt.unit_of_work() as session:
            assert session.scalar(select(Job.status).where(Job.id == job_id)) == "done"
    finally:
        del rt.job_kinds["test-noop"]


def test_waker_coalesces_wakeups_and_delivers_every_id():
    batches: list[list[int]] = []
    done = threading.Event()

    def enqueue(ids: list[int]) -> None:
        batches.append(ids)
        if sum(len(b) for b in batches) == 50:
            done.set()

    waker = Waker(enqueue, interval=0.2)
    for job_id in range(50):
        waker.wake([job_id])
    assert done.wait(2.0)
    assert sorted(i for b in batches for i in b) == list(range(50))
    assert len(batches) == 2  # one immediate, one at the end of the interval


def test_waker_swallows_enqueue_failures():
    def broken(ids: list[int]) -> None:
        raise ConnectionError("queue down")

    waker = Waker(broken, interval=0.0)
    waker.wake([1])  # must not raise: the jobs are durable, the sweeper finds them
    time.sleep(0.01)
