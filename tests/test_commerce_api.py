"""The Commerce API for custom stores, over real HTTP (werkzeug in a thread, requests).

The test's runtime runs jobs at commit (immediate queue), so an order pushed with
202 has been applied by the worker path by the time the next request is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import Tenant
from tests.live_server import serving


@pytest.fixture
def base(rt: Any, app: Any) -> Iterator[str]:
    with serving(rt, lambda: app) as url:
        yield url


def post(base: str, tenant: Tenant, path: str, body: Any) -> requests.Response:
    return requests.post(f"{base}/api/v1{path}", json=body, headers=tenant.auth, timeout=10)


def get(base: str, tenant: Tenant, path: str) -> requests.Response:
    return requests.get(f"{base}{path}", headers=tenant.auth, timeout=10)


def order(status: str = "placed", **extra: Any) -> dict[str, Any]:
    return {
        "orderId": "A-1001",
        "orderNumber": "1001",
        "status": status,
        "totalCents": 4780,
        "currency": "EUR",
        "orderedAt": "2026-11-30T10:00:00+00:00",
        "customer": {"email": "Ada@Example.com", "externalId": "c-7", "firstName": "Ada"},
        "items": [{"productId": "mug", "title": "Mug", "quantity": 2, "priceCents": 2390}],
        **extra,
    }


def profile(base: str, tenant: Tenant, email: str = "ada@example.com") -> dict[str, Any]:
    answer = get(base, tenant, f"/api/subscribers/{email}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def events(base: str, tenant: Tenant, name: str) -> list[dict[str, Any]]:
    answer = get(base, tenant, f"/api/events?name={name}")
    assert answer.status_code == 200, answer.text
    return answer.json()["events"]


def test_a_product_pushed_without_its_image_keeps_the_stored_image(base, tenant):
    first = post(
        base,
        tenant,
        "/products",
        {
            "products": [
                {
                    "productId": "mug",
                    "title": "Mug",
                    "imageUrl": "https://cdn.example.com/mug.png",
                    "priceCents": 2390,
                    "currency": "EUR",
                    "inStock": False,
                }
            ]
        },
    )
    assert first.status_code == 200, first.text
    assert first.json()["upserted"] == 1
    stock_only = post(
        base, tenant, "/products", {"products": [{"productId": "mug", "inStock": True}]}
    )
    assert stock_only.status_code == 200, stock_only.text
    (pushed,) = stock_only.json()["products"]
    assert pushed["imageUrl"] == "https://cdn.example.com/mug.png"
    assert pushed["priceCents"] == 2390
    assert pushed["stockStatus"] == "instock"
    stored = get(base, tenant, "/api/products/api/mug").json()["product"]
    assert (stored["imageUrl"], stored["title"], stored["priceCents"]) == (
        "https://cdn.example.com/mug.png",
        "Mug",
        2390,
    )
    cleared = post(
        base, tenant, "/products", {"products": [{"productId": "mug", "imageUrl": None}]}
    )
    assert cleared.json()["products"][0]["imageUrl"] is None
    assert cleared.json()["products"][0]["title"] == "Mug"


def test_the_same_order_pushed_twice_counts_revenue_once(base, tenant):
    for _ in range(2):
        answer = post(base, tenant, "/orders", order())
        assert answer.status_code == 202, answer.text
        assert answer.json()["queued"] is True and answer.json()["orderId"] == "A-1001"
    attributes = profile(base, tenant)["attributes"]
    assert attributes["ordersCount"] == 1
    assert attributes["totalSpent"] == 47.8
    assert len(events(base, tenant, "ecommerce.order_placed")) == 1


def test_refunded_after_placed_emits_the_event_and_corrects_the_profile(base, tenant):
    assert post(base, tenant, "/orders", order()).status_code == 202
    assert profile(base, tenant)["attributes"]["totalSpent"] == 47.8
    refunded = post(base, tenant, "/orders", order("refunded"))
    assert refunded.status_code == 202 and refunded.json()["status"] == "refunded"
    (event,) = events(base, tenant, "ecommerce.order_refunded")
    assert event["properties"]["orderId"] == "A-1001"
    attributes = profile(base, tenant)["attributes"]
    assert (attributes["ordersCount"], attributes["totalSpent"]) == (0, 0)


def test_a_partial_refund_counts_the_net_value(base, tenant):
    post(base, tenant, "/orders", order())
    post(base, tenant, "/orders", order("refunded", refundAmountCents=780))
    assert profile(base, tenant)["attributes"]["totalSpent"] == 40


CHECKOUT_SEQUENCE = {
    "id": "finish-checkout",
    "name": "Finish your checkout",
    "status": "active",
    "trigger": {"event": "ecommerce.checkout_started"},
    "stop": [{"type": "event_received", "event": "ecommerce.order_placed"}],
    "steps": [
        {"delay": {"hours": 2}},
        {
            "email": {
                "subject": "Still thinking?",
                "body": "Your cart waits.",
                "from": "shop@example.com",
            }
        },
    ],
}


def test_a_checkout_starts_a_sequence_that_the_order_stops(base, tenant):
    created = requests.post(
        f"{base}/api/sequences", json=CHECKOUT_SEQUENCE, headers=tenant.auth, timeout=10
    )
    assert created.status_code == 201, created.text
    checkout = post(
        base,
        tenant,
        "/checkouts",
        {
            "checkoutId": "chk-1",
            "totalCents": 4780,
            "currency": "EUR",
            "checkoutUrl": "https://shop.example.com/checkout/chk-1",
            "customer": {"email": "ada@example.com"},
            "items": [{"productId": "mug", "title": "Mug", "quantity": 2, "priceCents": 2390}],
            "properties": {"channel": "app"},
        },
    )
    assert checkout.status_code == 200, checkout.text
    assert checkout.json()["eventId"] and checkout.json()["subscriberId"]
    (started,) = events(base, tenant, "ecommerce.checkout_started")
    assert started["properties"]["checkoutUrl"] == "https://shop.example.com/checkout/chk-1"
    assert started["properties"]["channel"] == "app"
    assert started["properties"]["lineItems"][0]["providerProductId"] == "mug"
    (running,) = get(base, tenant, "/api/enrollments?email=ada@example.com").json()["enrollments"]
    assert running["status"] == "active"
    # Placed after the checkout (no orderedAt: the time storeflow received it).
    placed = {key: value for key, value in order().items() if key != "orderedAt"}
    assert post(base, tenant, "/orders", placed).status_code == 202
    (stopped,) = get(base, tenant, "/api/enrollments?email=ada@example.com").json()["enrollments"]
    assert stopped["status"] == "stopped", stopped


def test_another_companys_key_sees_nothing(base, tenant, other_tenant):
    post(base, tenant, "/products", {"products": [{"productId": "mug", "title": "Mug"}]})
    post(base, tenant, "/orders", order())
    post(
        base,
        tenant,
        "/checkouts",
        {"checkoutId": "chk-1", "customer": {"email": "ada@example.com"}},
    )
    listed = get(base, other_tenant, "/api/v1/products")
    assert listed.status_code == 200
    assert listed.json()["products"] == [] and listed.json()["pagination"]["total"] == 0
    assert get(base, other_tenant, "/api/products/api/mug").status_code == 404
    assert get(base, other_tenant, "/api/subscribers/ada@example.com").status_code == 404
    assert get(base, other_tenant, "/api/events").json()["events"] == []
    deleted = requests.delete(f"{base}/api/v1/products/mug", headers=other_tenant.auth, timeout=10)
    assert deleted.status_code == 404
    assert get(base, tenant, "/api/v1/products").json()["pagination"]["total"] == 1


def test_bad_input_gets_the_contracts_errors(base, tenant):
    no_key = requests.post(f"{base}/api/v1/orders", json=order(), timeout=10)
    assert no_key.status_code == 401
    # The key is checked before the body: a stranger learns nothing about validation.
    stranger = requests.post(f"{base}/api/v1/orders", json={"orderId": 5}, timeout=10)
    assert stranger.status_code == 401
    bad = post(base, tenant, "/orders", {**order(), "totalCents": 47.8, "status": "lost"})
    assert bad.status_code == 422
    paths = {d["path"] for d in bad.json()["error"]["details"]}
    assert {"$.totalCents", "$.status"} <= paths
    malformed = requests.post(
        f"{base}/api/v1/products",
        data=b"{nope",
        headers={**tenant.auth, "Content-Type": "application/json"},
        timeout=10,
    )
    assert malformed.status_code == 400 and malformed.json()["success"] is False
    too_many = post(
        base, tenant, "/products", {"products": [{"productId": str(i)} for i in range(101)]}
    )
    assert too_many.status_code == 422


def test_deleting_a_product_and_listing(base, tenant):
    post(
        base,
        tenant,
        "/products",
        {"products": [{"productId": "a", "title": "Alpha"}, {"productId": "b", "title": "Beta"}]},
    )
    page = get(base, tenant, "/api/v1/products?limit=1").json()
    assert page["pagination"] == {"total": 2, "hasMore": True}
    assert requests.delete(f"{base}/api/v1/products/a", headers=tenant.auth, timeout=10).json() == {
        "success": True
    }
    assert [
        p["providerProductId"] for p in get(base, tenant, "/api/v1/products").json()["products"]
    ] == ["b"]
    assert (
        requests.delete(f"{base}/api/v1/products/a", headers=tenant.auth, timeout=10).status_code
        == 404
    )


def test_back_in_stock_and_subscriber_events(base, tenant):
    post(
        base,
        tenant,
        "/products",
        {"products": [{"productId": "mug", "title": "Mug", "inStock": False}]},
    )
    waiting = post(
        base,
        tenant,
        "/back-in-stock",
        {"productId": "mug", "customer": {"email": "bo@example.com"}},
    )
    assert waiting.status_code == 200, waiting.text
    assert len(events(base, tenant, "ecommerce.back_in_stock_requested")) == 1
    restock = post(base, tenant, "/products", {"products": [{"productId": "mug", "inStock": True}]})
    assert restock.json()["backInStockEventsTriggered"] == 1
    pushed = post(
        base,
        tenant,
        "/subscribers/events",
        {"email": "cy@example.com", "event": "app_opened", "properties": {"screen": "home"}},
    )
    assert pushed.status_code == 200, pushed.text
    assert pushed.json()["subscriber"]["created"] is True
    assert pushed.json()["event"]["name"] == "app_opened"
    (opened,) = events(base, tenant, "app_opened")
    assert opened["properties"] == {"screen": "home"}
    spoofed = post(
        base,
        tenant,
        "/subscribers/events",
        {"email": "cy@example.com", "event": "ecommerce.order_placed"},
    )
    assert spoofed.status_code == 422


def test_pushes_are_rate_limited_per_key(rt, base, tenant, other_tenant):
    import attrs

    rt.settings = attrs.evolve(rt.settings, commerce_api_per_minute=2)
    for _ in range(2):
        assert get(base, tenant, "/api/v1/products").status_code == 200
    limited = get(base, tenant, "/api/v1/products")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert get(base, other_tenant, "/api/v1/products").status_code == 200
