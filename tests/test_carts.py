"""Cart and checkout recovery: the plugin's events route, carts folded from their log,
anonymous carts, abandonment, purchase wins and recovered revenue (issue 12)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from storeflow.core import clock
from storeflow.core.commerce import carts
from storeflow.core.storage.tables import (
    Cart,
    CartActivity,
    Event,
    InboundDelivery,
    ProductRow,
    StoreCustomer,
    VariantRow,
)
from storeflow.core.work import tasks
from tests.synckit import plugin_for

EVENTS = "/api/woocommerce/events"
_ids = itertools.count(1)


def event(
    type: str = "cart_updated",
    *,
    session: str = "sess-1",
    email: str | None = "ana@example.com",
    at: datetime | None = None,
    items: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    # By default long enough ago to be settled on arrival: its events append at once.
    when = at or clock.now() - carts.SETTLE
    body: dict[str, Any] = {
        "id": extra.pop("id", f"evt-{next(_ids)}"),
        "type": type,
        "occurredAt": when.isoformat(),
        "sessionKey": session,
        "email": email,
        "customerId": extra.pop("customerId", None),
        "cart": {
            "items": [{"productId": 501, "variationId": 601, "quantity": 2, "lineTotal": "39.80"}]
            if items is None
            else items,
            "total": extra.pop("total", "39.80"),
            "currency": "USD",
        },
    }
    body.update(extra)
    return body


@pytest.fixture
def plugin(rt, client, tenant):
    return plugin_for(rt, client, tenant.integration_id)


def send(plugin, *events: dict[str, Any]) -> dict[str, Any]:
    response = plugin.post(EVENTS, {"events": list(events)})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def names(rt, company_id: int, name: str | None = None) -> list[str]:
    with rt.unit_of_work() as session:
        query = select(Event.name).where(Event.company_id == company_id).order_by(Event.id)
        if name:
            query = query.where(Event.name == name)
        return list(session.scalars(query))


def cart_events(rt, company_id: int) -> list[Event]:
    with rt.unit_of_work() as session:
        return list(
            session.scalars(
                select(Event)
                .where(Event.company_id == company_id, Event.name.like("ecommerce.cart%"))
                .order_by(Event.id)
            )
        )


def all_carts(rt, company_id: int) -> list[Cart]:
    with rt.unit_of_work() as session:
        return list(
            session.scalars(select(Cart).where(Cart.company_id == company_id).order_by(Cart.id))
        )


def catalogue(rt, tenant) -> None:
    with rt.unit_of_work() as session:
        product = ProductRow(
            company_id=tenant.company_id,
            integration_id=tenant.integration_id,
            provider="woocommerce",
            provider_product_id="501",
            title="Ethiopia Guji",
            url="https://acme.example.com/p/guji",
            image_url="https://acme.example.com/guji.jpg",
            price_cents=1990,
            currency="USD",
        )
        session.add(product)
        session.flush()
        session.add(
            VariantRow(
                company_id=tenant.company_id,
                integration_id=tenant.integration_id,
                product_id=product.id,
                provider_variant_id="601",
                title="1 kg",
                sku="GUJI-1KG",
                price_cents=1990,
            )
        )


def sweep(rt) -> None:
    tasks.sweep(rt)
    tasks.drain(rt)


# --- the route ---------------------------------------------------------------------------


def test_a_known_shopper_s_cart_starts_with_line_items_from_the_catalogue(rt, tenant, plugin):
    catalogue(rt, tenant)
    answer = send(plugin, event("cart_started"))
    assert answer == {"success": True, "accepted": 1, "duplicates": 0, "failed": []}
    [started] = cart_events(rt, tenant.company_id)
    assert started.name == "ecommerce.cart_started"
    assert started.email == "ana@example.com"
    props = started.properties
    assert props["totalCents"] == 3980 and props["currency"] == "USD"
    [item] = props["lineItems"]
    assert item["providerProductId"] == "501" and item["providerVariantId"] == "601"
    assert item["title"] == "Ethiopia Guji" and item["variantTitle"] == "1 kg"
    assert item["imageUrl"] == "https://acme.example.com/guji.jpg"
    assert item["priceCents"] == 1990 and item["quantity"] == 2
    assert props["cartId"] == all_carts(rt, tenant.company_id)[0].public_id


def test_fresh_activity_appends_its_events_once_settled_whatever_the_arrival_order(
    rt, tenant, plugin
):
    now = clock.now()
    checkout = event("checkout_started", at=now, checkoutUrl="https://acme.example.com/co/")
    send(plugin, checkout)
    assert names(rt, tenant.company_id) == []
    # Late by a minute: the cart was emptied before the checkout, in another cart.
    send(plugin, event("cart_started", at=now - timedelta(seconds=50)))
    send(plugin, event("cart_cleared", items=[], at=now - timedelta(seconds=20)))
    assert names(rt, tenant.company_id) == []
    clock.travel(carts.SETTLE)
    sweep(rt)
    assert sorted(names(rt, tenant.company_id)) == [
        "ecommerce.cart_cleared",
        "ecommerce.cart_started",
        "ecommerce.cart_started",
        "ecommerce.checkout_started",
    ]
    first, second = sorted(all_carts(rt, tenant.company_id), key=lambda c: c.started_at)
    assert (first.status, first.checkout_started_at) == ("cleared", None)
    assert second.status == "open" and second.checkout_started_at is not None
    assert second.settle_due_at is None


def test_a_repeated_event_id_is_a_duplicate_with_no_second_effect(rt, tenant, plugin):
    first = event("cart_started")
    assert send(plugin, first)["accepted"] == 1
    again = send(plugin, first, dict(first))
    assert (again["accepted"], again["duplicates"]) == (0, 2)
    assert names(rt, tenant.company_id) == ["ecommerce.cart_started"]


def test_one_bad_event_is_reported_by_index_and_kept_the_rest_applies(rt, tenant, plugin):
    answer = send(
        plugin,
        event("cart_started"),
        event("cart_exploded"),
        {**event("cart_updated"), "occurredAt": "yesterday"},
    )
    assert answer["accepted"] == 1
    assert [(f["index"], f["code"]) for f in answer["failed"]] == [
        (1, "unknown_type"),
        (2, "invalid_event"),
    ]
    assert "$.events[2].occurredAt" in answer["failed"][1]["message"]
    assert names(rt, tenant.company_id) == ["ecommerce.cart_started"]
    with rt.unit_of_work() as session:
        failed = session.scalars(
            select(InboundDelivery).where(InboundDelivery.status == "failed")
        ).one()
        assert "unknown_type" in (failed.error or "") and b"cart_exploded" in failed.body


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "malformed_json"),
        (b'{"events": {"a": 1}}', 422, "validation_failed"),
        (b"[1, 2]", 422, "validation_failed"),
        (b'{"events": [' + b",".join([b"{}"] * 501) + b"]}", 422, "validation_failed"),
    ],
)
def test_bad_bodies_get_the_contract_s_errors(plugin, body, status, code):
    from storeflow.core.testing import plugin_client

    headers = plugin_client.signed_headers(plugin.token, plugin.secret, body)
    response = plugin.client.post(EVENTS, data=body, headers=headers)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]


def test_oversize_and_bad_signature_are_refused_without_a_500(plugin):
    from storeflow.core.testing import plugin_client

    big = b'{"events": [], "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    headers = plugin_client.signed_headers(plugin.token, plugin.secret, big)
    response = plugin.client.post(EVENTS, data=big, headers=headers)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    body = plugin_client.encode({"events": [event()]})
    headers = plugin_client.signed_headers(plugin.token, "whsec_" + "A" * 44, body)
    response = plugin.client.post(EVENTS, data=body, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_signature"


def test_wrong_types_inside_an_event_are_reported_with_their_path(plugin):
    bad = event("cart_updated", items=[{"productId": True, "quantity": "two"}])
    answer = send(plugin, bad, event("cart_updated", email=42))
    assert [f["index"] for f in answer["failed"]] == [0, 1]
    assert "$.events[0].cart.items[0].productId" in answer["failed"][0]["message"]
    assert "$.events[1].email" in answer["failed"][1]["message"]


# --- anonymous carts ------------------------------------------------------------------------


def test_an_anonymous_cart_starts_only_when_identified_then_once_with_its_start_time(
    rt, tenant, plugin
):
    opened = clock.now() - timedelta(minutes=20)
    send(plugin, event("cart_started", email=None, at=opened))
    send(plugin, event("cart_updated", email=None, at=opened + timedelta(minutes=5)))
    assert names(rt, tenant.company_id) == []
    checkout = event(
        "checkout_started",
        email="Ana@Example.com",
        checkoutUrl="https://acme.example.com/checkout/",
        at=opened + timedelta(minutes=10),
    )
    send(plugin, checkout)
    send(plugin, event("cart_updated", at=opened + timedelta(minutes=12)))
    assert names(rt, tenant.company_id) == ["ecommerce.cart_started", "ecommerce.checkout_started"]
    started, checked_out = cart_events(rt, tenant.company_id)[0], None
    with rt.unit_of_work() as session:
        checked_out = session.scalars(
            select(Event).where(Event.name == "ecommerce.checkout_started")
        ).one()
    assert datetime.fromisoformat(started.properties["startedAt"]) == opened
    assert started.properties["wasAnonymous"] is True
    assert started.occurred_at > opened
    assert checked_out.properties["checkoutUrl"] == "https://acme.example.com/checkout/"


def test_a_login_identifies_the_session_through_the_store_account(rt, tenant, plugin):
    send(plugin, event("cart_started", email=None))
    with rt.unit_of_work() as session:
        from storeflow.core.commerce import subscribers

        sub = subscribers.upsert(session, tenant.company_id, "bo@example.com")
        session.add(
            StoreCustomer(
                company_id=tenant.company_id,
                integration_id=tenant.integration_id,
                provider_customer_id="77",
                subscriber_id=sub.id,
                email=sub.email,
            )
        )
    send(plugin, event("cart_updated", email=None, customerId=77))
    [started] = cart_events(rt, tenant.company_id)
    assert started.email == "bo@example.com" and started.properties["customerId"] == "77"


def test_a_back_in_stock_request_from_the_session_identifies_it(rt, tenant, plugin):
    send(plugin, event("cart_started", email=None))
    with rt.unit_of_work() as session:
        from storeflow.core.storage.tables import Integration
        from storeflow.core.stores import integrations

        store = integrations.context(session.get_one(Integration, tenant.integration_id))
        assert carts.identify(
            session,
            store,
            "woocommerce",
            "sess-1",
            "cy@example.com",
            occurred_at=clock.now(),
            source="back_in_stock",
        )
    assert cart_events(rt, tenant.company_id) == []  # settles like any fresh activity
    clock.travel(carts.SETTLE)
    sweep(rt)
    assert [e.email for e in cart_events(rt, tenant.company_id)] == ["cy@example.com"]


def test_anonymous_carts_expire_and_are_forgotten(rt, tenant, plugin):
    send(plugin, event("cart_started", email=None, session="ghost"))
    send(plugin, event("cart_started", session="known"))
    clock.travel(timedelta(hours=73))
    sweep(rt)
    assert [c.session_key for c in all_carts(rt, tenant.company_id)] == ["known"]
    with rt.unit_of_work() as session:
        left = session.scalars(select(CartActivity.session_key)).all()
    assert set(left) == {"known"}


# --- abandonment ----------------------------------------------------------------------------


def test_a_cart_is_abandoned_once_after_an_hour_of_inactivity_updates_restart_it(
    rt, tenant, plugin
):
    send(plugin, event("cart_started"))
    clock.travel(timedelta(minutes=50))
    send(plugin, event("cart_updated"))
    clock.travel(timedelta(minutes=20))
    sweep(rt)
    assert names(rt, tenant.company_id, "ecommerce.cart_abandoned") == []
    clock.travel(timedelta(minutes=45))
    sweep(rt)
    clock.travel(timedelta(hours=3))
    sweep(rt)
    assert names(rt, tenant.company_id, "ecommerce.cart_abandoned") == ["ecommerce.cart_abandoned"]


def test_the_company_sets_the_inactivity_time(rt, tenant, plugin, client):
    response = client.put(
        "/api/settings/cart-recovery", json={"abandonAfterMinutes": 15}, headers=tenant.auth
    )
    assert response.status_code == 200 and response.get_json()["abandonAfterMinutes"] == 15
    bad = client.put(
        "/api/settings/cart-recovery", json={"cooldownHours": "a day"}, headers=tenant.auth
    )
    assert bad.status_code == 422
    assert bad.get_json()["error"]["details"][0]["path"] == "$.cooldownHours"
    send(plugin, event("cart_started"))
    clock.travel(timedelta(minutes=16))
    sweep(rt)
    assert names(rt, tenant.company_id, "ecommerce.cart_abandoned") == ["ecommerce.cart_abandoned"]


def test_a_cleared_cart_cancels_abandonment(rt, tenant, plugin):
    send(plugin, event("cart_started"))
    send(plugin, event("cart_cleared", items=[]))
    clock.travel(timedelta(hours=2))
    sweep(rt)
    assert names(rt, tenant.company_id) == ["ecommerce.cart_started", "ecommerce.cart_cleared"]
    assert all_carts(rt, tenant.company_id)[0].abandon_due_at is None


def test_two_tabs_give_one_abandonment_within_the_cooldown(rt, tenant, plugin):
    send(plugin, event("cart_started", session="tab-1"), event("cart_started", session="tab-2"))
    clock.travel(timedelta(hours=2))
    sweep(rt)
    assert len(names(rt, tenant.company_id, "ecommerce.cart_abandoned")) == 1
    skipped = [c.abandon_skipped for c in all_carts(rt, tenant.company_id)]
    assert any(reason and reason.startswith("cooldown") for reason in skipped)
    clock.travel(timedelta(hours=23))
    send(plugin, event("cart_started", session="tab-3"))
    clock.travel(timedelta(hours=2))
    sweep(rt)
    assert len(names(rt, tenant.company_id, "ecommerce.cart_abandoned")) == 2
