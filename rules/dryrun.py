"""Dry-run: replay stored events through one sequence without sending or writing anything.

For every stored event of the trigger's name in the last ``days`` days (oldest
first) it answers what the runner would have done, and why:

- ``filtered``: a trigger filter (or subscriber filter, or a missing
  ``enrollment.fieldPath`` value) did not hold; the reasons name each filter and
  the values it saw;
- ``blocked``: the re-entry policy kept the subscriber out (an earlier simulated
  run of ``one_time``, or an active one for the same ``matching_field`` value);
- ``entered``, then per step: ``done`` (delay, branch, tag), ``would_send`` /
  ``would_call``, ``capped`` (delayed or skipped by the frequency cap, with the
  reason), ``stopped`` (with the stop reason) or ``pending`` (due after now: it
  has not happened yet).

What it simulates and what it cannot know:

- time: each run starts when its entry event occurred; delays and sending windows
  move it forward; a stop event counts when it occurred after the entry event and
  no later than the step it would have prevented;
- the subscriber is today's profile (status, tags, attributes: history of
  attributes is not stored), plus the tags this run's own tag steps would add or
  remove. So an unsubscribed subscriber's runs stop at their first step, and
  ``field_changed`` stops are not simulated (reported in ``notes``);
- the frequency cap counts the emails really sent to the subscriber (the ledger)
  and those this dry-run would send, with the sequence's priority;
- runs are simulated from scratch: real enrollments of the sequence do not block
  re-entry here. Historical events (store backfill) are replayed like live ones.

Subjects are rendered after the simulation, outside the caller's transaction
(:func:`simulate` reads, :meth:`Report.rendered` renders): each under the template
budget, all of them within :data:`RENDER_SECONDS`, and only those of the results
returned. ``run`` does both, for callers without a transaction to leave.
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import attrs
from sqlalchemy import select
from sqlalchemy.orm import Session

from storeflow.core.errors import ValidationFailed
from storeflow.core.statuses import MESSAGE_COUNTED
from storeflow.core.storage.tables import Company, Event, Message, Sequence, Subscriber
from storeflow.rules import capping, program, schema
from storeflow.rules.compiler import CompiledSequence, compile_sequence, next_send_time
from storeflow.rules.enrollments import subscriber_view
from storeflow.rules.steps import template_product

MAX_DAYS = 365
MAX_LIMIT = 1000
# Rendering every subject of one dry-run takes at most this long in total.
RENDER_SECONDS = 5.0


@attrs.frozen
class Options:
    days: int = 30
    limit: int = 200


def parse_options(data: Any) -> Options:
    if not isinstance(data, dict):
        raise ValidationFailed(
            "the body must be an object", details=[{"path": "$", "message": "expected an object"}]
        )
    problems = [
        {"path": f"$.{key}", "message": "unknown key"}
        for key in data
        if key not in ("days", "limit")
    ]
    days = data.get("days", 30)
    if type(days) is not int or not 1 <= days <= MAX_DAYS:
        problems.append({"path": "$.days", "message": f"expected an integer from 1 to {MAX_DAYS}"})
    limit = data.get("limit", 200)
    if type(limit) is not int or not 0 <= limit <= MAX_LIMIT:
        problems.append(
            {"path": "$.limit", "message": f"expected an integer from 0 to {MAX_LIMIT}"}
        )
    if problems:
        raise ValidationFailed("the dry-run options are not valid", details=problems)
    return Options(days, limit)


@attrs.define
class _Run:
    subscriber_id: int
    match_value: str | None
    started: datetime
    ended: datetime | None = None  # None: still running at "now"


@attrs.define
class _World:
    """What the simulation knows: today's subscribers, stop events, sends so far."""

    subscribers: dict[int, Subscriber]
    stop_events: dict[int, list[tuple[datetime, int, str, dict[str, Any]]]]
    sends: dict[int, list[capping.Sent]]
    runs: list[_Run] = attrs.Factory(list)
    # (the step's result, the subject template, entry properties, subscriber view)
    renders: list[tuple[dict[str, Any], str, dict[str, Any], dict[str, Any]]] = attrs.Factory(list)


@attrs.define
class Report:
    """A simulated dry-run whose subjects are not rendered yet."""

    data: dict[str, Any]
    renders: list[tuple[dict[str, Any], str, dict[str, Any], dict[str, Any]]]

    def rendered(self, seconds: float = RENDER_SECONDS) -> dict[str, Any]:
        """The report, with each ``would_send`` step's subject (call it outside any
        transaction: templates may take up to their budget)."""
        from storeflow.rules import templates

        shown = {id(step) for item in self.data["results"] for step in item.get("steps", ())}
        deadline = time.monotonic() + seconds
        for step, source, entry, view in self.renders:
            if id(step) not in shown:
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                step["detail"] = (
                    f"subject not rendered: the dry-run's rendering budget ({seconds:g} s) is spent"
                )
                continue
            limits = templates.Limits(seconds=min(templates.LIMITS.seconds, left))
            step["detail"] = _subject(source, entry, view, limits)
        self.renders = []
        return self.data


def run(
    session: Session,
    company: Company,
    seq: schema.Sequence,
    *,
    days: int,
    limit: int,
    now: datetime,
) -> dict[str, Any]:
    """:func:`simulate`, then render the subjects."""
    return simulate(session, company, seq, days=days, limit=limit, now=now).rendered()


def simulate(
    session: Session,
    company: Company,
    seq: schema.Sequence,
    *,
    days: int,
    limit: int,
    now: datetime,
) -> Report:
    compiled = compile_sequence(seq)
    steps = program.build(seq.steps)
    cap = capping.from_settings(company.settings)
    since = now - timedelta(days=days)
    entries = list(
        session.scalars(
            select(Event)
            .where(
                Event.company_id == company.id,
                Event.name == seq.trigger.event,
                Event.occurred_at >= since,
                Event.occurred_at <= now,
            )
            .order_by(Event.occurred_at, Event.id)
        )
    )
    world = _load_world(session, company, compiled, entries, since - cap.window, now)
    results = []
    summary: dict[str, int] = defaultdict(int)
    for event in entries:
        result = _replay(event, compiled, steps, seq.priority, cap, world, now)
        summary[result["outcome"]] += 1
        for step in result.get("steps", ()):
            summary[f"steps:{step['outcome']}"] += 1
        if result.get("stopReason"):
            summary["stopped"] += 1
        if any(step["outcome"] == "capped" for step in result.get("steps", ())):
            summary["capped"] += 1
        results.append(result)
    notes = []
    if any(s.type == "field_changed" for s in compiled.stops):
        notes.append("field_changed stops are not simulated: attribute history is not stored")
    data = {
        "sequence": seq.id,
        "from": since.isoformat(),
        "to": now.isoformat(),
        "events": len(entries),
        "summary": {
            "entered": summary["entered"],
            "filtered": summary["filtered"],
            "blocked": summary["blocked"],
            "noSubscriber": summary["no_subscriber"],
            "stopped": summary["stopped"],
            "capped": summary["capped"],
            "completed": summary["completed"],
            "pending": summary["pending"],
            "emailsWouldSend": summary["steps:would_send"],
            "webhooksWouldCall": summary["steps:would_call"],
        },
        "results": results[:limit],
        "truncated": len(results) > limit,
        "notes": notes,
    }
    return Report(data, world.renders)


def _load_world(
    session: Session,
    company: Company,
    compiled: CompiledSequence,
    entries: list[Event],
    since: datetime,
    now: datetime,
) -> _World:
    ids = sorted({e.subscriber_id for e in entries if e.subscriber_id is not None})
    subscribers: dict[int, Subscriber] = {}
    stop_events: dict[int, list[tuple[datetime, int, str, dict[str, Any]]]] = defaultdict(list)
    sends: dict[int, list[capping.Sent]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for sub in session.scalars(select(Subscriber).where(Subscriber.id.in_(chunk))):
            subscribers[sub.id] = sub
        if compiled.stop_events:
            for row in session.execute(
                select(
                    Event.subscriber_id, Event.occurred_at, Event.id, Event.name, Event.properties
                )
                .where(
                    Event.company_id == company.id,
                    Event.subscriber_id.in_(chunk),
                    Event.name.in_(sorted(compiled.stop_events)),
                    Event.occurred_at >= since,
                    Event.occurred_at <= now,
                )
                .order_by(Event.occurred_at, Event.id)
            ):
                stop_events[row[0]].append((row[1], row[2], row[3], row[4] or {}))
        for sid, at, priority, slug in session.execute(
            select(Message.subscriber_id, Message.created_at, Message.priority, Sequence.slug)
            .join(Sequence, Sequence.id == Message.sequence_id)
            .where(
                Message.subscriber_id.in_(chunk),
                Message.channel == "email",
                Message.status.in_(MESSAGE_COUNTED),
                Message.created_at >= since,
            )
        ):
            sends[sid].append(capping.Sent(at, priority, slug))
    return _World(subscribers, stop_events, sends)


def _replay(
    event: Event,
    compiled: CompiledSequence,
    steps: program.Program,
    priority: int,
    cap: capping.FrequencyCap,
    world: _World,
    now: datetime,
) -> dict[str, Any]:
    base = {
        "eventId": event.id,
        "occurredAt": event.occurred_at.isoformat(),
        "email": event.email,
        "live": event.live,
    }
    subscriber = world.subscribers.get(event.subscriber_id or -1)
    if subscriber is None:
        return {**base, "outcome": "no_subscriber", "reasons": ["the event has no subscriber"]}
    view = subscriber_view(subscriber)
    properties = event.properties or {}
    match = compiled.match(event.name, properties, view)
    if not match.matched:
        return {**base, "outcome": "filtered", "reasons": match.reasons}
    key = compiled.enrollment_key(properties)
    blocked = _reentry_block(compiled, world, subscriber.id, key, event.occurred_at)
    if blocked:
        return {**base, "outcome": "blocked", "reasons": [blocked]}
    record = _Run(subscriber.id, key, event.occurred_at)
    world.runs.append(record)
    walk = _walk(event, compiled, steps, priority, cap, world, view, now)
    record.ended = walk["ended"]
    outcome = "pending" if walk["ended"] is None else "completed"
    if walk["stopReason"]:
        outcome = "stopped"
    return {
        **base,
        "outcome": "entered",
        "result": outcome,
        "matchValue": key,
        "steps": walk["steps"],
        "stopReason": walk["stopReason"],
    }


def _reentry_block(
    compiled: CompiledSequence,
    world: _World,
    subscriber_id: int,
    key: str | None,
    at: datetime,
) -> str | None:
    mode = compiled.enrollment.mode
    mine = [run for run in world.runs if run.subscriber_id == subscriber_id]
    if mode == "one_time" and mine:
        return f"enrollment one_time: already entered at {mine[0].started.isoformat()}"
    if mode == "matching_field":
        for run in mine:
            if run.match_value == key and (run.ended is None or run.ended > at):
                return (
                    f"enrollment matching_field {compiled.enrollment.field_path}: a run for "
                    f"{key!r} is active since {run.started.isoformat()}"
                )
    return None


def _walk(
    event: Event,
    compiled: CompiledSequence,
    steps: program.Program,
    priority: int,
    cap: capping.FrequencyCap,
    world: _World,
    view: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Simulate one run; ``ended`` is None when it would still be running now."""
    entry = event.properties or {}
    started = event.occurred_at
    tags = list(view.get("tags") or [])
    at = started
    position = steps.first
    out: list[dict[str, Any]] = []
    guard = 0
    while position != program.END:
        guard += 1
        if guard > 10_000:  # a capped email delayed forever cannot loop the replay
            break
        node = steps.nodes[position]
        if at > now:
            out.append(_step(node, at, "pending", "due after now; has not happened yet"))
            return {"steps": out, "stopReason": None, "ended": None}
        reason = _stop(compiled, world, event, {**view, "tags": tags}, started, at)
        if reason:
            out.append(_step(node, at, "stopped", reason))
            return {"steps": out, "stopReason": reason, "ended": at}
        step = node.step
        if isinstance(step, schema.Delay):
            due = at + step.duration
            out.append(_step(node, at, "done", f"wait until {due.isoformat()}"))
            at, position = due, node.next
        elif isinstance(step, schema.DelayUntil):
            due = next_send_time(step.until, at)
            out.append(_step(node, at, "done", f"wait for the window until {due.isoformat()}"))
            at, position = due, node.next
        elif isinstance(step, schema.Branch):
            condition = compiled.branch_condition(step)
            subscriber = {**view, "tags": tags}
            if condition.holds(entry, subscriber):
                out.append(_step(node, at, "done", "then: every if filter holds"))
                position = node.then_
            else:
                why = "; ".join(condition.failures(entry, subscriber))
                out.append(_step(node, at, "done", f"else: {why}"))
                position = node.else_
        elif isinstance(step, schema.Tag):
            tags = [t for t in tags if t not in step.remove] + [
                t for t in step.add if t not in tags
            ]
            out.append(_step(node, at, "done", f"tags would be {', '.join(tags) or '(none)'}"))
            position = node.next
        elif isinstance(step, schema.Email):
            sends = world.sends[event.subscriber_id or -1]
            verdict = capping.check(cap, priority, sends, at)
            if not verdict.allowed:
                if cap.when_capped == "skip" or verdict.until is None:
                    out.append(_step(node, at, "capped", f"skipped: {verdict.reason}"))
                    position = node.next
                else:
                    until = verdict.until
                    out.append(
                        _step(
                            node,
                            at,
                            "capped",
                            f"delayed until {until.isoformat()}: {verdict.reason}",
                        )
                    )
                    at = until  # the same step again, after the window (stops re-checked)
                continue
            sends.append(capping.Sent(at, priority, compiled.id))
            out.append(_step(node, at, "would_send", "subject not rendered"))
            world.renders.append((out[-1], step.subject, entry, view))
            position = node.next
        elif isinstance(step, schema.Webhook):
            out.append(_step(node, at, "would_call", f"POST {step.url}"))
            position = node.next
    return {"steps": out, "stopReason": None, "ended": at}


def _stop(
    compiled: CompiledSequence,
    world: _World,
    event: Event,
    subscriber: dict[str, Any],
    started: datetime,
    at: datetime,
) -> str | None:
    reason = compiled.subscriber_stop_reason(subscriber)
    if reason:
        return f"{reason} (today's profile)"
    found = world.stop_events.get(event.subscriber_id or -1, [])
    times = [item[0] for item in found]
    end = bisect.bisect_right(times, at)
    for occurred, event_id, name, properties in found[:end]:
        if event_id == event.id:
            continue
        reason = compiled.stop_reason(
            event.properties or {}, name, properties, occurred, started, subscriber
        )
        if reason:
            return f"{reason} (event {event_id} at {occurred.isoformat()})"
    return None


def _step(node: program.Node, at: datetime, outcome: str, detail: str) -> dict[str, Any]:
    return {
        "index": node.position,
        "kind": node.kind,
        "at": at.isoformat(),
        "outcome": outcome,
        "detail": detail,
    }


def _subject(source: str, entry: dict[str, Any], view: dict[str, Any], limits: Any) -> str:
    from storeflow.rules import templates

    try:
        subject = templates.render(
            source, event=entry, subscriber=view, product=template_product(entry), limits=limits
        )
    except templates.RenderError as error:
        return f"would fail to render: subject: {error}"
    return f"subject: {' '.join(subject.split())}"
