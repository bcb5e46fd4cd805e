"""The sequence runner against the database: triggers, re-entry, stops, steps, defaults."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storeflow.core import clock
from storeflow.core.commerce.events import NAMES
from storeflow.core.storage.tables import Job
from storeflow.core.work import tasks
from storeflow.rules.compiler import next_send_time
from storeflow.rules.schema import Window
from tests.rulekit import (
    CART,
    CHECKOUT,
    CLEARED,
    ORDER,
    REFILL,
    RESTOCK,
    SOLD_OUT,
    advance,
    define,
    email_step,
    emit,
    ledger,
    line,
    no_cap,
    order,
    product,
    runs,
    sent,
    sequence,
    steps_of,
    subscriber,
    update_subscriber,
)


def test_rule_files_accept_every_core_event_name_and_nothing_else():
    from storeflow.rules import schema

    def trigger(name: str) -> dict:
        return {
            "id": "t",
            "name": "T",
            "trigger": {"event": name},
            "steps": [{"tag": {"add": ["x"]}}],
        }

    for name in NAMES:
        assert schema.structure_sequence(trigger(name)).trigger.event == name
    with pytest.raises(schema.SchemaError):
        schema.structure_sequence(trigger("ecommerce.order_teleported"))


# --- triggers: every operator and path form, through the runner --------------------------

OPERATOR_CASES = [
    ("exists", "orderNumber", None, {"orderNumber": "1001"}, {}),
    ("not_exists", "couponCode", None, {}, {"couponCode": "SPRING"}),
    ("equals", "currency", "EUR", {"currency": "EUR"}, {"currency": "USD"}),
    (
        "not_equals",
        "lineItems[].providerProductId",
        "501",
        order(line("502")),
        order(line("502"), line("501")),
    ),
    (
        "one_of",
        "lineItems[].providerProductId",
        ["501", "502"],
        order(line("502")),
        order(line("503")),
    ),
    (
        "contains",
        "checkoutUrl",
        "utm_source=mail",
        {"checkoutUrl": "https://s.example/c?utm_source=mail"},
        {"checkoutUrl": "https://s.example/c"},
    ),
    ("greater_than", "totalCents", 1000, {"totalCents": 2500}, {"totalCents": 999}),
    ("less_than", "totalCents", 1000, {"totalCents": 999}, {"totalCents": 1000}),
]


@pytest.mark.parametrize(("operator", "path", "value", "hit", "miss"), OPERATOR_CASES)
def test_every_operator_filters_enrolment(rt, tenant, operator, path, value, hit, miss):
    item = {"path": path, "operator": operator}
    if value is not None:
        item["value"] = value
    define(rt, tenant.company_id, sequence(trigger={"filters": [item]}))
    emit(rt, tenant.company_id, ORDER, "hit@example.com", hit)
    emit(rt, tenant.company_id, ORDER, "miss@example.com", miss)
    assert [r.email for r in runs(rt, tenant.company_id)] == ["hit@example.com"]


PATH_CASES = [
    ("orderNumber", "equals", "1001", {"orderNumber": "1001"}, {"orderNumber": "1002"}),
    (
        "product.providerVariantId",
        "equals",
        "601",
        product("501", "601"),
        product("501", "602"),
    ),
    (
        "lineItems[].sku",
        "equals",
        "MUG-1",
        order(line("1", sku="TEE-1"), line("2", sku="MUG-1")),
        order(line("1", sku="TEE-1")),
    ),
    (
        "lineItems[].options[].value",
        "equals",
        "Blue",
        order(line("1", options=[{"name": "Color", "value": "Blue"}])),
        order(line("1", options=[{"name": "Color", "value": "Red"}])),
    ),
]


@pytest.mark.parametrize(("path", "operator", "value", "hit", "miss"), PATH_CASES)
def test_every_event_path_form(rt, tenant, path, operator, value, hit, miss):
    define(
        rt,
        tenant.company_id,
        sequence(trigger={"filters": [{"path": path, "operator": operator, "value": value}]}),
    )
    emit(rt, tenant.company_id, ORDER, "hit@example.com", hit)
    emit(rt, tenant.company_id, ORDER, "miss@example.com", miss)
    assert [r.email for r in runs(rt, tenant.company_id)] == ["hit@example.com"]


def test_subscriber_paths_read_the_profile(rt, tenant):
    define(
        rt,
        tenant.company_id,
        sequence(
            trigger={
                "filters": [{"path": "subscriber.tags", "operator": "contains", "value": "vip"}],
                "subscriberFilters": [
                    {"path": "subscriber.ordersCount", "operator": "less_than", "value": 2}
                ],
            }
        ),
    )
    for email, tags, count in [
        ("vip-new@example.com", ["vip"], 1),
        ("vip-old@example.com", ["vip"], 5),
        ("plain@example.com", [], 1),
    ]:
        emit(rt, tenant.company_id, CART, email)  # creates the subscriber
        update_subscriber(
            rt, tenant.company_id, email, tags=tags, attributes={"ordersCount": count}
        )
        emit(rt, tenant.company_id, ORDER, email, order(line("1")))
    assert [r.email for r in runs(rt, tenant.company_id)] == ["vip-new@example.com"]


def test_another_event_name_never_enrols(rt, tenant):
    define(rt, tenant.company_id, sequence(event=ORDER))
    emit(rt, tenant.company_id, CART)
    assert runs(rt, tenant.company_id) == []


def test_historical_events_start_nothing(rt, tenant):
    define(rt, tenant.company_id, sequence(event=ORDER))
    emit(rt, tenant.company_id, ORDER, properties=order(line("1")), live=False)
    assert runs(rt, tenant.company_id) == []


def test_paused_and_draft_sequences_do_not_enrol(rt, tenant):
    define(rt, tenant.company_id, sequence("paused", status="paused"))
    define(rt, tenant.company_id, sequence("draft", status="draft"))
    emit(rt, tenant.company_id, ORDER)
    assert runs(rt, tenant.company_id) == []


# --- re-entry -------------------------------------------------------------------------------

WAIT = {"delay": {"days": 1}}


def test_unlimited_enrols_every_event_but_each_event_once(rt, tenant):
    define(rt, tenant.company_id, sequence(enrollment={"mode": "unlimited"}, steps=[WAIT]))
    first = emit(rt, tenant.company_id, ORDER)
    emit(rt, tenant.company_id, ORDER)
    assert len(runs(rt, tenant.company_id)) == 2
    # The same event processed again (a replayed delivery, a duplicate job) adds nothing.
    with rt.unit_of_work() as session:
        from storeflow.core.work import outbox

        outbox.add(session, company_id=tenant.company_id, kind="event", key="again", ref_id=first)
    tasks.drain(rt)
    assert len(runs(rt, tenant.company_id)) == 2


def test_one_time_never_enrols_twice_even_after_the_run_ended(rt, tenant):
    define(
        rt,
        tenant.company_id,
        sequence(enrollment={"mode": "one_time"}, steps=[{"tag": {"add": ["x"]}}]),
    )
    emit(rt, tenant.company_id, ORDER)
    assert [r.status for r in runs(rt, tenant.company_id)] == ["completed"]
    emit(rt, tenant.company_id, ORDER)
    emit(rt, tenant.company_id, ORDER, "other@example.com")
    assert [(r.email, r.status) for r in runs(rt, tenant.company_id)] == [
        ("ana@example.com", "completed"),
        ("other@example.com", "completed"),
    ]


def test_matching_field_allows_one_active_run_per_value(rt, tenant):
    define(
        rt,
        tenant.company_id,
        sequence(
            event=RESTOCK,
            enrollment={"mode": "matching_field", "fieldPath": "product.providerVariantId"},
            steps=[WAIT],
        ),
    )
    emit(rt, tenant.company_id, RESTOCK, properties=product("501", "601"))
    emit(rt, tenant.company_id, RESTOCK, properties=product("501", "601"))  # blocked: active
    emit(rt, tenant.company_id, RESTOCK, properties=product("501", "602"))  # another value
    assert [r.match_value for r in runs(rt, tenant.company_id)] == ["601", "602"]
    advance(rt, days=1, seconds=1)  # both runs complete
    emit(rt, tenant.company_id, RESTOCK, properties=product("501", "601"))  # free again
    assert [(r.match_value, r.status) for r in runs(rt, tenant.company_id)] == [
        ("601", "completed"),
        ("602", "completed"),
        ("601", "active"),
    ]


def test_matching_field_without_a_value_does_not_enrol(rt, tenant):
    define(
        rt,
        tenant.company_id,
        sequence(enrollment={"mode": "matching_field", "fieldPath": "orderId"}, steps=[WAIT]),
    )
    emit(rt, tenant.company_id, ORDER, properties={"lineItems": []})
    assert runs(rt, tenant.company_id) == []


@pytest.mark.parametrize("event", [RESTOCK, REFILL])
def test_default_re_entry_is_one_active_run_per_variant(rt, tenant, event):
    define(rt, tenant.company_id, sequence(event=event, steps=[WAIT]))
    emit(rt, tenant.company_id, event, properties=product("501", "601"))
    emit(rt, tenant.company_id, event, properties=product("501", "601"))
    emit(rt, tenant.company_id, event, properties=product("501", "602"))
    assert [r.match_value for r in runs(rt, tenant.company_id)] == ["601", "602"]


# --- stop conditions ------------------------------------------------------------------------

CART_FLOW = [{"delay": {"hours": 1}}, email_step("You left something")]


def test_a_stop_event_stops_the_run_when_it_arrives_and_records_why(rt, tenant):
    define(rt, tenant.company_id, sequence("cart", event=CART, steps=CART_FLOW))
    emit(rt, tenant.company_id, CART, properties={"cartId": "c1"})
    order_id = emit(rt, tenant.company_id, ORDER, properties=order(line("1")))
    (run,) = runs(rt, tenant.company_id)
    assert run.status == "stopped"
    assert run.stop_reason == f"default stop[0] event_received {ORDER} (event {order_id})"
    advance(rt, hours=2)
    (message,) = ledger(rt, tenant.company_id)
    assert message.status == "skipped" and ORDER in message.reason
    assert [s.status for s in steps_of(rt, run.id)] == ["done", "skipped"]


def test_only_events_after_the_entry_event_stop_it(rt, tenant):
    """An order placed before the cart started (delivered late) never stops the cart run."""
    define(rt, tenant.company_id, sequence("cart", event=CART, steps=CART_FLOW))
    start = clock.now()
    emit(rt, tenant.company_id, CART, occurred_at=start)
    emit(
        rt,
        tenant.company_id,
        ORDER,
        properties=order(line("1")),
        occurred_at=start - timedelta(minutes=5),
    )
    advance(rt, hours=2)
    assert [r.status for r in runs(rt, tenant.company_id)] == ["completed"]
    assert len(sent(rt, tenant.company_id)) == 1


def test_a_late_delivered_stop_event_stops_before_the_first_step(rt, tenant):
    """The order was stored before the cart event arrived, but happened after the cart."""
    define(rt, tenant.company_id, sequence("cart", event=CART, steps=[email_step()]))
    start = clock.now()
    emit(
        rt,
        tenant.company_id,
        ORDER,
        properties=order(line("1")),
        occurred_at=start + timedelta(seconds=30),
    )
    emit(rt, tenant.company_id, CART, occurred_at=start)
    (run,) = runs(rt, tenant.company_id)
    assert run.status == "stopped" and ORDER in run.stop_reason
    assert [m.status for m in ledger(rt, tenant.company_id)] == ["skipped"]


def test_a_historical_stop_event_counts_at_the_next_step(rt, tenant):
    """A purchase found by a store sync (no event job) still stops the run."""
    define(rt, tenant.company_id, sequence("cart", event=CART, steps=CART_FLOW))
    emit(rt, tenant.company_id, CART)
    emit(rt, tenant.company_id, ORDER, properties=order(line("1")), live=False)
    assert runs(rt, tenant.company_id)[0].status == "active"
    advance(rt, hours=2)
    assert runs(rt, tenant.company_id)[0].status == "stopped"
    assert sent(rt, tenant.company_id) == []


def test_stop_event_filters_narrow_the_stop(rt, tenant):
    define(
        rt,
        tenant.company_id,
        sequence(
            "cart",
            event=CART,
            steps=CART_FLOW,
            stop=[
                {
                    "type": "event_received",
                    "event": ORDER,
                    "filters": [{"path": "status", "operator": "equals", "value": "processing"}],
                }
            ],
        ),
    )
    emit(rt, tenant.company_id, CART)
    emit(rt, tenant.company_id, ORDER, properties=order(line("1"), status="pending"))
    assert runs(rt, tenant.company_id)[0].status == "active"
    emit(rt, tenant.company_id, ORDER, properties=order(line("1"), status="processing"))
    assert runs(rt, tenant.company_id)[0].status == "stopped"


def test_stop_match_rules_compare_with_the_entry_event(rt, tenant):
    """Stop when an order's line items contain the product the run started for."""
    define(
        rt,
        tenant.company_id,
        sequence(
            "restock",
            event=RESTOCK,
            steps=CART_FLOW,
            stop=[
                {
                    "type": "event_received",
                    "event": ORDER,
                    "match": [
                        {
                            "entryPath": "product.providerProductId",
                            "eventPath": "lineItems[].providerProductId",
                        }
                    ],
                }
            ],
        ),
    )
    emit(rt, tenant.company_id, RESTOCK, properties=product("501", "601"))
    emit(rt, tenant.company_id, ORDER, properties=order(line("777")))
    assert runs(rt, tenant.company_id)[0].status == "active"
    emit(rt, tenant.company_id, ORDER, properties=order(line("777"), line("501", "609")))
    run = runs(rt, tenant.company_id)[0]
    assert run.status == "stopped"
    assert (
        "lineItems[].providerProductId = entry product.providerProductId ['501']" in run.stop_reason
    )


def test_has_tag_stops_before_the_next_step(rt, tenant):
    define(
        rt,
        tenant.company_id,
        sequence("s", steps=CART_FLOW, stop=[{"type": "has_tag", "tag": "vip"}]),
    )
    emit(rt, tenant.company_id, ORDER)
    update_subscriber(rt, tenant.company_id, tags=["vip"])
    advance(rt, hours=2)
    (run,) = runs(rt, tenant.company_id)
    assert run.status == "stopped" and run.stop_reason == "stop[0] has_tag vip"
    assert sent(rt, tenant.company_id) == []


def test_a_tag_step_stops_other_runs_at_once(rt, tenant):
    define(
        rt,
        tenant.company_id,
        sequence("promo", event=CART, steps=CART_FLOW, stop=[{"type": "has_tag", "tag": "buyer"}]),
    )
    define(rt, tenant.company_id, sequence("thanks", steps=[{"tag": {"add": ["buyer"]}}], stop=[]))
    emit(rt, tenant.company_id, CART)
    emit(rt, tenant.company_id, ORDER, properties=order(line("1")))
    promo, thanks = runs(rt, tenant.company_id)
    assert thanks.status == "completed"
    assert promo.status == "stopped" and promo.stop_reason == "stop[0] has_tag buyer"
    assert subscriber(rt, tenant.company_id).tags == ["buyer"]


def test_field_changed_stops_when_the_attribute_changes(rt, tenant):
    define(
        rt,
        tenant.company_id,
        sequence(
            "winback",
            steps=CART_FLOW,
            stop=[
                {
                    "type": "field_changed",
                    "field": "subscriber.ordersCount",
                    "operator": "greater_than",
                    "value": 1,
                }
            ],
        ),
    )
    emit(rt, tenant.company_id, CART)  # the subscriber exists
    update_subscriber(rt, tenant.company_id, attributes={"ordersCount": 1})
    emit(rt, tenant.company_id, ORDER)
    update_subscriber(rt, tenant.company_id, attributes={"ordersCount": 1, "totalSpent": 9})
    advance(rt, minutes=30)
    assert runs(rt, tenant.company_id)[0].status == "active"  # ordersCount unchanged
    update_subscriber(rt, tenant.company_id, attributes={"ordersCount": 2})
    advance(rt, hours=1)
    run = runs(rt, tenant.company_id)[0]
    assert run.status == "stopped"
    assert run.stop_reason == "stop[0] field_changed subscriber.ordersCount: [1] -> [2]"


@pytest.mark.parametrize("status", ["unsubscribed", "suppressed"])
def test_unsubscribed_or_suppressed_always_stops(rt, tenant, status):
    define(rt, tenant.company_id, sequence("s", steps=CART_FLOW, stop=[]))
    emit(rt, tenant.company_id, ORDER)
    update_subscriber(rt, tenant.company_id, status=status)
    advance(rt, hours=2)
    (run,) = runs(rt, tenant.company_id)
    assert run.status == "stopped" and run.stop_reason == f"subscriber {status}"
    assert [m.status for m in ledger(rt, tenant.company_id)] == ["skipped"]


def test_stop_conditions_are_checked_before_the_first_step(rt, tenant):
    define(
        rt,
        tenant.company_id,
        sequence("s", steps=[email_step()], stop=[{"type": "has_tag", "tag": "vip"}]),
    )
    emit(rt, tenant.company_id, CART)
    update_subscriber(rt, tenant.company_id, tags=["vip"])
    emit(rt, tenant.company_id, ORDER)
    (run,) = runs(rt, tenant.company_id)
    assert run.status == "stopped" and [s.status for s in steps_of(rt, run.id)] == ["skipped"]
    assert sent(rt, tenant.company_id) == []


# --- built-in defaults -------------------------------------------------------------------


def refill_flow(rt, tenant):
    define(rt, tenant.company_id, sequence("refill", event=REFILL, steps=CART_FLOW))


def test_replenishment_stops_when_the_product_is_bought_again(rt, tenant):
    refill_flow(rt, tenant)
    emit(rt, tenant.company_id, ORDER, properties=order(line("501", "601")))  # before: no stop
    emit(rt, tenant.company_id, REFILL, properties=product("501", "601"))
    emit(rt, tenant.company_id, ORDER, properties=order(line("999")))
    assert runs(rt, tenant.company_id)[0].status == "active"
    emit(rt, tenant.company_id, ORDER, properties=order(line("501", "602")))  # another variant
    run = runs(rt, tenant.company_id)[0]
    assert run.status == "stopped" and run.stop_reason.startswith("default stop[0]")


def test_replenishment_at_variant_level_needs_the_same_variant(rt, tenant):
    refill_flow(rt, tenant)
    emit(
        rt,
        tenant.company_id,
        REFILL,
        properties=product("501", "601", replenishmentMatch="variant"),
    )
    emit(rt, tenant.company_id, ORDER, properties=order(line("501", "602")))
    assert runs(rt, tenant.company_id)[0].status == "active"
    emit(rt, tenant.company_id, ORDER, properties=order(line("501", "601")))
    run = runs(rt, tenant.company_id)[0]
    assert run.status == "stopped" and run.stop_reason.startswith("default stop[1]")


def test_back_in_stock_stops_on_sold_out_or_purchase_of_the_variant(rt, tenant):
    define(rt, tenant.company_id, sequence("restock", event=RESTOCK, steps=CART_FLOW))
    emit(rt, tenant.company_id, RESTOCK, "a@example.com", product("501", "601"))
    emit(rt, tenant.company_id, RESTOCK, "b@example.com", product("501", "601"))
    emit(rt, tenant.company_id, SOLD_OUT, "a@example.com", product("501", "602"))
    emit(rt, tenant.company_id, SOLD_OUT, "a@example.com", product("501", "601"))
    emit(rt, tenant.company_id, ORDER, "b@example.com", order(line("501", "601")))
    a, b = runs(rt, tenant.company_id)
    assert a.status == "stopped" and SOLD_OUT in a.stop_reason
    assert b.status == "stopped" and ORDER in b.stop_reason


@pytest.mark.parametrize("trigger", [CART, CHECKOUT, "ecommerce.cart_abandoned"])
@pytest.mark.parametrize("stopper", [ORDER, CLEARED])
def test_cart_and_checkout_recovery_stop_on_order_or_cleared_cart(rt, tenant, trigger, stopper):
    define(rt, tenant.company_id, sequence("recover", event=trigger, steps=CART_FLOW))
    emit(rt, tenant.company_id, trigger)
    emit(rt, tenant.company_id, stopper)
    advance(rt, hours=2)
    run = runs(rt, tenant.company_id)[0]
    assert run.status == "stopped" and stopper in run.stop_reason
    assert sent(rt, tenant.company_id) == []


# --- steps ---------------------------------------------------------------------------------


def test_a_delay_holds_the_next_step(rt, tenant):
    define(rt, tenant.company_id, sequence("s", steps=[{"delay": {"minutes": 30}}, email_step()]))
    emit(rt, tenant.company_id, ORDER)
    assert sent(rt, tenant.company_id) == []
    advance(rt, minutes=29)
    assert sent(rt, tenant.company_id) == []
    advance(rt, minutes=2)
    assert len(sent(rt, tenant.company_id)) == 1
    assert runs(rt, tenant.company_id)[0].status == "completed"


def test_a_delay_until_a_window_waits_for_it(rt, tenant):
    window = {
        "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "start": "03:00",
        "end": "03:05",
        "timezone": "Asia/Tokyo",
    }
    define(rt, tenant.company_id, sequence("s", steps=[{"delay": {"until": window}}, email_step()]))
    before = clock.now()
    emit(rt, tenant.company_id, ORDER)
    expected = next_send_time(Window(**window), before)
    run = runs(rt, tenant.company_id)[0]
    email = steps_of(rt, run.id)[1]
    if expected > before + timedelta(seconds=5):  # not inside the window right now
        assert email.status == "scheduled" and abs(email.due_at - expected) < timedelta(seconds=5)
        assert sent(rt, tenant.company_id) == []
    advance(rt, days=1)
    assert len(sent(rt, tenant.company_id)) == 1


def test_tag_steps_add_and_remove(rt, tenant):
    define(
        rt,
        tenant.company_id,
        sequence(
            "s", steps=[{"tag": {"add": ["a", "b"]}}, {"tag": {"add": ["c"], "remove": ["a"]}}]
        ),
    )
    emit(rt, tenant.company_id, ORDER)
    assert subscriber(rt, tenant.company_id).tags == ["b", "c"]


def test_a_branch_takes_then_or_else(rt, tenant):
    no_cap(rt, tenant.company_id)
    branch = {
        "branch": {
            "if": [{"path": "totalCents", "operator": "greater_than", "value": 5000}],
            "then": [{"tag": {"add": ["big"]}}],
            "else": [{"tag": {"add": ["small"]}}, email_step("Small {{ event.totalCents }}")],
        }
    }
    define(rt, tenant.company_id, sequence("s", steps=[branch, {"tag": {"add": ["after"]}}]))
    emit(rt, tenant.company_id, ORDER, "big@example.com", {"totalCents": 9000})
    emit(rt, tenant.company_id, ORDER, "small@example.com", {"totalCents": 100})
    assert subscriber(rt, tenant.company_id, "big@example.com").tags == ["big", "after"]
    assert subscriber(rt, tenant.company_id, "small@example.com").tags == ["small", "after"]
    assert [m.subject for m in sent(rt, tenant.company_id)] == ["Small 100"]
    big, small = runs(rt, tenant.company_id)
    assert [(s.position, s.kind) for s in steps_of(rt, big.id)] == [
        (0, "branch"),
        (1, "tag"),
        (4, "tag"),
    ]
    assert [s.position for s in steps_of(rt, small.id)] == [0, 2, 3, 4]
    assert steps_of(rt, small.id)[0].detail.startswith("else: if[0] totalCents greater_than 5000")


def test_an_email_renders_templates_with_fallbacks(rt, tenant):
    define(
        rt,
        tenant.company_id,
        sequence(
            "s",
            event=REFILL,
            steps=[
                {
                    "email": {
                        "subject": "Restock {{ product.title }} for {{ subscriber.firstName }}",
                        "body": "Hi {{ subscriber.nickname|default('friend') }}, {{ event.nothing.deeper }}!",
                    }
                }
            ],
        ),
    )
    emit(rt, tenant.company_id, REFILL, properties=product())
    (message,) = sent(rt, tenant.company_id)
    assert message.subject == "Restock Coffee for Ana"
    assert message.body.startswith("Hi friend, !")


def test_the_enrollment_keeps_the_entry_event_and_a_subscriber_snapshot(rt, tenant):
    define(rt, tenant.company_id, sequence("s", steps=[WAIT]))
    at = clock.now() - timedelta(minutes=3)
    event_id = emit(rt, tenant.company_id, ORDER, properties={"orderId": "9"}, occurred_at=at)
    (run,) = runs(rt, tenant.company_id)
    assert run.entry_event_id == event_id and run.entry_properties == {"orderId": "9"}
    assert run.entry_occurred_at == at
    assert run.subscriber_snapshot["email"] == "ana@example.com"


def test_a_paused_sequence_holds_runs_and_resumes_them(rt, tenant):
    data = sequence("s", steps=[{"delay": {"minutes": 10}}, email_step()])
    define(rt, tenant.company_id, data)
    emit(rt, tenant.company_id, ORDER)
    define(rt, tenant.company_id, {**data, "status": "paused"})
    advance(rt, minutes=20)
    (run,) = runs(rt, tenant.company_id)
    assert run.status == "active" and steps_of(rt, run.id)[1].status == "paused"
    assert sent(rt, tenant.company_id) == []
    define(rt, tenant.company_id, {**data, "status": "active"})
    tasks.drain(rt)
    assert len(sent(rt, tenant.company_id)) == 1


def test_jobs_for_a_position_the_run_moved_past_do_nothing(rt, tenant):
    define(rt, tenant.company_id, sequence("s", steps=[{"tag": {"add": ["x"]}}, WAIT]))
    emit(rt, tenant.company_id, ORDER)
    (run,) = runs(rt, tenant.company_id)
    with rt.unit_of_work() as session:
        from storeflow.core.work import outbox

        outbox.add(
            session,
            company_id=tenant.company_id,
            kind="step",
            key="stale",
            ref_id=run.id,
            payload={"position": 0},
        )
    update_subscriber(rt, tenant.company_id, tags=[])
    tasks.drain(rt)
    assert subscriber(rt, tenant.company_id).tags == []  # the tag step did not run again
    with rt.unit_of_work() as session:
        job = session.scalars(select(Job).where(Job.key == "stale")).one()
        assert job.status == "done"
