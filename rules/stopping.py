"""Stop conditions, checked before every step and whenever something could make them true.

A run stops when any of these holds (``storeflow.rules.compiler`` evaluates each one):

- the subscriber is unsubscribed or suppressed (always, whatever the sequence says);
- ``has_tag``: the subscriber has the tag now;
- ``field_changed``: a ``subscriber.*`` field differs from its value when the run
  started (``enrollments.subscriber_snapshot``), optionally to a matching value;
- ``event_received``: an event of the stop's name (with its filters and ``match``
  rules) occurred **after the entry event occurred**. Occurrence times, not arrival
  times: an order placed after the cart was started stops the cart run even when
  its webhook arrives late, and an order placed before never does.

When they are checked:

- before every step, including the first, in the transaction that claims the step's
  send (``storeflow.rules.runner``). This check reads the stored events itself, historical
  ones included (a purchase found by a store sync still counts), so it does not
  depend on event jobs having run;
- when an event arrives (its event job), for the subscriber's running enrollments;
- after a tag step or any event (attributes such as ``ordersCount`` change with
  orders): ``has_tag`` and ``field_changed`` of the subscriber's runs;
- on unsubscribe: every running enrollment of the subscriber.

Every stop records its reason on the enrollment (``stop_reason``) and on the step
that did not run; an email or webhook step that was due gets a ``skipped`` ledger row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.statuses import EnrollmentStop
from storeflow.core.storage.tables import Enrollment, Event, Subscriber
from storeflow.rules import ledger
from storeflow.rules.enrollments import entry_time, finish, record_step, subscriber_view
from storeflow.rules.sequences import CompanyRules, Loaded

EXTERNAL_KINDS = ("email", "webhook")


def stop_reason(
    session: Session, enrollment: Enrollment, loaded: Loaded, view: dict[str, Any]
) -> str | None:
    """Why the run must stop now, or None. Reads the stored events (see the docstring)."""
    compiled = loaded.compiled
    reason = compiled.subscriber_stop_reason(view)
    if reason:
        return reason
    reason = compiled.field_stop_reason(enrollment.subscriber_snapshot or {}, view)
    if reason:
        return reason
    if not compiled.stop_events:
        return None
    started = entry_time(enrollment)
    later = session.execute(
        select(Event.id, Event.name, Event.properties, Event.occurred_at)
        .where(
            Event.subscriber_id == enrollment.subscriber_id,
            Event.name.in_(sorted(compiled.stop_events)),
            Event.occurred_at > started,
            Event.id != enrollment.entry_event_id,
        )
        .order_by(Event.occurred_at, Event.id)
    )
    for event_id, name, properties, occurred_at in later:
        reason = compiled.stop_reason(
            enrollment.entry_properties or {}, name, properties or {}, occurred_at, started, view
        )
        if reason:
            return f"{reason} (event {event_id})"
    return None


def stop(
    session: Session,
    enrollment: Enrollment,
    loaded: Loaded | None,
    reason: str,
    *,
    status: EnrollmentStop = "stopped",
) -> None:
    """End the run with its reason; the step it was waiting for is marked skipped."""
    position = enrollment.next_step
    node = loaded.program.at(position) if loaded is not None else None
    finish(enrollment, status, reason)
    if node is None:
        return
    now = clock.now()
    record_step(session, enrollment, position, node.kind, "skipped", now, f"{status}: {reason}")
    if node.kind in EXTERNAL_KINDS:
        ledger.hold(
            session,
            enrollment,
            position,
            channel=node.kind,
            priority=loaded.priority if loaded else 50,
            status="skipped",
            reason=f"{status}: {reason}",
        )


def active_runs(session: Session, subscriber_id: int) -> list[Enrollment]:
    """The subscriber's active runs, oldest first."""
    return list(
        session.scalars(
            select(Enrollment)
            .where(Enrollment.subscriber_id == subscriber_id, Enrollment.status == "active")
            .order_by(Enrollment.id)
        )
    )


def stop_on_event(
    session: Session,
    event: Event,
    rules: CompanyRules,
    view: dict[str, Any],
    active: list[Enrollment] | None = None,
) -> list[int]:
    """Stop the subscriber's runs that this event stops; returns their ids.

    ``active`` is the subscriber's active runs when the caller has read them already.
    """
    stopped = []
    runs = active if active is not None else active_runs(session, event.subscriber_id or 0)
    for enrollment in runs:
        if enrollment.status != "active":
            continue
        loaded = rules.by_row.get(enrollment.sequence_id)
        if loaded is None or enrollment.entry_event_id == event.id:
            continue
        reason = loaded.compiled.stop_reason(
            enrollment.entry_properties or {},
            event.name,
            event.properties or {},
            occurred_at=event.occurred_at,
            enrolled_at=entry_time(enrollment),
            subscriber=view,
        )
        if reason:
            stop(session, enrollment, loaded, f"{reason} (event {event.id})")
            stopped.append(enrollment.id)
    return stopped


def recheck_subscriber(
    session: Session,
    subscriber: Subscriber,
    rules: CompanyRules,
    view: dict[str, Any] | None = None,
    active: list[Enrollment] | None = None,
) -> list[int]:
    """Stop runs whose subscriber-side conditions now hold (status, has_tag, field_changed)."""
    view = view if view is not None else subscriber_view(subscriber)
    stopped = []
    runs = active if active is not None else active_runs(session, subscriber.id)
    for enrollment in runs:
        if enrollment.status != "active":
            continue
        loaded = rules.by_row.get(enrollment.sequence_id)
        if loaded is None:
            continue
        reason = loaded.compiled.subscriber_stop_reason(view) or loaded.compiled.field_stop_reason(
            enrollment.subscriber_snapshot or {}, view
        )
        if reason:
            stop(session, enrollment, loaded, reason)
            stopped.append(enrollment.id)
    return stopped


def stop_all(session: Session, subscriber_id: int, rules: CompanyRules, reason: str) -> int:
    """Stop every running enrollment of the subscriber (unsubscribe)."""
    runs = active_runs(session, subscriber_id)
    for enrollment in runs:
        stop(session, enrollment, rules.by_row.get(enrollment.sequence_id), reason)
    return len(runs)


def cancel_sequence(session: Session, sequence_id: int, loaded: Loaded | None, reason: str) -> int:
    """Cancel every running enrollment of a sequence (deleted)."""
    runs = list(
        session.scalars(
            select(Enrollment).where(
                Enrollment.sequence_id == sequence_id, Enrollment.status == "active"
            )
        )
    )
    for enrollment in runs:
        stop(session, enrollment, loaded, reason, status="cancelled")
    return len(runs)


def unsubscribe(session: Session, subscriber: Subscriber, rules: CompanyRules, how: str) -> int:
    """Unsubscribe (the caller holds the subscriber's lock) and stop every running enrollment."""
    if subscriber.status == "active":
        subscriber.status = "unsubscribed"
    return stop_all(session, subscriber.id, rules, f"subscriber unsubscribed ({how})")
