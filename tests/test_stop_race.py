"""Stop vs send on PostgreSQL: an order committed before the claim always wins.

200 pairs race, each in its own threads: (A) an ``ecommerce.order_placed`` for a
subscriber is committed, (B) the step job that would email that subscriber runs.
The step's decision is stretched by a random pause between "decided and claimed"
and its commit, which is exactly where an unlocked implementation goes wrong: the
order commits during the pause, invisible to the decision already taken.

A violation is a claimed (and then sent) email whose step transaction started
committing only after the order's commit had returned. With the subscriber row
lock (``storeflow.core.storage.locks``) taken by both sides there are none: either the order commits
first and the step, waiting on the lock, then sees it, or the step commits first
and the order waits.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from storeflow.core import clock
from storeflow.core.storage.tables import Enrollment, Job, Message
from storeflow.core.work import tasks
from tests.rulekit import CART, ORDER, define, email_step, emit, line, no_cap, order, sequence

pytestmark = pytest.mark.postgres

PAIRS = 200


def _due_jobs(rt, kind: str) -> list[int]:
    with rt.unit_of_work() as session:
        return list(
            session.scalars(
                select(Job.id)
                .where(Job.kind == kind, Job.status == "pending", Job.available_at <= clock.now())
                .order_by(Job.id)
            )
        )


def test_an_order_committed_before_the_claim_always_wins(rt, tenant, monkeypatch):
    rt.waker = None  # the threads run the jobs
    no_cap(rt, tenant.company_id)
    define(rt, tenant.company_id, sequence("cart", event=CART, steps=[email_step("Come back")]))
    emails = [f"racer{i}@example.com" for i in range(PAIRS)]
    for email in emails:
        emit(rt, tenant.company_id, CART, email)
    for job_id in _due_jobs(rt, "event"):
        tasks.execute(rt, job_id)
    with rt.unit_of_work() as session:
        step_jobs = {
            email: job_id
            for email, job_id in session.execute(
                select(Enrollment.email, Job.id)
                .join(Job, Job.ref_id == Enrollment.id)
                .where(Job.kind == "step", Job.status == "pending")
            )
        }
    assert len(step_jobs) == PAIRS

    handler = rt.job_kinds["step"]
    original = handler.prepare
    claimed_at: dict[int, float] = {}  # step job id -> when its transaction starts committing

    def slow_prepare(rt_, session, job):
        plan = original(rt_, session, job)
        if plan is not None:
            time.sleep(random.uniform(0, 0.004))  # decided and claimed; not yet committed
            claimed_at[job.id] = time.monotonic()
        return plan

    monkeypatch.setattr(handler, "prepare", slow_prepare)
    order_committed: dict[str, float] = {}

    def place_order(email: str, start: threading.Barrier) -> None:
        start.wait()
        time.sleep(random.uniform(0, 0.003))
        emit(rt, tenant.company_id, ORDER, email, order(line("1")))
        order_committed[email] = time.monotonic()

    def run_step(email: str, start: threading.Barrier) -> None:
        start.wait()
        time.sleep(random.uniform(0, 0.003))
        tasks.execute(rt, step_jobs[email])

    def race(email: str) -> None:
        start = threading.Barrier(2)
        pair = [
            threading.Thread(target=place_order, args=(email, start)),
            threading.Thread(target=run_step, args=(email, start)),
        ]
        for thread in pair:
            thread.start()
        for thread in pair:
            thread.join()

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(race, emails))

    with rt.unit_of_work() as session:
        sent = {
            email: job_id
            for email, job_id in session.execute(
                select(Message.email, Job.id)
                .join(Job, Job.ref_id == Message.enrollment_id)
                .where(Message.status == "sent", Job.kind == "step")
            )
        }
    violations = [
        email
        for email, job_id in sent.items()
        if order_committed[email] < claimed_at[job_id]  # the order was in before the claim
    ]
    assert violations == [], f"{len(violations)} email(s) sent after the order committed"
    # Both outcomes happened: the race was real.
    assert 0 < len(sent) < PAIRS, len(sent)
    for job_id in _due_jobs(rt, "event"):
        tasks.execute(rt, job_id)
    with rt.unit_of_work() as session:
        statuses = dict(session.execute(select(Enrollment.email, Enrollment.status)).all())
    assert all(statuses[email] == "stopped" for email in emails if email not in sent)
