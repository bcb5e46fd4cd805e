"""Cart recovery: ordering properties, purchase wins, recovered revenue (issue 12)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from storeflow.core import clock
from storeflow.core.commerce import carts, events, records, subscribers
from storeflow.core.commerce.money import Money
from storeflow.core.storage.tables import Cart, Event, Integration, RecoveredOrder
from storeflow.core.stores import integrations
from storeflow.core.work import tasks
from tests import rulekit
from tests.conftest import make_tenant
from tests.synckit import plugin_for
from tests.test_carts import EVENTS, event, names, send  # noqa: F401 (fixtures below)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
_slugs = itertools.count(1)
_orders = itertools.count(1)


EMAILS = ("ana@example.com", "bo@example.com", None)


def activity(
    i: int, kind: str, session: str, second: int, qty: int, email: int, base: datetime = T0
) -> records.CartActivity:
    lines = (
        ()
        if kind == "cart_cleared" or qty == 0
        else (records.CartLine("501", "601", qty, Money(qty * 1000, "USD")),)
    )
    return records.CartActivity(
        event_id=f"e{i}",
        type=kind,  # type: ignore[arg-type]
        occurred_at=base + timedelta(seconds=second),
        session_key=session,
        lines=lines,
        total=Money(qty * 1000, "USD") if lines else None,
        currency="USD",
        email=EMAILS[email],
        checkout_url="https://shop.example.com/checkout" if kind == "checkout_started" else None,
    )


# Few distinct instants, so that ties (same occurredAt) are common; all within the
# settle window of the moment the batches arrive.
log_entries = st.lists(
    st.tuples(
        st.sampled_from(["cart_started", "cart_updated", "cart_cleared", "checkout_started"]),
        st.sampled_from(["s1", "s2"]),
        st.sampled_from([0, 30, 60, 90]),
        st.integers(0, 3),
        st.sampled_from([0, 0, 1, 2]),
    ),
    min_size=1,
    max_size=9,
)


def apply_all(rt: Any, integration_id: str, batches: list[list[records.CartActivity]]) -> None:
    for batch in batches:
        with rt.unit_of_work() as session:
            store = integrations.context(session.get_one(Integration, integration_id))
            with events.collecting(session):
                carts.apply(session, store, "woocommerce", batch)


def final_state(rt: Any, company_id: int) -> tuple[Any, Any]:
    with rt.unit_of_work() as session:
        rows = session.scalars(select(Cart).where(Cart.company_id == company_id)).all()
        by_public = {row.public_id: row for row in rows}
        state = sorted(
            (
                row.session_key,
                row.status,
                row.started_at,
                row.last_activity_at,
                row.ended_at,
                row.total_cents,
                row.checkout_started_at,
                row.abandon_due_at,
                row.email or "",
                row.identified_at or T0,
            )
            for row in rows
        )
        fired = sorted(
            (
                name,
                by_public[props["cartId"]].session_key,
                by_public[props["cartId"]].started_at,
                occurred_at,
                email,
            )
            for name, props, occurred_at, email in session.execute(
                select(Event.name, Event.properties, Event.occurred_at, Event.email).where(
                    Event.company_id == company_id
                )
            )
        )
    return state, fired


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=log_entries, data=st.data())
def test_duplicate_and_out_of_order_batches_give_the_same_final_state(rt, entries, data):
    """Any arrival order (and repeats) of batches late by less than SETTLE, ties included:
    the same carts and the same appended events as one event at a time in log order."""
    base = clock.now() - timedelta(seconds=100)
    acts = [activity(i, *entry, base=base) for i, entry in enumerate(entries)]
    in_order = sorted(acts, key=lambda a: carts.order(step_of(a)))
    shuffled = data.draw(st.permutations(acts))
    repeated = shuffled + data.draw(st.lists(st.sampled_from(acts), max_size=4))
    cut = data.draw(st.integers(0, len(repeated)))
    one = make_tenant(rt, f"sorted{next(_slugs)}")
    two = make_tenant(rt, f"shuffled{next(_slugs)}")
    apply_all(rt, one.integration_id, [[a] for a in in_order])
    apply_all(rt, two.integration_id, [repeated[:cut], repeated[cut:]])
    assert final_state(rt, one.company_id)[0] == final_state(rt, two.company_id)[0]
    clock.travel(carts.SETTLE)
    with rt.unit_of_work() as session:
        carts.settle(session, clock.now())
    first, second = final_state(rt, one.company_id), final_state(rt, two.company_id)
    assert first == second
    assert first[1] or not any(a.email and a.lines for a in acts)


def step_of(act: records.CartActivity) -> carts.Step:
    return carts.Step(act.event_id, act.type, act.occurred_at, act.occurred_at, lines=act.lines)


def test_the_fold_ends_a_cart_on_a_clear_and_opens_the_next_on_new_items():
    steps = [
        carts.Step("a", "cart_started", T0, T0, lines=({"quantity": 1},)),
        carts.Step("b", "cart_cleared", T0 + timedelta(minutes=5), T0),
        carts.Step("c", "cart_updated", T0 + timedelta(minutes=9), T0, lines=({"quantity": 2},)),
    ]
    folded = carts.fold(reversed(steps))
    assert [(c.event_ids, c.ended_how) for c in folded.cycles] == [
        (["a", "b"], "cleared"),
        (["c"], None),
    ]


# --- purchase wins ----------------------------------------------------------------------------


def place_order(rt: Any, tenant: Any, email: str, at: datetime, total: int = 5000, **props: Any):
    order_id = str(next(_orders))
    with rt.unit_of_work() as session:
        sub = subscribers.upsert(session, tenant.company_id, email)
        events.append(
            session,
            company_id=tenant.company_id,
            name="ecommerce.order_placed",
            key=f"{tenant.integration_id}:order:{order_id}:placed",
            occurred_at=at,
            subscriber=sub,
            properties={"orderId": order_id, "totalCents": total, "currency": "USD", **props},
            provider="woocommerce",
            integration_id=tenant.integration_id,
        )
    tasks.drain(rt)
    return order_id


def recovery_sequence(rt: Any, tenant: Any, delay_hours: int = 1) -> int:
    rulekit.no_cap(rt, tenant.company_id)
    steps: list[dict[str, Any]] = [rulekit.email_step("You left {{ event.itemCount }} items")]
    if delay_hours:
        steps.insert(0, {"delay": {"hours": delay_hours}})
    return rulekit.define(
        rt,
        tenant.company_id,
        rulekit.sequence("abandoned-cart", event="ecommerce.cart_abandoned", steps=steps),
    )


def abandon(rt: Any, plugin: Any, **options: Any) -> None:
    send(plugin, event("cart_started", **options))
    clock.travel(timedelta(minutes=61))
    tasks.sweep(rt)
    tasks.drain(rt)


def test_an_order_placed_1_ms_before_the_email_is_claimed_wins(rt, client, tenant):
    plugin = plugin_for(rt, client, tenant.integration_id)
    recovery_sequence(rt, tenant)
    abandon(rt, plugin)
    assert len(rulekit.runs(rt, tenant.company_id)) == 1
    clock.travel(timedelta(hours=1))
    place_order(rt, tenant, "ana@example.com", clock.now() - timedelta(milliseconds=1))
    tasks.drain(rt)
    assert rulekit.sent(rt, tenant.company_id) == []
    [run] = rulekit.runs(rt, tenant.company_id)
    assert run.status == "stopped"


def test_an_order_that_arrives_after_the_abandonment_it_preceded_still_wins(rt, client, tenant):
    plugin = plugin_for(rt, client, tenant.integration_id)
    recovery_sequence(rt, tenant)
    abandon(rt, plugin)
    # Placed before the timer fired, delivered after it: the webhook lagged.
    place_order(rt, tenant, "ana@example.com", clock.now() - timedelta(minutes=5))
    clock.travel(timedelta(hours=2))
    tasks.drain(rt)
    assert rulekit.sent(rt, tenant.company_id) == []
    [cart] = rulekit_carts(rt, tenant.company_id)
    assert cart.status == "converted"


def rulekit_carts(rt: Any, company_id: int) -> list[Cart]:
    with rt.unit_of_work() as session:
        return list(session.scalars(select(Cart).where(Cart.company_id == company_id)))


def test_an_order_by_the_store_account_ends_a_cart_with_another_email(rt, client, tenant):
    plugin = plugin_for(rt, client, tenant.integration_id)
    send(plugin, event("cart_started", email="account@example.com", customerId=9))
    place_order(rt, tenant, "billing@example.com", clock.now(), customerId="9")
    clock.travel(timedelta(hours=2))
    tasks.sweep(rt)
    tasks.drain(rt)
    assert names(rt, tenant.company_id, "ecommerce.cart_abandoned") == []
    [cart] = rulekit_carts(rt, tenant.company_id)
    assert cart.status == "converted"
    cleared = names(rt, tenant.company_id, "ecommerce.cart_cleared")
    assert cleared == ["ecommerce.cart_cleared"]


# --- recovered revenue -------------------------------------------------------------------------


def test_revenue_is_attributed_within_the_window_and_not_outside_it(rt, client, tenant):
    plugin = plugin_for(rt, client, tenant.integration_id)
    recovery_sequence(rt, tenant, delay_hours=0)
    abandon(rt, plugin, email="in@example.com", session="in")
    abandon(rt, plugin, email="out@example.com", session="out")
    assert len(rulekit.sent(rt, tenant.company_id)) == 2
    clock.travel(timedelta(days=1))
    place_order(rt, tenant, "in@example.com", clock.now(), total=4200)
    clock.travel(timedelta(days=5))
    place_order(rt, tenant, "out@example.com", clock.now(), total=9900)
    with rt.unit_of_work() as session:
        recovered = session.scalars(select(RecoveredOrder)).all()
    assert [r.total_cents for r in recovered] == [4200]
    answer = client.get("/api/sequences/abandoned-cart/recovery", headers=tenant.auth).get_json()
    assert answer["orders"] == 1
    assert answer["revenue"] == [{"currency": "USD", "totalCents": 4200}]
