"""The Shopify provider, registered through the ``storeflow.providers`` entry point.

Ties the pieces together for core: ``signature`` (is the request authentic?), ``wire``
(is the body JSON of the topic's shape?) and ``mapping`` (which records does it make?).
Nothing here touches the database, the queue or the clock. The Admin API (OAuth,
webhook registration, sync) is in ``admin_api``; the routes are in ``storeflow.web.shopify``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from storeflow import (
    CustomerDeleted,
    Ignored,
    Mapped,
    ProductDeleted,
    StoreContext,
    Unauthenticated,
    ValidationFailed,
    Verified,
    WebhookRequest,
    hookimpl,
    records,
)
from storeflow.providers.shopify import mapping, signature, wire

# Header names without their prefix: the HTTPS delivery sends ``X-Shopify-Topic``, the
# newer Events delivery ``shopify-topic`` (B1). Both are read.
KEPT = ("topic", "shop-domain", "webhook-id", "event-id", "triggered-at", "api-version", "name")

# What each topic needs to be mapped: the id fields that must be there.
REQUIRED: dict[str, tuple[str, ...]] = {
    **{topic: ("id",) for topic in mapping.ORDER_TOPICS},
    "refunds/create": ("id", "order_id"),
    "products/create": ("id",),
    "products/update": ("id",),
    "products/delete": ("id",),
    "inventory_levels/update": ("inventory_item_id", "location_id"),
    "inventory_levels/connect": ("inventory_item_id", "location_id"),
    "inventory_levels/disconnect": ("inventory_item_id", "location_id"),
    "checkouts/create": ("token",),
    "checkouts/update": ("token",),
    "checkouts/delete": (),
    "carts/create": (),
    "carts/update": (),
    "customers/create": ("id",),
    "customers/update": ("id",),
    "customers/delete": ("id",),
    "app/uninstalled": (),
    "customers/data_request": (),
    "customers/redact": (),
    "shop/redact": (),
}
TOPICS = frozenset(REQUIRED)
PRIVACY_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})
# The webhook subscriptions storeflow registers after install (privacy topics are set in
# the app's configuration, not through the API).
SUBSCRIBED = tuple(
    sorted(t for t in TOPICS - PRIVACY_TOPICS if not t.endswith(("/connect", "/disconnect")))
)
SYNC_RESOURCES = frozenset({"products", "customers", "orders"})


def header(headers: Mapping[str, str], name: str) -> str:
    """``X-Shopify-<name>`` or ``shopify-<name>``, trimmed ("" when absent)."""
    return (headers.get(f"x-shopify-{name}") or headers.get(f"shopify-{name}") or "").strip()


def check_topic(topic: str) -> str:
    if topic not in TOPICS:
        raise ValidationFailed(
            f"storeflow does not handle the Shopify topic {topic!r}.",
            code="unsupported_topic",
            details=[{"path": "header X-Shopify-Topic", "message": f"unsupported: {topic!r}"}],
        )
    return topic


class ShopifyProvider:
    """Implements ``storeflow.Provider`` for Shopify's HTTPS webhooks and sync items."""

    name = "shopify"

    def verify_webhook(self, request: WebhookRequest, secret: str) -> Verified:
        # ``secret`` may hold the current and the previous client secret, space-separated
        # (a rotation in progress): either verifies.
        headers = {key.lower(): value for key, value in request.headers.items()}
        given = next((headers[h] for h in signature.HEADERS if h in headers), None)
        if not signature.verify(request.body, given, secret.split()):
            raise Unauthenticated(
                "The X-Shopify-Hmac-Sha256 header is missing."
                if given is None
                else "The X-Shopify-Hmac-Sha256 header does not match the body.",
                code="invalid_signature",
            )
        topic = header(headers, "topic").lower()
        # Webhook-Id is per delivery and stable across retries; Event-Id is shared by all
        # topics and subscriptions of one merchant action (B3), so it only counts with
        # the topic, and the body decides when neither is there.
        webhook_id = header(headers, "webhook-id")
        event_id = header(headers, "event-id")
        if webhook_id:
            dedupe_key = f"webhook:{webhook_id}"
        elif event_id:
            dedupe_key = f"event:{topic}:{event_id}"
        else:
            dedupe_key = f"body:{topic}:{hashlib.sha256(request.body).hexdigest()}"
        kept = {f"x-shopify-{n}": v for n in KEPT if (v := header(headers, n))}
        return Verified(kind="delivery", topic=topic, dedupe_key=dedupe_key[:200], headers=kept)

    def parse_payload(self, topic: str, body: bytes) -> Any:
        check_topic(topic)
        payload = wire.obj(wire.loads(body))
        for field in REQUIRED[topic]:
            wire.ident(payload.get(field), f"$.{field}")
        return payload

    def map_webhook(self, topic: str, payload: Any, store: StoreContext) -> Mapped:
        check_topic(topic)
        if isinstance(payload, bytes):
            payload = self.parse_payload(topic, payload)
        return map_resource(topic, wire.obj(payload), store)

    def map_sync_item(self, resource: str, item: Any, store: StoreContext) -> Mapped:
        if resource not in SYNC_RESOURCES:
            raise ValidationFailed(
                f"storeflow does not sync Shopify {resource!r}; it takes products, customers and orders.",
                code="unsupported_resource",
            )
        topic = {"products": "products/update", "customers": "customers/update"}.get(
            resource, "orders/updated"
        )
        return map_resource(topic, wire.obj(item), store)


def map_resource(topic: str, payload: Mapping[str, Any], store: StoreContext) -> Mapped:
    if topic in mapping.ORDER_TOPICS:
        return mapping.map_order(payload, store)
    if topic in ("products/create", "products/update"):
        return mapping.map_product(payload, store)
    if topic == "products/delete":
        return Mapped(records=(ProductDeleted(str(wire.ident(payload.get("id"), "$.id"))),))
    if topic.startswith("inventory_levels/"):
        return mapping.map_inventory_level(payload, topic)
    if topic in ("checkouts/create", "checkouts/update"):
        return mapping.map_checkout(payload, store)
    if topic in ("carts/create", "carts/update"):
        return mapping.map_cart(payload, topic, store)
    if topic in ("customers/create", "customers/update"):
        return mapping.map_customer(payload)
    if topic == "customers/delete":
        return Mapped(records=(CustomerDeleted(str(wire.ident(payload.get("id"), "$.id"))),))
    if topic == "app/uninstalled":
        return Mapped(records=(records.StoreUninstalled("app uninstalled in Shopify"),))
    if topic in PRIVACY_TOPICS:
        return mapping.map_privacy(topic, payload)
    if topic == "refunds/create":
        return Mapped(
            ignored=Ignored(
                "refunds arrive with the order: the orders/updated Shopify sends with "
                "refunds/create carries the order's whole refund list"
            )
        )
    return Mapped(ignored=Ignored(f"nothing to apply for {topic}"))


@hookimpl
def register_providers() -> list[Any]:
    return [ShopifyProvider()]
