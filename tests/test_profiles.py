"""Subscriber profiles: revenue attributes (what counts, per store and combined),
purchased products from the catalogue, and the invariants they keep."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from storeflow.core.commerce import money, profiles
from storeflow.core.storage.tables import Company, Subscriber
from storeflow.core.stores import integrations
from tests.conftest import make_tenant
from tests.providers import woocommerce_payloads as fx
from tests.synckit import plugin_for
from tests.test_webhook_flow import send

EMAIL = "john.doe@example.com"


def profile(client: Any, tenant: Any, email: str = EMAIL) -> dict[str, Any]:
    response = client.get(f"/api/subscribers/{email}", headers=tenant.auth)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def order(id: int, total: str, status: str = "processing", **options: Any) -> dict[str, Any]:
    return fx.order(
        id=id,
        status=status,
        total=total,
        line_items=[fx.line_item(product_id=id, quantity=1, unit_price=total)],
        **options,
    )


def test_what_counts_as_revenue(rt, client, tenant):
    plugin = plugin_for(rt, client, tenant.integration_id)
    plugin.ok(
        "orders",
        [
            order(1, "50.00", "processing", date_created_gmt="2025-01-01T10:00:00"),
            order(2, "30.00", "completed"),
            order(3, "20.00", "cancelled"),
            order(4, "10.00", "pending"),  # not paid yet: an order, not revenue
            order(5, "40.00", "processing", refunds=[fx.refund(id=51, total="-15.00")]),
            order(6, "25.00", "refunded", refunds=[fx.refund(id=61, total="-25.00")]),
            order(7, "12.00", "failed"),
            order(8, "7.00", "on-hold", date_created_gmt="2025-04-01T10:00:00"),
        ],
    )
    attributes = profile(client, tenant)["attributes"]
    assert attributes == {
        "ordersCount": 4,  # 1, 2, 5 (net 25) and 8
        "totalSpent": 112,
        "ltv": 112,
        "aov": 28,
        "currency": "USD",
        "firstOrderAt": "2025-01-01T10:00:00+00:00",
        "lastOrderAt": "2025-04-01T10:00:00+00:00",
    }
    with rt.unit_of_work() as session:
        stored = session.scalars(select(Subscriber)).one().attributes
    assert {k: stored[k] for k in attributes} == attributes  # what rules see


def test_exact_decimals_in_major_units(rt, client, tenant):
    plugin = plugin_for(rt, client, tenant.integration_id)
    plugin.ok("orders", [order(1, "47.80"), order(2, "0.10"), order(3, "0.10")])
    attributes = profile(client, tenant)["attributes"]
    assert attributes["totalSpent"] == 48.0 and attributes["aov"] == 16.0
    plugin.ok("orders", [order(4, "0.01")])
    attributes = profile(client, tenant)["attributes"]
    assert attributes["totalSpent"] == 48.01
    assert Decimal(str(attributes["aov"])) == Decimal("12.00")  # 48.01 / 4 = 12.0025


def test_currency_exponents(rt, client):
    for currency, totals, spent, aov in (
        ("JPY", ["1000", "2001"], 3001, 1500),  # 1500.5 rounds half-even to 1500
        ("KWD", ["1.250", "2.125"], 3.375, 1.688),
    ):
        tenant = make_tenant(rt, f"shop-{currency.lower()}", currency=currency)
        plugin = plugin_for(rt, client, tenant.integration_id)
        items = [
            fx.order(
                id=n,
                currency=currency,
                total=total,
                line_items=[fx.line_item(quantity=1, unit_price=total, currency=currency)],
            )
            for n, total in enumerate(totals, 1)
        ]
        plugin.ok("orders", items)
        attributes = profile(client, tenant)["attributes"]
        assert (attributes["currency"], attributes["totalSpent"], attributes["aov"]) == (
            currency,
            spent,
            aov,
        )


def test_redelivery_and_status_flips_never_double_count(rt, client, tenant):
    first = order(1, "50.00", "processing", date_modified_gmt="2025-03-02T10:00:00")
    for _ in range(3):
        send(client, tenant, "order.created", first)
    assert profile(client, tenant)["attributes"]["totalSpent"] == 50
    cancelled = order(1, "50.00", "cancelled", date_modified_gmt="2025-03-03T10:00:00")
    send(client, tenant, "order.updated", cancelled)
    assert profile(client, tenant)["attributes"]["ordersCount"] == 0
    send(client, tenant, "order.updated", first)  # late and older: stale
    assert profile(client, tenant)["attributes"]["ordersCount"] == 0
    reinstated = order(1, "50.00", "processing", date_modified_gmt="2025-03-04T10:00:00")
    send(client, tenant, "order.updated", reinstated)
    partial = order(
        1,
        "50.00",
        "completed",
        refunds=[fx.refund(id=11, total="-12.50")],
        date_modified_gmt="2025-03-05T10:00:00",
    )
    send(client, tenant, "order.updated", partial)
    send(client, tenant, "order.updated", partial)
    attributes = profile(client, tenant)["attributes"]
    assert (attributes["ordersCount"], attributes["totalSpent"], attributes["aov"]) == (
        1,
        37.5,
        37.5,
    )


def test_per_store_and_combined(rt, client, tenant):
    with rt.unit_of_work() as session:
        company = session.get_one(Company, tenant.company_id)
        second = integrations.create(
            session, company, "woocommerce", store_url="https://outlet.example.com"
        ).id
    main_store = plugin_for(rt, client, tenant.integration_id)
    outlet = plugin_for(rt, client, second)
    main_store.ok("orders", [order(1, "20.00"), order(2, "40.00")])
    outlet.ok("orders", [order(1, "15.00"), order(9, "5.00", "cancelled")])
    body = profile(client, tenant)
    assert body["attributes"]["ordersCount"] == 3 and body["attributes"]["totalSpent"] == 75
    stores = {s["integrationId"]: s for s in body["stores"]}
    assert stores[tenant.integration_id]["attributes"]["totalSpent"] == 60
    assert stores[tenant.integration_id]["attributes"]["aov"] == 30
    assert stores[second]["storeUrl"] == "https://outlet.example.com"
    assert stores[second]["attributes"]["ordersCount"] == 1
    assert stores[second]["attributes"]["totalSpent"] == 15


def test_profile_shape_and_purchased_products_from_the_catalogue(rt, client, tenant):
    plugin = plugin_for(rt, client, tenant.integration_id)
    plugin.ok(
        "products",
        [
            fx.product_variable(id=732, name="Hoodie"),
            fx.variation(
                id=733,
                parent_id=732,
                image_src="https://shop.example.com/wp-content/uploads/blue.jpg",
            ),
        ],
    )
    hoodie = fx.variation_line_item(product_id=732, variation_id=733, quantity=1, image_src="")
    mug = fx.line_item(product_id=55, quantity=2)  # not in the catalogue: the line's snapshot
    plugin.ok(
        "orders",
        [
            fx.order(id=1, line_items=[hoodie, mug], date_created_gmt="2025-01-01T00:00:00"),
            fx.order(id=2, line_items=[hoodie], date_created_gmt="2025-02-01T00:00:00"),
            fx.order(id=3, status="cancelled", line_items=[fx.line_item(product_id=77)]),
        ],
    )
    body = profile(client, tenant, "JOHN.DOE@example.com ")
    assert set(body) == {
        "success",
        "subscriber",
        "attributes",
        "stores",
        "purchasedProducts",
        "replenishment",
        "waitlists",
        "recentEvents",
    }
    assert body["subscriber"]["email"] == EMAIL and body["subscriber"]["firstName"] == "John"
    assert body["replenishment"] == [] and body["waitlists"] == []
    bought = {p["providerVariantId"]: p for p in body["purchasedProducts"]}
    assert set(bought) == {"733", "55"}  # the cancelled order's line is not a purchase
    assert bought["733"] == {
        "integrationId": tenant.integration_id,
        "provider": "woocommerce",
        "providerProductId": "732",
        "providerVariantId": "733",
        "title": "Hoodie",
        "variantTitle": "Blue, Large",
        "imageUrl": "https://shop.example.com/wp-content/uploads/blue.jpg",
        "url": "https://shop.example.com/product/hoodie/?attribute_pa_color=blue&attribute_pa_size=large",
        "quantity": 2,
        "lastPurchasedAt": "2025-02-01T00:00:00+00:00",
    }
    assert bought["55"]["title"] == "Caf\u00e9 Mug" and bought["55"]["url"] is None
    assert bought["55"]["quantity"] == 2
    assert [e["name"] for e in body["recentEvents"]].count("ecommerce.order_placed") == 3
    missing = client.get("/api/subscribers/nobody@example.com", headers=tenant.auth)
    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "subscriber_not_found"


# --- invariants over random histories --------------------------------------------------

_tenants = itertools.count()
PAID = ("processing", "on-hold", "completed", "refunded")


@st.composite
def order_histories(draw: Any) -> list[dict[str, Any]]:
    found = []
    for order_id in range(1, draw(st.integers(0, 8)) + 1):
        total = draw(st.integers(0, 100_000))
        status = draw(st.sampled_from([*PAID, "pending", "cancelled", "failed"]))
        refunds = []
        if status == "refunded" and total:
            refunds = [total]
        elif status in PAID and total:
            refunds = draw(st.lists(st.integers(1, max(1, total // 3)), max_size=2))
        found.append(
            {
                "id": order_id,
                "store": draw(st.integers(0, 1)),
                "total": total,
                "status": status,
                "refunds": refunds,
                "day": draw(st.integers(1, 28)),
            }
        )
    return found


def expected(history: list[dict[str, Any]]) -> tuple[int, int]:
    """(ordersCount, totalSpent in cents): the documented definition, written again."""
    count = spent = 0
    for o in history:
        refunded = sum(o["refunds"])
        fully_refunded = refunded > 0 and refunded >= o["total"]
        if o["status"] in PAID and not fully_refunded:
            count += 1
            spent += max(0, o["total"] - refunded)
    return count, spent


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(history=order_histories())
def test_revenue_invariants_hold_for_random_histories(rt, client, history):
    tenant = make_tenant(rt, f"inv{next(_tenants)}")
    with rt.unit_of_work() as session:
        company = session.get_one(Company, tenant.company_id)
        second = integrations.create(
            session, company, "woocommerce", store_url="https://b.example"
        ).id
    stores = [plugin_for(rt, client, tenant.integration_id), plugin_for(rt, client, second)]
    for o in history:
        total = money.format_minor(o["total"], "USD")
        payload = fx.order(
            id=o["id"],
            status=o["status"],
            total=total,
            date_created_gmt=f"2025-02-{o['day']:02d}T12:00:00",
            refunds=[
                fx.refund(id=o["id"] * 10 + n, total="-" + money.format_minor(r, "USD"))
                for n, r in enumerate(o["refunds"])
            ],
        )
        stores[o["store"]].ok("orders", [payload])
    if not history:
        return
    body = profile(client, tenant)
    combined = body["attributes"]
    count, spent_minor = expected(history)
    spent = money.to_major(spent_minor, "USD")
    # The definition, and the invariants documented in core/profiles.py.
    assert combined["ordersCount"] == count
    assert Decimal(str(combined["totalSpent"])) == spent
    assert combined["ltv"] == combined["totalSpent"] >= 0
    if count:
        assert Decimal(str(combined["aov"])) == (spent / count).quantize(Decimal("0.01"))
        assert combined["firstOrderAt"] <= combined["lastOrderAt"]
    else:
        assert combined["aov"] == 0 and combined["firstOrderAt"] is None
    per_store = [s["attributes"] for s in body["stores"]]
    assert sum(a["ordersCount"] for a in per_store) == combined["ordersCount"]
    assert sum(Decimal(str(a["totalSpent"])) for a in per_store) == spent
    with rt.unit_of_work() as session:
        stored = session.scalars(
            select(Subscriber).where(Subscriber.company_id == tenant.company_id)
        ).one()
        assert {k: stored.attributes[k] for k in profiles.KEYS} == combined
