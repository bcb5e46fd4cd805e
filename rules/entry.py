"""Entering a sequence under its re-entry policy.

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
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.storage.tables import Enrollment, Event, Subscriber
from storeflow.core.storage.upsert import insert_ignore_returning
from storeflow.rules.enrollments import ONE_TIME_KEY, finish
from storeflow.rules.program import END
from storeflow.rules.sequences import Loaded
from storeflow.rules.steps import STEP_JOBS


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
    # Any unique key blocks it: the same entry event, or an active run for the same value.
    enrollment = insert_ignore_returning(
        session,
        Enrollment,
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
    )
    if enrollment is None:
        return None
    if loaded.program.first == END:
        finish(enrollment, "completed")
    else:
        STEP_JOBS.add(
            session, enrollment, loaded.program.first, now, kind=loaded.program.nodes[0].kind
        )
    return enrollment.id


def _has_run(session: Session, sequence_id: int, subscriber_id: int) -> bool:
    count = session.scalar(
        select(func.count(Enrollment.id)).where(
            Enrollment.sequence_id == sequence_id, Enrollment.subscriber_id == subscriber_id
        )
    )
    return bool(count)
