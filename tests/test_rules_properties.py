"""Properties of the runner over random event streams (Hypothesis).

For any stream of events (out of order, duplicated values, late deliveries), tag and
unsubscribe changes, and time passing:

- no enrollment violates its re-entry policy: ``one_time`` runs once per subscriber,
  ``matching_field`` never has two overlapping runs for one value, and no event
  enrols twice into one sequence;
- no message is sent after its enrollment's stop condition became true: for every
  sent message, nothing committed before its claim (a stop event that occurred after
  the entry event, a tag, an unsubscribe) made the run's stop conditions hold.

Each example runs in a fresh company of the test database.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from storeflow.core import accounts, clock
from storeflow.core.storage.tables import Enrollment, Event, Job, Message
from storeflow.core.work import tasks
from storeflow.rules import schema
from storeflow.rules.compiler import compile_sequence
from tests.rulekit import (
    CART,
    CLEARED,
    ORDER,
    REFILL,
    RESTOCK,
    SOLD_OUT,
    advance,
    define,
    email_step,
    emit,
    line,
    set_cap,
    update_subscriber,
)

EMAILS = ["a@example.com", "b@example.com"]
PRODUCTS = [("501", "601"), ("501", "602"), ("502", "603")]
_companies = itertools.count(1)

SEQUENCES: list[dict[str, Any]] = [
    {
        "id": "cart",
        "name": "Cart",
        "priority": 90,
        "trigger": {"event": CART},
        "stop": [
            {"type": "event_received", "event": ORDER},
            {"type": "event_received", "event": CLEARED},
            {"type": "has_tag", "tag": "vip"},
        ],
        "steps": [
            {"delay": {"minutes": 30}},
            email_step("Cart 1"),
            {"delay": {"hours": 1}},
            email_step("Cart 2"),
        ],
    },
    {
        "id": "cart-once-per-id",
        "name": "Cart per id",
        "priority": 80,
        "trigger": {"event": CART},
        "enrollment": {"mode": "matching_field", "fieldPath": "cartId"},
        "steps": [email_step("Per cart"), {"delay": {"minutes": 45}}],
    },
    {
        "id": "restock",
        "name": "Restock",
        "priority": 70,
        "trigger": {"event": RESTOCK},
        "steps": [email_step("Back"), {"delay": {"hours": 2}}, email_step("Still back")],
    },
    {
        "id": "refill",
        "name": "Refill",
        "priority": 50,
        "trigger": {"event": REFILL},
        "steps": [{"delay": {"minutes": 20}}, email_step("Refill")],
    },
    {
        "id": "welcome-once",
        "name": "Welcome once",
        "priority": 30,
        "trigger": {"event": ORDER},
        "enrollment": {"mode": "one_time"},
        "stop": [{"type": "has_tag", "tag": "vip"}],
        "steps": [{"delay": {"minutes": 10}}, email_step("Welcome"), {"tag": {"add": ["buyer"]}}],
    },
]
COMPILED = {s["id"]: compile_sequence(schema.structure_sequence(s)) for s in SEQUENCES}


def _properties(name: str, product: tuple[str, str], cart: str, variant_match: bool) -> dict:
    product_id, variant_id = product
    if name in (ORDER, CART, CLEARED):
        return {"cartId": cart, "lineItems": [line(product_id, variant_id)]}
    props: dict[str, Any] = {
        "product": {"providerProductId": product_id, "providerVariantId": variant_id}
    }
    if name == REFILL and variant_match:
        props["replenishmentMatch"] = "variant"
    return props


events = st.tuples(
    st.just("event"),
    st.sampled_from([CART, CART, ORDER, ORDER, CLEARED, RESTOCK, RESTOCK, SOLD_OUT, REFILL]),
    st.sampled_from(EMAILS),
    st.sampled_from(PRODUCTS),
    st.sampled_from(["c1", "c2"]),
    st.booleans(),
    st.integers(0, 90),  # delivered this many minutes after it occurred
)
waits = st.tuples(st.just("wait"), st.integers(1, 180))
tags = st.tuples(st.just("tag"), st.sampled_from(EMAILS), st.sampled_from([[], ["vip"]]))
unsubscribes = st.tuples(st.just("unsubscribe"), st.sampled_from(EMAILS))
# Jobs run only when the stream says so: step jobs may run before the event jobs of
# events already committed (a lagging or crashed event consumer).
run_steps = st.tuples(st.just("run_steps"))
run_all = st.tuples(st.just("run_all"))
actions = st.lists(
    st.one_of(
        events, events, events, waits, waits, run_steps, run_steps, run_all, tags, unsubscribes
    ),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=actions, capped=st.booleans())
def test_re_entry_and_stops_hold_for_any_event_stream(rt, steps, capped):
    with rt.unit_of_work() as session:
        number = next(_companies)
        company_id = accounts.create_company(session, f"prop-{number}", f"Prop {number}").id
    if not capped:
        set_cap(rt, company_id, {"enabled": False})
    for data in SEQUENCES:
        define(rt, company_id, data)
    rt.waker = None  # nothing runs on commit; the stream's run_* actions run jobs
    # (time, email, tags, status): the profile changes, in commit order.
    profile_log: list[tuple[datetime, str, list[str], str]] = []
    status = dict.fromkeys(EMAILS, "active")
    current_tags: dict[str, list[str]] = {email: [] for email in EMAILS}
    try:
        for step in steps:
            kind = step[0]
            if kind == "event":
                _, name, email, product, cart, variant_match, late = step
                emit(
                    rt,
                    company_id,
                    name,
                    email,
                    _properties(name, product, cart, variant_match),
                    occurred_at=clock.now() - timedelta(minutes=late),
                )
            elif kind == "wait":
                clock.travel(timedelta(minutes=step[1]))
            elif kind == "run_steps":
                _run(rt, "step")
            elif kind == "run_all":
                tasks.drain(rt)
            elif kind == "tag":
                _, email, new_tags = step
                _ensure(rt, company_id, email)
                update_subscriber(rt, company_id, email, tags=new_tags)
                current_tags[email] = new_tags
                profile_log.append((clock.now(), email, new_tags, status[email]))
            else:
                _, email = step
                _ensure(rt, company_id, email)
                update_subscriber(rt, company_id, email, status="unsubscribed")
                status[email] = "unsubscribed"
                profile_log.append((clock.now(), email, current_tags[email], "unsubscribed"))
        for _ in range(4):  # let every run finish
            advance(rt, days=1)
        _check(rt, company_id, profile_log)
    finally:
        clock.reset()


def _run(rt, kind: str) -> None:
    """Run the due jobs of one kind only."""
    with rt.unit_of_work() as session:
        due = session.scalars(
            select(Job.id)
            .where(Job.kind == kind, Job.status == "pending", Job.available_at <= clock.now())
            .order_by(Job.available_at, Job.id)
        ).all()
    for job_id in due:
        tasks.execute(rt, job_id)


def _ensure(rt, company_id: int, email: str) -> None:
    from storeflow.core.commerce import subscribers

    with rt.unit_of_work() as session:
        subscribers.upsert(session, company_id, email)


def _check(rt, company_id: int, profile_log) -> None:
    with rt.unit_of_work() as session:
        runs = list(
            session.scalars(
                select(Enrollment)
                .where(Enrollment.company_id == company_id)
                .order_by(Enrollment.id)
            )
        )
        events = list(session.scalars(select(Event).where(Event.company_id == company_id)))
        messages = list(session.scalars(select(Message).where(Message.company_id == company_id)))
        slugs = {s.id: s.slug for s in _sequences(session, company_id)}
    by_id = {run.id: run for run in runs}
    _check_re_entry(runs, slugs)
    for message in messages:
        if message.status not in ("sent", "sending", "unknown"):
            continue
        run = by_id[message.enrollment_id]
        reason = _stop_before(run, COMPILED[slugs[run.sequence_id]], message.created_at, events)
        reason = reason or _profile_stop_before(
            run, COMPILED[slugs[run.sequence_id]], message.created_at, profile_log
        )
        assert reason is None, f"message {message.id} of run {run.id} sent after: {reason}"


def _sequences(session, company_id: int):
    from storeflow.core.storage.tables import Sequence

    return session.scalars(select(Sequence).where(Sequence.company_id == company_id))


def _check_re_entry(runs: list[Enrollment], slugs: dict[int, str]) -> None:
    per_event: set[tuple[int, int]] = set()
    groups: dict[tuple[int, int, str | None], list[Enrollment]] = defaultdict(list)
    for run in runs:
        key = (run.sequence_id, run.entry_event_id)
        assert key not in per_event, f"event {run.entry_event_id} enrolled twice"
        per_event.add(key)
        mode = COMPILED[slugs[run.sequence_id]].enrollment.mode
        if mode == "one_time":
            groups[(run.sequence_id, run.subscriber_id, None)].append(run)
        elif mode == "matching_field":
            groups[(run.sequence_id, run.subscriber_id, run.match_value)].append(run)
    for (sequence_id, _, value), group in groups.items():
        mode = COMPILED[slugs[sequence_id]].enrollment.mode
        if mode == "one_time":
            assert len(group) == 1, f"one_time entered {len(group)} times"
            continue
        for earlier, later in itertools.pairwise(group):
            assert earlier.finished_at is not None and earlier.finished_at <= later.enrolled_at, (
                f"two active runs for {value!r}: {earlier.id} and {later.id}"
            )


def _stop_before(run: Enrollment, compiled, claimed_at: datetime, events: list[Event]):
    started = run.entry_occurred_at or run.enrolled_at
    for event in events:
        if event.id == run.entry_event_id or event.subscriber_id != run.subscriber_id:
            continue
        if event.created_at >= claimed_at:
            continue  # committed after the claim: too late to stop this message
        reason = compiled.stop_reason(
            run.entry_properties, event.name, event.properties, event.occurred_at, started
        )
        if reason:
            return f"{reason} (event {event.id})"
    return None


def _profile_stop_before(run: Enrollment, compiled, claimed_at: datetime, profile_log):
    state = None
    for at, email, tag_list, status in profile_log:
        if email == run.email and at < claimed_at:
            state = {"tags": tag_list, "status": status}
    if state is None:
        return None
    return compiled.subscriber_stop_reason(state)
