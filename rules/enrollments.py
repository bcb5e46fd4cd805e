"""Enrollments: a run's state (finish, step history) and its JSON shape.

Entering a sequence under its re-entry policy is ``storeflow.rules.entry``;
running a step is the ``step`` job kind (``storeflow.rules.steps``). ``next_step``
is the run's cursor, so a job for a position the run has moved past does nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.emails import normalize_email
from storeflow.core.statuses import STEP_WAITING, EnrollmentStatus, StepStatus
from storeflow.core.storage import paging
from storeflow.core.storage.tables import Enrollment, EnrollmentStep, Subscriber
from storeflow.core.storage.upsert import upsert

ONE_TIME_KEY = "one_time"


def subscriber_view(subscriber: Subscriber) -> dict[str, Any]:
    """What ``subscriber.*`` paths and templates see: attributes plus the profile fields."""
    return {
        **(subscriber.attributes or {}),
        "email": subscriber.email,
        "firstName": subscriber.first_name,
        "lastName": subscriber.last_name,
        "status": subscriber.status,
        "tags": list(subscriber.tags or []),
    }


def finish(enrollment: Enrollment, status: EnrollmentStatus, reason: str | None = None) -> None:
    """End the run. Frees the ``matching_field`` slot; a ``one_time`` key stays."""
    enrollment.status = status
    enrollment.stop_reason = reason
    if enrollment.active_key != ONE_TIME_KEY:
        enrollment.active_key = None
    enrollment.finished_at = clock.now()


def record_step(
    session: Session,
    enrollment: Enrollment,
    position: int,
    kind: str,
    status: StepStatus,
    due: datetime,
    detail: str | None = None,
) -> None:
    upsert(
        session,
        EnrollmentStep.__table__,
        {
            "company_id": enrollment.company_id,
            "enrollment_id": enrollment.id,
            "position": position,
            "kind": kind,
            "status": status,
            "due_at": due,
            "detail": detail,
            "done_at": None if status in STEP_WAITING else clock.now(),
        },
        ["enrollment_id", "position"],
        ["kind", "status", "due_at", "detail", "done_at"],
    )


def step_history(session: Session, enrollment_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """``steps`` of each enrollment in the contract's shape, in position order."""
    found: dict[int, list[dict[str, Any]]] = {eid: [] for eid in enrollment_ids}
    if not enrollment_ids:
        return found
    rows = session.scalars(
        select(EnrollmentStep)
        .where(EnrollmentStep.enrollment_id.in_(enrollment_ids))
        .order_by(EnrollmentStep.enrollment_id, EnrollmentStep.position)
        # Steps are written by upsert statements, which bypass the identity map.
        .execution_options(populate_existing=True)
    )
    for r in rows:
        found[r.enrollment_id].append(
            {
                "index": r.position,
                "kind": r.kind,
                "status": r.status,
                "dueAt": r.due_at.isoformat(),
                "doneAt": r.done_at.isoformat() if r.done_at else None,
                "detail": r.detail,
            }
        )
    return found


def page(
    session: Session,
    company_id: int,
    *,
    sequence_id: int | None = None,
    email: str | None = None,
    status: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Enrollment], int]:
    """One page of the company's enrollments, newest first, and how many match."""
    query = select(Enrollment).where(Enrollment.company_id == company_id)
    if sequence_id is not None:
        query = query.where(Enrollment.sequence_id == sequence_id)
    if email is not None:
        query = query.where(Enrollment.email == normalize_email(email))
    if status is not None:
        query = query.where(Enrollment.status == status)
    return paging.page(session, query, Enrollment.id.desc(), limit=limit, offset=offset)


def active_count(session: Session, sequence_id: int) -> int:
    """How many runs of the sequence (its row id) are active."""
    count = session.scalar(
        select(func.count(Enrollment.id)).where(
            Enrollment.sequence_id == sequence_id, Enrollment.status == "active"
        )
    )
    return count or 0


def to_json(
    row: Enrollment, sequence_slug: str | None, steps: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "id": row.id,
        "sequenceId": sequence_slug,
        "email": row.email,
        "status": row.status,
        "stopReason": row.stop_reason,
        "enrolledAt": row.enrolled_at.isoformat(),
        "entryEvent": {"id": row.entry_event_id, "name": row.entry_event_name},
        "steps": steps,
        "matchValue": row.match_value,
        "finishedAt": row.finished_at.isoformat() if row.finished_at else None,
    }


def entry_time(enrollment: Enrollment) -> datetime:
    """When the run started, for stop events: the entry event's occurrence."""
    return enrollment.entry_occurred_at or enrollment.enrolled_at


# --- admin pages: counts per step (issue 15) ------------------------------------------------


def step_counts(session: Session, sequence_id: int) -> dict[int, dict[str, int]]:
    """Per step position, how many runs of the sequence have it in each status."""
    rows = session.execute(
        select(EnrollmentStep.position, EnrollmentStep.status, func.count())
        .join(Enrollment, Enrollment.id == EnrollmentStep.enrollment_id)
        .where(Enrollment.sequence_id == sequence_id)
        .group_by(EnrollmentStep.position, EnrollmentStep.status)
    )
    found: dict[int, dict[str, int]] = {}
    for position, status, count in rows:
        found.setdefault(position, {})[status] = int(count)
    return found
