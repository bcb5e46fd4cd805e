"""The sequence runner: enrol on events, run steps, stop when stop conditions hold.

Two job kinds drive it:

- ``event`` (one per live event): stop running enrollments the event stops, then
  match the company's sequences (indexed by event name) and enrol the subscriber,
  subject to the re-entry policy. Unique keys make duplicate enrollments impossible.
- ``step`` (one per enrollment and step position): re-check stop conditions, then
  perform the step. A delay schedules the next step; an email is claimed in the send
  ledger (``messages``, unique per enrollment and step) in the same transaction that
  re-checked the stop conditions, sent outside it, and recorded after it. So a stop
  event committed before the claim always wins, and a step that runs twice sends once.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import attrs
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import clock, jobs, outbox
from core.tables import Enrollment, EnrollmentStep, Event, Message, Sequence, Subscriber
from core.upsert import insert_ignore
from rules import actions as builtin_actions
from rules import compiler, schema

# --- sequences ------------------------------------------------------------------------

_INDEX_CACHE: dict[tuple[str, int], tuple[tuple[Any, ...], Any]] = {}


def save_sequence(
    session: Session, company_id: int, seq: schema.Sequence, source: str = "api"
) -> Sequence:
    """Create or replace a sequence from its validated definition."""
    row = session.scalar(
        select(Sequence).where(Sequence.company_id == company_id, Sequence.slug == seq.id)
    )
    if row is None:
        row = Sequence(company_id=company_id, slug=seq.id)
        session.add(row)
    row.name = seq.name
    row.status = seq.status
    row.priority = seq.priority
    row.trigger_event = seq.trigger.event
    row.definition = schema.unstructure_sequence(seq)
    row.source = source
    row.updated_at = clock.now()
    session.flush()
    return row


@attrs.frozen
class Loaded:
    row_id: int
    slug: str
    priority: int
    compiled: Any


def company_sequences(session: Session, company_id: int) -> dict[int, Loaded]:
    """Compiled active sequences of a company; recompiled only when one changed."""
    stamp = session.execute(
        select(func.count(Sequence.id), func.max(Sequence.updated_at)).where(
            Sequence.company_id == company_id
        )
    ).one()
    cache_key = (str(session.get_bind().url), company_id)
    cached = _INDEX_CACHE.get(cache_key)
    if cached is not None and cached[0] == tuple(stamp):
        return cached[1]
    loaded: dict[int, Loaded] = {}
    for row in session.scalars(
        select(Sequence).where(Sequence.company_id == company_id, Sequence.status == "active")
    ):
        seq = schema.structure_sequence(row.definition)
        loaded[row.id] = Loaded(row.id, row.slug, row.priority, compiler.compile_sequence(seq))
    _INDEX_CACHE[cache_key] = (tuple(stamp), loaded)
    return loaded


def sequence_id_arg(session: Session, company_id: int, value: str) -> int:
    """Accept a sequence's numeric id or its slug in query strings."""
    query = select(Sequence.id).where(Sequence.company_id == company_id)
    query = (
        query.where(Sequence.id == int(value))
        if value.isdigit()
        else query.where(Sequence.slug == value)
    )
    return session.scalar(query) or -1


# --- enrolment ------------------------------------------------------------------------


def subscriber_view(subscriber: Subscriber) -> dict[str, Any]:
    return {
        **(subscriber.attributes or {}),
        "email": subscriber.email,
        "firstName": subscriber.first_name,
        "lastName": subscriber.last_name,
        "status": subscriber.status,
        "tags": list(subscriber.tags or []),
    }


@jobs.handler("event")
def on_event(rt: Any, session: Session, job: Any) -> None:
    event = session.get(Event, job.ref_id)
    if event is None or not event.live or event.subscriber_id is None:
        return
    subscriber = session.get_one(Subscriber, event.subscriber_id)
    sequences = company_sequences(session, event.company_id)
    stop_on_event(session, event, sequences)
    view = subscriber_view(subscriber)
    for loaded in sequences.values():
        result = loaded.compiled.match(event.name, event.properties, view)
        if result.matched:
            enroll(session, loaded, event, subscriber)


def enroll(session: Session, loaded: Loaded, event: Event, subscriber: Subscriber) -> int | None:
    mode = loaded.compiled.enrollment.mode
    match_value = loaded.compiled.enrollment_key(event.properties)
    if mode == "one_time":
        earlier = session.scalar(
            select(func.count(Enrollment.id)).where(
                Enrollment.sequence_id == loaded.row_id, Enrollment.subscriber_id == subscriber.id
            )
        )
        if earlier:
            return None
        active_key: str | None = "one_time"
    elif mode == "matching_field":
        if match_value is None:
            return None  # nothing to match on: the policy cannot be honoured
        active_key = f"field:{match_value}"
    else:
        active_key = None
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
            "match_value": match_value,
            "active_key": active_key,
            "next_step": 0,
            "enrolled_at": now,
        },
        None,  # any unique key: same entry event, or an active run for the same value
    )
    if enrollment_id is not None:
        schedule_step(session, event.company_id, enrollment_id, 0, now)
    return enrollment_id


def schedule_step(
    session: Session, company_id: int, enrollment_id: int, position: int, due: datetime
) -> None:
    outbox.add(
        session,
        company_id=company_id,
        kind="step",
        key=f"step:{enrollment_id}:{position}",
        ref_id=enrollment_id,
        payload={"position": position},
        available_at=due,
    )


# --- stopping -------------------------------------------------------------------------


def finish(enrollment: Enrollment, status: str, reason: str | None = None) -> None:
    enrollment.status = status
    enrollment.stop_reason = reason
    enrollment.active_key = None  # frees the slot for a later run (matching_field)
    enrollment.finished_at = clock.now()


def stop_on_event(session: Session, event: Event, sequences: dict[int, Loaded]) -> None:
    """Stop the subscriber's active enrollments whose stop conditions this event meets."""
    active = session.scalars(
        select(Enrollment).where(
            Enrollment.subscriber_id == event.subscriber_id, Enrollment.status == "active"
        )
    )
    for enrollment in active:
        loaded = sequences.get(enrollment.sequence_id)
        if loaded is None or enrollment.entry_event_id == event.id:
            continue
        reason = loaded.compiled.stop_reason(
            enrollment.entry_properties,
            event.name,
            event.properties,
            occurred_at=event.created_at,
            enrolled_at=enrollment.enrolled_at,
        )
        if reason:
            finish(enrollment, "stopped", reason)


def stop_reason(
    session: Session, enrollment: Enrollment, loaded: Loaded | None, subscriber: Subscriber
) -> str | None:
    """Re-evaluated before every step, including the first."""
    if subscriber.status != "active":
        return f"subscriber is {subscriber.status}"
    if loaded is None:
        return "sequence is no longer active"
    view = subscriber_view(subscriber)
    reason = loaded.compiled.subscriber_stop_reason(view)
    if reason:
        return reason
    # Stop events that arrived since enrolment (their event jobs may not have run yet).
    later = session.scalars(
        select(Event).where(
            Event.subscriber_id == enrollment.subscriber_id,
            Event.created_at > enrollment.enrolled_at,
            Event.id != enrollment.entry_event_id,
            Event.live.is_(True),
        )
    )
    for event in later:
        reason = loaded.compiled.stop_reason(
            enrollment.entry_properties,
            event.name,
            event.properties,
            occurred_at=event.created_at,
            enrolled_at=enrollment.enrolled_at,
            subscriber=view,
        )
        if reason:
            return reason
    return None


# --- steps ----------------------------------------------------------------------------


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
    row.status = status
    row.due_at = due
    row.detail = detail
    row.done_at = clock.now() if status not in ("scheduled", "sending") else None


def step_history(session: Session, enrollment: Enrollment) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(EnrollmentStep)
        .where(EnrollmentStep.enrollment_id == enrollment.id)
        .order_by(EnrollmentStep.position)
    )
    return [
        {
            "index": r.position,
            "kind": r.kind,
            "status": r.status,
            "dueAt": r.due_at.isoformat(),
            "doneAt": r.done_at.isoformat() if r.done_at else None,
            "detail": r.detail,
        }
        for r in rows
    ]


def advance(
    session: Session, enrollment: Enrollment, steps: list[Any], position: int, due: datetime
) -> None:
    enrollment.next_step = position
    if position >= len(steps):
        finish(enrollment, "completed")
    else:
        schedule_step(session, enrollment.company_id, enrollment.id, position, due)


def delay_until(step: dict[str, Any], start: datetime) -> datetime:
    spec = step.get("delay") or {}
    return start + timedelta(
        days=spec.get("days", 0) or 0,
        hours=spec.get("hours", 0) or 0,
        minutes=spec.get("minutes", 0) or 0,
        seconds=spec.get("seconds", 0) or 0,
    )


def message_id_for(company_id: int, enrollment_id: int, position: int) -> str:
    digest = hashlib.sha256(f"{company_id}:{enrollment_id}:{position}".encode()).hexdigest()[:16]
    return f"<sf.{enrollment_id}.{position}.{digest}@storeflow>"


@attrs.frozen
class SendPlan:
    message_id: int
    enrollment_id: int
    position: int
    rendered: builtin_actions.Rendered
    ledger_message_id: str
    action: str


class StepHandler:
    """The ``step`` job: prepare (decide and claim), perform (send), finish (record)."""

    def prepare(self, rt: Any, session: Session, job: Any) -> SendPlan | None:
        position = int(job.payload.get("position", 0))
        enrollment = session.get(Enrollment, job.ref_id)
        if enrollment is None or enrollment.status != "active":
            return None
        seq_row = session.get_one(Sequence, enrollment.sequence_id)
        steps = list((seq_row.definition or {}).get("steps") or [])
        if position >= len(steps):
            finish(enrollment, "completed")
            return None
        step = steps[position]
        kind = next(iter(step))
        subscriber = session.get_one(Subscriber, enrollment.subscriber_id)
        loaded = company_sequences(session, enrollment.company_id).get(seq_row.id)
        now = clock.now()
        reason = stop_reason(session, enrollment, loaded, subscriber)
        if reason:
            finish(enrollment, "stopped", reason)
            record_step(session, enrollment, position, kind, "skipped", now, f"stopped: {reason}")
            _skip_message(session, enrollment, position, kind, reason)
            return None
        if kind == "delay":
            due = delay_until(step, now)
            record_step(
                session, enrollment, position, kind, "done", now, f"until {due.isoformat()}"
            )
            advance(session, enrollment, steps, position + 1, due)
            return None
        action = _actions(rt).get(kind)
        if action is None:
            raise LookupError(f"no action plugin for step {kind!r}")
        ctx = _context(enrollment, position, subscriber)
        if not action.external:
            detail = action.apply(session, ctx, step[kind] or {})
            record_step(session, enrollment, position, kind, "done", now, detail)
            advance(session, enrollment, steps, position + 1, now)
            return None
        return _claim(rt, session, enrollment, steps, position, kind, action, ctx, step[kind] or {})

    def perform(self, rt: Any, plan: SendPlan) -> tuple[str, str | None]:
        action = _actions(rt)[plan.action]
        try:
            return action.perform(plan.rendered, plan.ledger_message_id, rt.settings), None
        except Exception as exc:  # recorded on the message; the step moves on
            return "failed", f"{type(exc).__name__}: {exc}"

    def finish(
        self, rt: Any, session: Session, job: Any, plan: SendPlan | None, outcome: Any
    ) -> None:
        if plan is None:
            return
        status, error = outcome
        message = session.get_one(Message, plan.message_id)
        enrollment = session.get_one(Enrollment, plan.enrollment_id)
        if message.status != "sending":
            return  # the sweeper already judged it (unknown); don't overwrite
        message.status = "sent" if status in ("sent", "kept") else "failed"
        message.reason = error or (
            "no SMTP server configured; kept in the ledger" if status == "kept" else None
        )
        message.lease_until = None
        message.sent_at = clock.now() if message.status == "sent" else None
        record_step(
            session,
            enrollment,
            plan.position,
            plan.action,
            message.status,
            clock.now(),
            message.reason,
        )
        if enrollment.status == "active":
            seq_row = session.get_one(Sequence, enrollment.sequence_id)
            steps = list((seq_row.definition or {}).get("steps") or [])
            advance(session, enrollment, steps, plan.position + 1, clock.now())


def _actions(rt: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for batch in rt.pm.hook.register_actions():
        for action in batch or ():
            found[action.name] = action
    return found


def _context(
    enrollment: Enrollment, position: int, subscriber: Subscriber
) -> builtin_actions.StepContext:
    event = dict(enrollment.entry_properties or {})
    return builtin_actions.StepContext(
        company_id=enrollment.company_id,
        enrollment_id=enrollment.id,
        sequence_id=enrollment.sequence_id,
        position=position,
        subscriber=subscriber,
        event=event,
        variables={
            "event": event,
            "subscriber": subscriber_view(subscriber),
            "product": event.get("product", {}),
        },
    )


def _claim(
    rt: Any,
    session: Session,
    enrollment: Enrollment,
    steps: list[Any],
    position: int,
    kind: str,
    action: Any,
    ctx: builtin_actions.StepContext,
    config: dict[str, Any],
) -> SendPlan | None:
    now = clock.now()
    rendered = action.render(ctx, config, {"sender": rt.settings.mail_from})
    ledger_id = message_id_for(enrollment.company_id, enrollment.id, position)
    message_id = insert_ignore(
        session,
        Message.__table__,
        {
            "company_id": enrollment.company_id,
            "enrollment_id": enrollment.id,
            "sequence_id": enrollment.sequence_id,
            "step": position,
            "subscriber_id": enrollment.subscriber_id,
            "email": rendered.to,
            "subject": rendered.subject,
            "body": rendered.body,
            "sender": rendered.sender,
            "status": "sending",
            "lease_until": now + timedelta(seconds=rt.settings.job_lease_seconds),
            "message_id": ledger_id,
            "created_at": now,
        },
        ["enrollment_id", "step"],
    )
    if message_id is None:
        return _already_claimed(session, enrollment, steps, position, kind, now)
    record_step(session, enrollment, position, kind, "sending", now)
    return SendPlan(message_id, enrollment.id, position, rendered, ledger_id, kind)


def _already_claimed(
    session: Session,
    enrollment: Enrollment,
    steps: list[Any],
    position: int,
    kind: str,
    now: datetime,
) -> None:
    """A second run of the same step: never send again; settle what the first left."""
    message = session.scalars(
        select(Message).where(Message.enrollment_id == enrollment.id, Message.step == position)
    ).one()
    if message.status == "sending" and message.lease_until and message.lease_until >= now:
        raise RuntimeError("another worker is sending this step")  # retried after its lease
    if message.status == "sending":
        message.status = "unknown"
        message.reason = (
            "the sender stopped after claiming the message; it may or may not have been sent"
        )
        message.lease_until = None
    record_step(session, enrollment, position, kind, message.status, now, message.reason)
    advance(session, enrollment, steps, position + 1, now)


def _skip_message(
    session: Session, enrollment: Enrollment, position: int, kind: str, reason: str
) -> None:
    if kind != "email":
        return
    insert_ignore(
        session,
        Message.__table__,
        {
            "company_id": enrollment.company_id,
            "enrollment_id": enrollment.id,
            "sequence_id": enrollment.sequence_id,
            "step": position,
            "subscriber_id": enrollment.subscriber_id,
            "email": enrollment.email,
            "status": "skipped",
            "reason": f"stopped: {reason}",
            "message_id": message_id_for(enrollment.company_id, enrollment.id, position),
            "created_at": clock.now(),
        },
        ["enrollment_id", "step"],
    )


jobs.register_effect("step", StepHandler())
