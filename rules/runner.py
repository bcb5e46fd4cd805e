"""The sequence runner: save, pause, resume and delete sequences; react to events.

:data:`RULES_ENGINE` is the event consumer the rules plugin registers
(``storeflow.rules.plugin``): for each live event, under the subscriber's lock, it
stops the running enrollments the event stops (``storeflow.rules.stopping``),
re-checks subscriber-side stops (attributes change with orders), then matches the
company's active sequences (``RuleIndex``: by event name and product) and enrols
under each re-entry policy (``storeflow.rules.entry``). The steps of a run are
the ``step`` job kind (``storeflow.rules.steps``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.storage.locks import locked_subscriber
from storeflow.core.storage.tables import Enrollment, EnrollmentStep, Event, Sequence, Subscriber
from storeflow.rules import schema, sequences, stopping
from storeflow.rules.enrollments import subscriber_view
from storeflow.rules.entry import enroll
from storeflow.rules.steps import STEP_JOBS

if TYPE_CHECKING:
    from storeflow.core.runtime import Runtime

log = logging.getLogger(__name__)


def save_sequence(
    session: Session, company_id: int, seq: schema.Sequence, source: str = "api"
) -> Sequence:
    """Create or replace a sequence; resuming a paused one reschedules its waiting runs."""
    row, previous = sequences.save(session, company_id, seq, source)
    if previous == "paused" and row.status == "active":
        resume(session, row)
    return row


def delete_sequence(session: Session, row: Sequence) -> int:
    """Hide the sequence and cancel its running enrollments; returns how many."""
    loaded = sequences.company_rules(session, row.company_id).by_row.get(row.id)
    sequences.mark_deleted(row)
    return stopping.cancel_sequence(session, row.id, loaded, "sequence deleted")


def resume(session: Session, row: Sequence) -> int:
    """Reschedule the runs that waited at a step because the sequence was paused."""
    waiting = session.execute(
        select(Enrollment, EnrollmentStep.kind)
        .join(
            EnrollmentStep,
            (EnrollmentStep.enrollment_id == Enrollment.id)
            & (EnrollmentStep.position == Enrollment.next_step),
        )
        .where(
            Enrollment.sequence_id == row.id,
            Enrollment.status == "active",
            EnrollmentStep.status == "paused",
        )
    ).all()
    now = clock.now()
    for enrollment, kind in waiting:
        stamp = int(now.timestamp() * 1000)
        STEP_JOBS.add(
            session, enrollment, enrollment.next_step, now, kind=kind, again=f":resume:{stamp}"
        )
    return len(waiting)


# --- event jobs -----------------------------------------------------------------------


class RulesEngine:
    """The event consumer that stops and starts sequence runs on each live event."""

    name = "rules"

    def on_event(self, rt: Runtime, session: Session, event: Event) -> None:
        # Internal steps due now (tags, branches) run in this transaction; sends are jobs.
        with STEP_JOBS.inline(rt, session):
            # Held until the inline steps have run: they find it in the session's
            # identity map (which keeps only weak references) instead of reading it again.
            subscriber = on_event(session, event)  # noqa: F841


RULES_ENGINE = RulesEngine()


def on_event(session: Session, event: Event) -> Subscriber | None:
    """Under the subscriber's lock: stop what the event stops, then enrol where it matches.

    Returns the subscriber it read (None for an event that runs no rules)."""
    if not event.live or event.subscriber_id is None:
        return None
    subscriber = locked_subscriber(session, event.subscriber_id)
    rules = sequences.company_rules(session, event.company_id)
    view = subscriber_view(subscriber)
    active = stopping.active_runs(session, subscriber.id) if rules.by_row else []
    stopping.stop_on_event(session, event, rules, view, active)
    stopping.recheck_subscriber(session, subscriber, rules, view, active)
    for loaded in rules.matching(event.name, event.properties or {}, view):
        enroll(session, loaded, event, subscriber, view)
    return subscriber
