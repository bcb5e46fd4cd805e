"""The Commerce API provider (``api``): pushes from a custom store's own backend.

Stores that are neither WooCommerce nor Shopify push products, orders, checkouts
and waitlist requests to ``/api/v1/...`` with the company API key
(``storeflow.web.commerce_api``). The web layer authenticates the key; this
provider validates bodies (``wire``), names each push's delivery (``verified``) and
maps it into records (``mapping``), exactly like a webhook provider's deliveries,
so the same store-then-process flow applies them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from storeflow import (
    Mapped,
    StoreContext,
    Unauthenticated,
    ValidationFailed,
    Verified,
    WebhookRequest,
    hookimpl,
)
from storeflow.providers.commerce_api import mapping, wire

NAME = "api"
PRODUCTS = "products"
ORDERS = "orders"
TOPICS = (PRODUCTS, ORDERS)
TOPIC_HEADER = "x-storeflow-topic"


class CommerceApiProvider:
    name = NAME

    def verify_webhook(self, request: WebhookRequest, secret: str) -> Verified:
        raise Unauthenticated(
            "the Commerce API takes pushes to /api/v1/... with the company API key, "
            "not signed webhooks",
            code="not_a_webhook_provider",
        )

    def verified(self, topic: str, body: bytes) -> Verified:
        """The delivery a push makes (``body`` as pushed): the same body twice is one."""
        if topic not in TOPICS:
            raise ValidationFailed(f"no Commerce API topic {topic!r}", code="unsupported_topic")
        digest = hashlib.sha256(body).hexdigest()
        return Verified(
            kind="delivery",
            topic=topic,
            dedupe_key=f"{topic}:{digest}",
            headers={TOPIC_HEADER: topic},
        )

    def parse_payload(self, topic: str, body: bytes) -> Any:
        data = wire.loads(body)
        if topic == PRODUCTS:
            wire.check_products(data)
            return data
        if topic == ORDERS:
            return wire.check_order(data)
        raise ValidationFailed(f"no Commerce API topic {topic!r}", code="unsupported_topic")

    def map_webhook(self, topic: str, payload: Any, store: StoreContext) -> Mapped:
        if isinstance(payload, bytes):
            payload = self.parse_payload(topic, payload)
        if topic == PRODUCTS:
            stamp = {"receivedAt": payload.get("receivedAt")}
            return Mapped(
                records=tuple(
                    mapping.map_product({**stamp, **item}, store) for item in payload["products"]
                )
            )
        return Mapped(records=(mapping.map_order(payload, store),))

    def map_sync_item(self, resource: str, item: Any, store: StoreContext) -> Mapped:
        if resource == PRODUCTS:
            return Mapped(records=(mapping.map_product(item, store),))
        if resource == ORDERS:
            return Mapped(records=(mapping.map_order(wire.check_order(item), store),))
        raise ValidationFailed(f"the Commerce API has no resource {resource!r}")


def encode(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":"), default=str).encode()


def stamped(body: bytes, received_at: str) -> bytes:
    """The body as stored: the pushed bytes plus the time storeflow received it.

    ``receivedAt`` goes last in the object, so it wins over one the caller sent (the
    last of duplicate keys is the one JSON decoders keep); nothing else is re-encoded.
    """
    text = body.rstrip()
    if not text.endswith(b"}"):
        return body  # not an object: parse_payload refuses it
    inner = text[:-1].rstrip()
    separator = b"" if inner.endswith(b"{") else b","
    return inner + separator + json.dumps({"receivedAt": received_at})[1:-1].encode() + b"}"


@hookimpl
def register_providers() -> list[Any]:
    return [CommerceApiProvider()]
