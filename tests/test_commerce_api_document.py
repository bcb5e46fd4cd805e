"""Every Commerce API answer matches the OpenAPI document (success and error shapes)."""

from __future__ import annotations

from typing import Any

from tests.test_openapi import Conformance, _operations


def test_commerce_api_answers_match_the_document(app, client, tenant, other_tenant):
    doc: dict[str, Any] = client.get("/api/openapi.json").get_json()
    check = Conformance(app, doc)
    auth = tenant.auth
    product = {"productId": "mug", "title": "Mug", "priceCents": 1900, "currency": "EUR"}
    check(client.post("/api/v1/products", json={"products": [product]}, headers=auth))
    check(client.post("/api/v1/products", json={"products": []}, headers=auth))  # 422
    check(client.get("/api/v1/products?search=mug&limit=5", headers=auth))
    check(client.get("/api/v1/products", headers={"Authorization": "Bearer nope"}))  # 401
    order = {
        "orderId": "A-1",
        "totalCents": 1900,
        "currency": "EUR",
        "customer": {"email": "ada@example.com", "externalId": "c-1"},
        "items": [{"productId": "mug", "title": "Mug", "quantity": 1, "priceCents": 1900}],
    }
    queued = check(client.post("/api/v1/orders", json=order, headers=auth))
    assert queued["jobId"] is not None
    check(client.post("/api/v1/orders", data="{", headers=auth, content_type="application/json"))
    checkout = {"checkoutId": "c-1", "customer": {"email": "ada@example.com"}}
    check(client.post("/api/v1/checkouts", json=checkout, headers=auth))
    wish = {"productId": "mug", "customer": {"email": "bo@example.com"}}
    check(client.post("/api/v1/back-in-stock", json=wish, headers=auth))
    event = {"externalId": "c-1", "event": "app_opened"}
    answer = check(client.post("/api/v1/subscribers/events", json=event, headers=auth))
    assert answer["subscriber"]["email"] == "ada@example.com"  # the buyer the order linked
    unknown = {"externalId": "nobody", "event": "app_opened"}
    check(client.post("/api/v1/subscribers/events", json=unknown, headers=auth))  # 404
    check(client.delete("/api/v1/products/mug", headers=other_tenant.auth))  # 404
    check(client.delete("/api/v1/products/mug", headers=auth))
    ours = {op["operationId"] for path, _, op in _operations(doc) if path.startswith("/api/v1/")}
    assert ours and ours - check.seen == set()
