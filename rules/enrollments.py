"""Enrollments: entering a sequence under its re-entry policy, and the run's step history.

Re-entry is enforced by unique keys in the database, not by "check then insert":

- every mode: one enrollment per (sequence, entry event), so a re-delivered or
  re-processed event never enrols twice;
- ``matching_field``: ``active_key = "field:<value>"`` while the run is active, unique
  per (sequence, subscriber), and cleared when the run ends, so a value has at most
  one active run and a new one may start after it ended;
- ``one_time``: ``active_key = "one_time"``, which is **kept** when the run ends, so
  the subscriber can never enter the sequence again, whatever the outcome (an
  earlier run of another mode, before the sequence was switched to ``one_time``,
  also blocks, checked under the subscriber's lock);
- ``unlimited``: no key.

A step position is scheduled as an outbox job (``step:<enrollment>:<position>``);
``next_step`` is the run's cursor, so a job for a position the run has moved past
does nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from storeflow.core import clock
from storeflow.core.storage.tables import Enrollment, EnrollmentStep, Event, Subscriber
from storeflow.core.storage.upsert import insert_ignore
from storeflow.core.work import outbox
from storeflow.rules.program import END
from storeflow.rules.sequences import Loaded

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


def active_key(loaded: Loaded, match_value: str | None) -> str | None:
    mode = loaded.compiled.enrollment.mode
    if mode == "one_time":
        return ONE_TIME_KEY
    if mode == "matching_field":
        return f"field:{match_value}"
    return None


def enroll(
    session: Session,
    loaded: Loaded,
    event: Event,
    subscriber: Subscriber,
    view: dict[str, Any],
) -> int | None:
    """Start a run for the event, or None when the re-entry policy (or a duplicate) blocks it.

    The caller holds the subscriber's lock (``storeflow.core.storage.locks``).
    """
    mode = loaded.compiled.enrollment.mode
    match_value = loaded.compiled.enrollment_key(event.properties)
    if mode == "matching_field" and match_value is None:
        return None  # nothing to match on: the policy cannot be honoured
    if mode == "one_time" and _has_run(session, loaded.row_id, subscriber.id):
        return None
    now = clock.now()
    enrollment_id = insert_ignore(
        session,
        Enrollment.__table__,
        {
            "company_id": event.company_id,
            "sequence_id": loaded.row_id,
            "subscriber_id": subscriber.id,
            "email": subscriber.email,
            "status": "active",
            "entry_event_id": event.id,
            "entry_event_name": event.name,
            "entry_properties": event.properties,
            "entry_occurred_at": event.occurred_at,
            "subscriber_snapshot": view,
            "match_value": match_value,
            "active_key": active_key(loaded, match_value),
            "next_step": loaded.program.first,
            "enrolled_at": now,
        },
        None,  # any unique key: same entry event, or an active run for the same value
    )
    if enrollment_id is None:
        return None
    enrollment = session.get_one(Enrollment, enrollment_id)
    if loaded.program.first == END:
        finish(enrollment, "completed")
    else:
        schedule(session, enrollment, loaded.program.first, now, kind=loaded.program.nodes[0].kind)
    return enrollment_id


def _has_run(session: Session, sequence_id: int, subscriber_id: int) -> bool:
    count = session.scalar(
        select(func.count(Enrollment.id)).where(
            Enrollment.sequence_id == sequence_id, Enrollment.subscriber_id == subscriber_id
        )
    )
    return bool(count)


def schedule(
    session: Session,
    enrollment: Enrollment,
    position: int,
    due: datetime,
    *,
    kind: str,
    again: str = "",
) -> None:
    """Queue the step job; ``again`` names a repeat of the same position (cap, retry)."""
    outbox.add(
        session,
        company_id=enrollment.company_id,
        kind="step",
        key=f"step:{enrollment.id}:{position}{again}",
        ref_id=enrollment.id,
        payload={"position": position},
        available_at=due,
    )
    if position != END:
        record_step(session, enrollment, position, kind, "scheduled", due)


def finish(enrollment: Enrollment, status: str, reason: str | None = None) -> None:
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
    status: str,
    due: datetime,
    detail: str | None = None,
) -> None:
    row = session.scalar(
        select(EnrollmentStep).where(
            EnrollmentStep.enrollment_id == enrollment.id, EnrollmentStep.position == position
        )
    )
    if row is None:
        row = EnrollmentStep(
            company_id=enrollment.company_id,
            enrollment_id=enrollment.id,
            position=position,
            kind=kind,
        )
        session.add(row)
    row.kind = kind
    row.status = status
    row.due_at = due
    row.detail = detail
    waiting = status in ("scheduled", "sending", "delayed", "retrying", "paused")
    row.done_at = None if waiting else clock.now()
    session.flush()


def step_history(session: Session, enrollment_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """``steps`` of each enrollment in the contract's shape, in position order."""
    found: dict[int, list[dict[str, Any]]] = {eid: [] for eid in enrollment_ids}
    if not enrollment_ids:
        return found
    rows = session.scalars(
        select(EnrollmentStep)
        .where(EnrollmentStep.enrollment_id.in_(enrollment_ids))
        .order_by(EnrollmentStep.enrollment_id, EnrollmentStep.position)
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


def to_json(row: Enrollment, sequence_slug: str | None, steps: list[dict[str, Any]]) -> dict:
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
