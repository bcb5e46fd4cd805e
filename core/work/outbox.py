"""The outbox: jobs as rows, claimed with a lease, swept when lost.

Huey delivers at most once, so the ``jobs`` table is the record of all pending
work. A job is added in the same transaction as the change that calls for it;
after commit the worker is woken (``storeflow.core.work.queue``). Workers claim due
jobs in batches with one statement (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so
concurrent claims never overlap; SQLite: the claim holds the database's write
lock), each with a lease, and complete them in batches. The sweeper puts jobs whose
lease expired back to pending, parks exhausted ones as ``dead`` and prunes finished
ones, so the table stays as small as the work still to do.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

import attrs
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.statuses import JobStatus
from storeflow.core.storage.db import rows_changed
from storeflow.core.storage.tables import Job, Message
from storeflow.core.storage.upsert import insert_ignore

NEW_JOBS = "storeflow.new_jobs"
# Why a send whose claim expired is ``unknown``: it may or may not have left.
UNKNOWN_REASON = "the sender stopped after claiming the message; it may or may not have been sent"


def add(
    session: Session,
    *,
    company_id: int,
    kind: str,
    key: str,
    ref_id: int | None = None,
    payload: dict[str, Any] | None = None,
    available_at: datetime | None = None,
) -> int | None:
    """Queue a job unless one with the same (company, kind, key) exists; return its id."""
    when = available_at or clock.now()
    job_id = insert_ignore(
        session,
        Job.__table__,
        {
            "company_id": company_id,
            "kind": kind,
            "key": key,
            "ref_id": ref_id,
            "payload": payload or {},
            "status": "pending",
            "attempts": 0,
            "available_at": when,
            "created_at": clock.now(),
        },
        ["company_id", "kind", "key"],
    )
    if job_id is not None:
        # Read by the session's after_commit listener, which wakes the workers.
        session.info.setdefault(NEW_JOBS, []).append((job_id, when))
    return job_id


def claim(session: Session, job_id: int, lease_seconds: float) -> Job | None:
    """Take the job if it is due and free (or its holder's lease ran out)."""
    now = clock.now()
    claimed = rows_changed(
        session,
        update(Job)
        .where(
            Job.id == job_id,
            or_(
                and_(Job.status == "pending", Job.available_at <= now),
                and_(Job.status == "running", Job.lease_until < now),
            ),
        )
        .values(
            status="running",
            attempts=Job.attempts + 1,
            lease_until=now + timedelta(seconds=lease_seconds),
        )
        .execution_options(synchronize_session=False),
    )
    if claimed != 1:
        return None
    return session.execute(select(Job).where(Job.id == job_id)).scalar_one()


def claim_batch(
    session: Session,
    *,
    limit: int,
    lease_seconds: float,
    kinds: Collection[str] | None = None,
    exclude: Collection[str] = (),
) -> list[Job]:
    """Take up to ``limit`` due pending jobs (of ``kinds``, not of ``exclude``), oldest due
    first, with a lease.

    One ``WITH due AS (SELECT ... LIMIT n) UPDATE ... RETURNING``; on PostgreSQL the
    CTE locks its rows with ``SKIP LOCKED``, so two workers claiming at once take
    disjoint batches.
    """
    now = clock.now()
    due = (
        select(Job.id)
        .where(Job.status == "pending", Job.available_at <= now)
        .order_by(Job.available_at, Job.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if kinds is not None:
        due = due.where(Job.kind.in_(sorted(kinds)))
    if exclude:
        due = due.where(Job.kind.not_in(sorted(exclude)))
    # A CTE is evaluated once; ``id IN (SELECT ... LIMIT n)`` may be re-run by the
    # planner and then claim more than ``n`` rows.
    chosen = due.cte("due")
    claimed = session.scalars(
        update(Job)
        .where(Job.id == chosen.c.id, Job.status == "pending")
        .values(
            status="running",
            attempts=Job.attempts + 1,
            lease_until=now + timedelta(seconds=lease_seconds),
        )
        .returning(Job)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).all()
    return sorted(claimed, key=lambda job: (job.available_at, job.id))


def complete_many(session: Session, held: Collection[tuple[int, int]]) -> set[int]:
    """Mark jobs done that we still hold (id, attempt); returns the ids that were."""
    if not held:
        return set()
    attempts = dict(held)
    now = clock.now()
    rows = session.execute(
        update(Job)
        .where(Job.id.in_(sorted(attempts)), Job.status == "running")
        .values(status="done", done_at=now, lease_until=None)
        .returning(Job.id, Job.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    done = {job_id for job_id, attempt in rows if attempts.get(job_id) == attempt}
    if len(done) != len(rows):
        raise LostLease(f"jobs {sorted(set(attempts) - done)} were re-claimed")
    return done


class LostLease(RuntimeError):
    """Someone else re-claimed a job after our lease expired; our work is rolled back."""


def jobs_by_id(session: Session, job_ids: Collection[int]) -> list[Job]:
    """The rows of jobs a worker holds, in one query."""
    if not job_ids:
        return []
    return list(session.scalars(select(Job).where(Job.id.in_(sorted(job_ids)))))


def due_count(session: Session, limit: int) -> int:
    """How many pending jobs are due now, counting at most ``limit``."""
    now = clock.now()
    due = (
        select(Job.id).where(Job.status == "pending", Job.available_at <= now).limit(limit)
    ).subquery()
    return int(session.scalar(select(func.count()).select_from(due)) or 0)


def due_ids(session: Session, limit: int) -> list[int]:
    now = clock.now()
    return list(
        session.scalars(
            select(Job.id)
            .where(Job.status == "pending", Job.available_at <= now)
            .order_by(Job.available_at, Job.id)
            .limit(limit)
        )
    )


def complete(session: Session, job_id: int, attempt: int) -> bool:
    """Mark done, but only if we still hold it (nobody re-claimed it after our lease)."""
    done = rows_changed(
        session,
        update(Job)
        .where(Job.id == job_id, Job.status == "running", Job.attempts == attempt)
        .values(status="done", done_at=clock.now(), lease_until=None)
        .execution_options(synchronize_session=False),
    )
    return done == 1


def fail(session: Session, job_id: int, attempt: int, error: str, max_attempts: int) -> JobStatus:
    """Record a failed attempt: retry later with backoff, or park as dead."""
    status: JobStatus = "dead" if attempt >= max_attempts else "pending"
    delay = min(3600.0, 2.0**attempt)
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "running", Job.attempts == attempt)
        .values(
            status=status,
            last_error=error[:4000],
            lease_until=None,
            available_at=clock.now() + timedelta(seconds=delay),
        )
        .execution_options(synchronize_session=False)
    )
    return status


@attrs.frozen
class SweepReport:
    due: int  # pending jobs due now, after the expired leases were put back
    requeued: int
    dead: int
    unknown_messages: int
    pruned: int


def sweep(
    session: Session,
    *,
    max_attempts: int,
    retention: timedelta = timedelta(hours=1),
    limit: int = 1000,
) -> SweepReport:
    """Find lost work. Computed from table state, so a skipped tick loses nothing."""
    now = clock.now()
    expired = select(Job.id, Job.attempts).where(Job.status == "running", Job.lease_until < now)
    rows = session.execute(expired.limit(limit)).all()
    exhausted = [job_id for job_id, attempts in rows if attempts >= max_attempts]
    retry = [job_id for job_id, attempts in rows if attempts < max_attempts]
    if exhausted:
        session.execute(
            update(Job)
            .where(Job.id.in_(exhausted), Job.status == "running", Job.lease_until < now)
            .values(
                status="dead",
                lease_until=None,
                last_error=f"lease expired on attempt {max_attempts} of {max_attempts}; "
                "the worker probably died mid-job",
            )
            .execution_options(synchronize_session=False)
        )
    requeued = 0
    if retry:
        # Back to pending, keeping the attempt count: the next batch claim takes them.
        requeued = rows_changed(
            session,
            update(Job)
            .where(Job.id.in_(retry), Job.status == "running", Job.lease_until < now)
            .values(status="pending", lease_until=None)
            .execution_options(synchronize_session=False),
        )
    # A message claimed for sending whose lease ran out may or may not have reached
    # the SMTP server: never resend blindly; surface it as unknown.
    unknown = rows_changed(
        session,
        update(Message)
        .where(Message.status == "sending", Message.lease_until < now)
        .values(
            status="unknown",
            reason=UNKNOWN_REASON,
            lease_until=None,
        )
        .execution_options(synchronize_session=False),
    )
    return SweepReport(
        due=due_count(session, limit),
        requeued=requeued,
        dead=len(exhausted),
        unknown_messages=unknown,
        pruned=prune(session, before=now - retention, limit=limit * 10),
    )


def prune(session: Session, *, before: datetime, limit: int = 10_000) -> int:
    """Delete up to ``limit`` jobs finished before ``before`` (their effects are recorded
    elsewhere: deliveries, events, the send ledger); dead jobs stay for operators."""
    old = (
        select(Job.id)
        .where(Job.status == "done", Job.done_at < before)
        .order_by(Job.done_at)
        .limit(limit)
    )
    return rows_changed(
        session,
        delete(Job)
        .where(Job.id.in_(old.scalar_subquery()))
        .execution_options(synchronize_session=False),
    )
