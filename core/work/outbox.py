"""The outbox: jobs as rows, claimed with a lease, swept when lost.

Huey delivers at most once, so the ``jobs`` table is the record of all pending
work. A job is added in the same transaction as the change that calls for it;
after commit the worker is woken (``storeflow.core.work.queue``). A worker claims a job with a
conditional UPDATE (pending and due, or running with an expired lease), so two
workers can never both hold it. The sweeper re-finds whatever a lost wake-up or a
killed worker left behind.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import attrs
from sqlalchemy import and_, or_, select, update
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
    enqueue: list[int]
    dead: int
    unknown_messages: int


def sweep(session: Session, *, max_attempts: int, limit: int = 1000) -> SweepReport:
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
        enqueue=retry + due_ids(session, limit), dead=len(exhausted), unknown_messages=unknown
    )
