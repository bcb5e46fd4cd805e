"""Replenishment reminders: settings, scheduling from live orders, the due sweep, cancels.

Time moves with the project's clock (``storeflow.core.clock.travel``); orders are
real signed WooCommerce webhooks, the sweep is the worker's real sweep.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storeflow.core import clock
from storeflow.core.commerce import replenishment
from storeflow.core.storage.tables import Event
from tests.providers import woocommerce_payloads as fx
from tests.replenishkit import (
    BLUE,
    COFFEE,
    GREEN,
    HOODIE,
    TEA,
    buy,
    catalogue,
    coffee,
    due_events,
    enable,
    hoodie,
    pending,
    reminders,
    sweep,
    tea,
)
from tests.synckit import plugin_for
from tests.test_webhook_flow import send

DAY = timedelta(days=1)


@pytest.fixture
def shop(rt, client, tenant):
    catalogue(client, tenant)
    return tenant


def product(client, tenant, pid):
    response = client.get(f"/api/products/woocommerce/{pid}", headers=tenant.auth)
    assert response.status_code == 200
    return response.get_json()["product"]


# --- settings ------------------------------------------------------------------------------


def test_settings_are_stored_and_shown_on_the_product(client, shop):
    assert product(client, shop, COFFEE)["replenishment"] == {
        "enabled": False,
        "days": None,
        "match": "product",
        "suggestedDays": None,
        "sampleSize": 0,
    }
    answer = enable(client, shop, HOODIE, days=45, match="variant")
    assert answer["replenishment"]["days"] == 45 and answer["pendingReminders"] == 0
    shown = product(client, shop, HOODIE)["replenishment"]
    assert (shown["enabled"], shown["days"], shown["match"]) == (True, 45, "variant")
    listed = client.get("/api/products", headers=shop.auth).get_json()["products"]
    by_id = {p["providerProductId"]: p["replenishment"] for p in listed}
    assert by_id[str(HOODIE)]["days"] == 45 and by_id[str(COFFEE)]["enabled"] is False


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"enabled": True, "days": 0}, "$.days"),
        ({"enabled": True, "days": 731}, "$.days"),
        ({"enabled": True, "days": "30"}, "$.days"),
        ({"enabled": True, "days": 30.5}, "$.days"),
        ({"enabled": True}, "$.days"),
        ({"days": 30}, "$.enabled"),
        ({"enabled": "yes", "days": 30}, "$.enabled"),
        ({"enabled": True, "days": 30, "match": "sku"}, "$.match"),
        ({"enabled": True, "days": 30, "multiplyByQuantity": 1}, "$.multiplyByQuantity"),
        ({"enabled": True, "days": 30, "extra": 1}, "$.extra"),
        ([], "$"),
    ],
)
def test_bad_settings_are_422_with_the_field_path(client, shop, body, path):
    response = client.put(
        f"/api/products/woocommerce/{COFFEE}/replenishment", json=body, headers=shop.auth
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert path in [d["path"] for d in error["details"]]
    assert product(client, shop, COFFEE)["replenishment"]["enabled"] is False


def test_limits_are_accepted(client, shop):
    assert enable(client, shop, COFFEE, days=1)["replenishment"]["days"] == 1
    assert enable(client, shop, COFFEE, days=730)["replenishment"]["days"] == 730
    off = client.put(
        f"/api/products/woocommerce/{COFFEE}/replenishment",
        json={"enabled": False},
        headers=shop.auth,
    )
    assert off.status_code == 200 and off.get_json()["product"]["replenishment"]["enabled"] is False


def test_another_companys_product_is_404(rt, client, shop, other_tenant):
    response = client.put(
        f"/api/products/woocommerce/{COFFEE}/replenishment",
        json={"enabled": True, "days": 30},
        headers=other_tenant.auth,
    )
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "product_not_found"
    missing = client.put(
        "/api/products/woocommerce/99999/replenishment",
        json={"enabled": True, "days": 30},
        headers=shop.auth,
    )
    assert missing.status_code == 404
    unauthenticated = client.put(
        f"/api/products/woocommerce/{COFFEE}/replenishment", json={"enabled": True, "days": 30}
    )
    assert unauthenticated.status_code == 401


# --- scheduling -----------------------------------------------------------------------------


def test_a_live_order_schedules_one_reminder_per_product(rt, client, shop):
    enable(client, shop, HOODIE, days=30)
    enable(client, shop, COFFEE, days=14)
    ordered = clock.now().replace(microsecond=0)
    buy(
        client,
        shop,
        1001,
        [hoodie(BLUE), hoodie(GREEN, 2, line_id=403), coffee(), tea()],
        at=ordered,
    )
    rows = sorted(pending(rt, shop.company_id), key=lambda r: r.key)
    assert [r.key for r in rows] == [f"product:{HOODIE}", f"product:{COFFEE}"]
    hoodie_row, coffee_row = rows
    assert coffee_row.due_at == ordered + 14 * DAY
    assert hoodie_row.due_at == ordered + 30 * DAY
    assert hoodie_row.quantity == 3 and hoodie_row.provider_order_id == "1001"
    assert product(client, shop, HOODIE)["pendingReminders"] == 1


def test_variant_matching_schedules_one_reminder_per_variant(rt, client, shop):
    enable(client, shop, HOODIE, days=30, match="variant")
    buy(client, shop, 1001, [hoodie(BLUE), hoodie(GREEN, line_id=403)])
    keys = sorted(r.key for r in pending(rt, shop.company_id))
    assert keys == [f"variant:{BLUE}", f"variant:{GREEN}"]
    assert product(client, shop, HOODIE)["pendingReminders"] == 2


def test_days_times_quantity_when_the_product_says_so(rt, client, shop):
    shown = enable(client, shop, COFFEE, days=10, multiplyByQuantity=True)["replenishment"]
    assert shown["multiplyByQuantity"] is True
    ordered = clock.now().replace(microsecond=0)
    buy(client, shop, 1001, [coffee(quantity=3)], at=ordered)
    (row,) = pending(rt, shop.company_id)
    assert row.due_at == ordered + 30 * DAY and row.days == 30


def test_products_without_a_setting_schedule_nothing(rt, client, shop):
    enable(client, shop, COFFEE, days=10)
    client.put(
        f"/api/products/woocommerce/{COFFEE}/replenishment",
        json={"enabled": False, "days": 10},
        headers=shop.auth,
    )
    buy(client, shop, 1001, [coffee(), tea()])
    assert reminders(rt, shop.company_id) == []


def test_historical_orders_schedule_nothing(rt, client, shop):
    enable(client, shop, COFFEE, days=30)
    plugin = plugin_for(rt, client, shop.integration_id)
    recent = fx.order(
        id=5,
        status="completed",
        line_items=[coffee()],
        date_created_gmt=(clock.now() - DAY).strftime("%Y-%m-%dT%H:%M:%S"),
    )
    assert plugin.ok("orders", [recent])["upserted"] == 1
    assert reminders(rt, shop.company_id) == []


def test_a_duplicate_delivery_schedules_one_reminder(rt, client, shop):
    enable(client, shop, COFFEE, days=30)
    payload = buy(client, shop, 1001, [coffee()])
    for _ in range(2):
        send(client, shop, "order.created", payload)
    send(client, shop, "order.updated", {**payload, "status": "completed"})
    assert len(reminders(rt, shop.company_id)) == 1


def test_rerunning_the_consumer_on_the_same_event_is_a_no_op(rt, client, shop):
    enable(client, shop, COFFEE, days=30)
    buy(client, shop, 1001, [coffee()])
    with rt.unit_of_work() as session:
        placed = session.scalars(select(Event).where(Event.name == "ecommerce.order_placed")).one()
        assert replenishment.schedule(session, placed) == []
    assert len(reminders(rt, shop.company_id)) == 1


def test_an_old_order_seen_for_the_first_time_schedules_nothing(rt, client, shop):
    enable(client, shop, COFFEE, days=30)
    buy(client, shop, 1001, [coffee()], at=clock.now() - 60 * DAY)
    assert reminders(rt, shop.company_id) == []


# --- repurchase ------------------------------------------------------------------------------


def test_a_repurchase_before_due_replaces_the_reminder(rt, client, shop):
    enable(client, shop, COFFEE, days=30)
    first = clock.now().replace(microsecond=0)
    buy(client, shop, 1001, [coffee()], at=first)
    clock.travel(10 * DAY)
    second = clock.now().replace(microsecond=0)
    buy(client, shop, 1002, [coffee()], at=second)
    rows = reminders(rt, shop.company_id)
    assert [(r.provider_order_id, r.status) for r in rows] == [
        ("1001", "superseded"),
        ("1002", "pending"),
    ]
    assert rows[1].due_at == second + 30 * DAY
    clock.travel(25 * DAY)  # past the first purchase's due time, not the second's
    sweep(rt)
    assert due_events(rt, shop.company_id) == []


def test_an_older_purchase_arriving_late_does_not_replace_the_newer(rt, client, shop):
    enable(client, shop, COFFEE, days=30)
    now = clock.now().replace(microsecond=0)
    buy(client, shop, 1002, [coffee()], at=now)
    buy(client, shop, 1001, [coffee()], at=now - 5 * DAY)
    by_order = {r.provider_order_id: r.status for r in reminders(rt, shop.company_id)}
    assert by_order == {"1001": "superseded", "1002": "pending"}


def test_a_repurchase_after_due_schedules_the_next_reminder(rt, client, shop):
    enable(client, shop, COFFEE, days=30)
    buy(client, shop, 1001, [coffee()])
    clock.travel(31 * DAY)
    sweep(rt)
    assert len(due_events(rt, shop.company_id)) == 1
    buy(client, shop, 1002, [coffee()])
    rows = reminders(rt, shop.company_id)
    assert [(r.provider_order_id, r.status) for r in rows] == [
        ("1001", "fired"),
        ("1002", "pending"),
    ]


def test_a_purchase_of_another_variant_replaces_only_at_product_level(rt, client, shop):
    enable(client, shop, HOODIE, days=30, match="variant")
    buy(client, shop, 1001, [hoodie(BLUE)])
    buy(client, shop, 1002, [hoodie(GREEN)], at=clock.now() + DAY)
    assert sorted(r.key for r in pending(rt, shop.company_id)) == [
        f"variant:{BLUE}",
        f"variant:{GREEN}",
    ]


# --- cancellation and refunds ---------------------------------------------------------------


@pytest.mark.parametrize("status", ["cancelled", "failed"])
def test_a_cancelled_or_failed_order_cancels_its_reminders(rt, client, shop, status):
    enable(client, shop, COFFEE, days=30)
    at = clock.now()
    payload = buy(client, shop, 1001, [coffee()], at=at)
    assert len(pending(rt, shop.company_id)) == 1
    buy(
        client,
        shop,
        1001,
        [coffee()],
        at=at,
        status=status,
        modified=at + timedelta(hours=1),
        topic="order.updated",
    )
    (row,) = reminders(rt, shop.company_id)
    assert row.status == "cancelled" and payload["id"] == 1001
    clock.travel(31 * DAY)
    sweep(rt)
    assert due_events(rt, shop.company_id) == []


def test_an_order_first_seen_as_failed_schedules_nothing(rt, client, shop):
    enable(client, shop, COFFEE, days=30)
    buy(client, shop, 1001, [coffee()], status="failed")
    assert pending(rt, shop.company_id) == []


def test_a_full_refund_cancels_a_partial_one_does_not(rt, client, shop):
    enable(client, shop, COFFEE, days=30)
    at = clock.now()
    buy(client, shop, 1001, [coffee()], at=at)
    buy(
        client,
        shop,
        1001,
        [coffee()],
        at=at,
        modified=at + timedelta(hours=1),
        topic="order.updated",
        refunds=[fx.refund(id=60, total="-2.00")],
    )
    assert len(pending(rt, shop.company_id)) == 1
    buy(
        client,
        shop,
        1001,
        [coffee()],
        at=at,
        status="refunded",
        modified=at + timedelta(hours=2),
        topic="order.updated",
        refunds=[fx.refund(id=60, total="-2.00"), fx.refund(id=61, total="-15.50")],
    )
    (row,) = reminders(rt, shop.company_id)
    assert row.status == "cancelled" and "refunded" in (row.reason or "")


def test_cancelling_the_newer_order_restores_the_older_reminder(rt, client, shop):
    enable(client, shop, COFFEE, days=30)
    first = clock.now().replace(microsecond=0)
    buy(client, shop, 1001, [coffee()], at=first)
    second = first + 10 * DAY
    buy(client, shop, 1002, [coffee()], at=second)
    buy(
        client,
        shop,
        1002,
        [coffee()],
        at=second,
        status="cancelled",
        modified=second + timedelta(hours=1),
        topic="order.updated",
    )
    by_order = {r.provider_order_id: r.status for r in reminders(rt, shop.company_id)}
    assert by_order == {"1001": "pending", "1002": "cancelled"}
    (row,) = pending(rt, shop.company_id)
    assert row.due_at == first + 30 * DAY


def test_disabling_the_product_cancels_its_pending_reminders(rt, client, shop):
    enable(client, shop, COFFEE, days=30)
    buy(client, shop, 1001, [coffee()])
    response = client.put(
        f"/api/products/woocommerce/{COFFEE}/replenishment",
        json={"enabled": False},
        headers=shop.auth,
    )
    assert response.get_json()["product"]["pendingReminders"] == 0
    clock.travel(31 * DAY)
    sweep(rt)
    assert due_events(rt, shop.company_id) == []


# --- firing ---------------------------------------------------------------------------------


def test_the_sweep_fires_when_due_exactly_once_with_the_product(rt, client, shop):
    enable(client, shop, HOODIE, days=30, match="variant")
    ordered = clock.now().replace(microsecond=0)
    buy(client, shop, 1001, [hoodie(BLUE)], at=ordered)
    clock.travel(29 * DAY)
    sweep(rt)
    assert due_events(rt, shop.company_id) == []
    clock.travel(2 * DAY)
    for _ in range(3):
        sweep(rt)
    (event,) = due_events(rt, shop.company_id)
    assert event.live and event.email == "john.doe@example.com"
    assert event.occurred_at == ordered + 30 * DAY
    props = event.properties
    assert props["orderId"] == "1001" and props["replenishmentMatch"] == "variant"
    assert props["product"] == {
        "provider": "woocommerce",
        "providerProductId": str(HOODIE),
        "providerVariantId": str(BLUE),
        "title": "Hoodie",
        "variantTitle": props["product"]["variantTitle"],
        "imageUrl": "https://shop.example.com/wp-content/uploads/2025/01/hoodie-blue.jpg",
        "url": props["product"]["url"],
    }
    assert "Blue" in props["product"]["variantTitle"]
    assert props["product"]["url"].startswith("https://")
    (row,) = reminders(rt, shop.company_id)
    assert row.status == "fired" and row.fired_event_id == event.id


def test_reminders_due_while_workers_were_down_fire_when_they_return(rt, client, shop):
    enable(client, shop, COFFEE, days=7)
    enable(client, shop, TEA, days=14)
    buy(client, shop, 1001, [coffee()])
    buy(client, shop, 1002, [tea()], email="ana@example.com")
    clock.travel(40 * DAY)  # nobody swept for weeks
    sweep(rt)
    sweep(rt)
    events = due_events(rt, shop.company_id)
    assert sorted(e.properties["orderId"] for e in events) == ["1001", "1002"]
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)


def test_a_sweep_fires_in_batches_up_to_its_limit(rt, client, shop):
    enable(client, shop, COFFEE, days=1)
    for n in range(5):
        buy(client, shop, 2000 + n, [coffee()], email=f"buyer{n}@example.com")
    clock.travel(2 * DAY)
    with rt.unit_of_work() as session:
        assert replenishment.fire_due(session, batch=2, limit=3) == 3
    with rt.unit_of_work() as session:
        assert replenishment.fire_due(session, batch=2, limit=3) == 2
    with rt.unit_of_work() as session:
        assert replenishment.fire_due(session, batch=2, limit=3) == 0
    assert len(due_events(rt, shop.company_id)) == 5


def test_a_product_deleted_since_the_purchase_is_not_reminded(rt, client, shop):
    enable(client, shop, COFFEE, days=7)
    buy(client, shop, 1001, [coffee()])
    assert send(client, shop, "product.deleted", fx.deleted(id=COFFEE)).status_code == 200
    clock.travel(8 * DAY)
    sweep(rt)
    assert due_events(rt, shop.company_id) == []
    (row,) = reminders(rt, shop.company_id)
    assert (row.status, row.reason) == ("cancelled", "product deleted")


def test_the_due_query_reads_the_partial_index(rt):
    if rt.engine.dialect.name != "sqlite":
        pytest.skip("the plan is checked on SQLite; bench/replenishment.py measures both")
    with rt.engine.connect() as conn:
        plan = conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM replenishment_reminders "
            "WHERE status = 'pending' AND due_at <= '2030-01-01' ORDER BY due_at, id LIMIT 500"
        ).all()
    assert any("ix_replenishment_reminders_pending_due" in str(row) for row in plan)


# --- the profile ----------------------------------------------------------------------------


def test_the_profile_lists_pending_reminders_with_their_due_dates(rt, client, shop):
    enable(client, shop, COFFEE, days=14)
    enable(client, shop, HOODIE, days=30, match="variant")
    ordered = clock.now().replace(microsecond=0)
    buy(client, shop, 1001, [hoodie(GREEN), coffee()], at=ordered)
    profile = client.get("/api/subscribers/John.Doe@example.com", headers=shop.auth).get_json()
    assert profile["replenishment"] == [
        {
            "provider": "woocommerce",
            "providerProductId": str(COFFEE),
            "providerVariantId": str(COFFEE),
            "title": "Coffee Beans",
            "dueAt": (ordered + 14 * DAY).isoformat(),
            "orderId": "1001",
        },
        {
            "provider": "woocommerce",
            "providerProductId": str(HOODIE),
            "providerVariantId": str(GREEN),
            "title": profile["replenishment"][1]["title"],
            "dueAt": (ordered + 30 * DAY).isoformat(),
            "orderId": "1001",
        },
    ]
    clock.travel(15 * DAY)
    sweep(rt)
    profile = client.get("/api/subscribers/john.doe@example.com", headers=shop.auth).get_json()
    assert [r["providerProductId"] for r in profile["replenishment"]] == [str(HOODIE)]
