"""The WooCommerce provider, registered through the ``storeflow.providers`` entry point.

Ties the pieces together for core: ``signature`` (is the request authentic?),
``wire`` (is the body a WooCommerce resource?) and ``mapping`` (which records does
it make?). Nothing here touches the database, the queue or the clock.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from storeflow import (
    Mapped,
    StoreContext,
    Unauthenticated,
    Unmappable,
    ValidationFailed,
    Verified,
    WebhookRequest,
    hookimpl,
)
from storeflow.providers.woocommerce import cart_events, mapping, signature, wire

# Header names are lower-case in ``WebhookRequest`` (the contract); WooCommerce sends
# them as ``X-WC-Webhook-Topic`` and so on.
TOPIC_HEADER = "x-wc-webhook-topic"
KEPT_HEADERS = (
    "x-wc-webhook-topic",
    "x-wc-webhook-resource",
    "x-wc-webhook-event",
    "x-wc-webhook-source",
    "x-wc-webhook-id",
    "x-wc-webhook-delivery-id",
)

RESOURCES: dict[str, type] = {
    "order": wire.Order,
    "product": wire.Product,
    "customer": wire.Customer,
}
EVENTS = frozenset({"created", "updated", "deleted", "restored"})
SYNC_RESOURCES = {"orders": "order", "products": "product", "customers": "customer"}

# The activation ping: ``webhook_id=17``, form-encoded, unsigned (wire-formats.md A4).
_PING_BODY = re.compile(rb"webhook_id=[0-9]{1,20}")
_FORM = "application/x-www-form-urlencoded"


def split_topic(topic: str) -> tuple[str, str]:
    """``"order.updated"`` -> ``("order", "updated")``; raises for anything we do not take."""
    resource, _, event = topic.strip().lower().partition(".")
    if resource not in RESOURCES or event not in EVENTS:
        raise ValidationFailed(
            f"storeflow does not handle the WooCommerce topic {topic!r}; it takes "
            "order, product and customer created/updated/deleted/restored.",
            code="unsupported_topic",
            details=[{"path": f"header {TOPIC_HEADER}", "message": f"unsupported: {topic!r}"}],
        )
    return resource, event


def _is_ping(request: WebhookRequest, headers: dict[str, str]) -> bool:
    if signature.HEADER in headers or TOPIC_HEADER in headers:
        return False
    content_type = (request.content_type or headers.get("content-type", "")).lower()
    # WordPress leaves Content-Type to its HTTP transport: form-encoded, sometimes with
    # "; charset=UTF-8", possibly absent. A ping grants nothing, so accept all three.
    if content_type and content_type.split(";")[0].strip() != _FORM:
        return False
    return _PING_BODY.fullmatch(request.body.strip()) is not None


class WooCommerceProvider:
    """Implements ``storeflow.core.stores.provider.Provider`` for WooCommerce REST v3 webhooks and sync."""

    name = "woocommerce"

    def verify_webhook(self, request: WebhookRequest, secret: str) -> Verified:
        headers = {key.lower(): value for key, value in request.headers.items()}
        if _is_ping(request, headers):
            webhook_id = request.body.strip().partition(b"=")[2].decode("ascii")
            return Verified(kind="ping", headers={"x-wc-webhook-id": webhook_id})
        if not signature.verify(request.body, headers.get(signature.HEADER), secret):
            missing = signature.HEADER not in headers
            raise Unauthenticated(
                "The X-WC-Webhook-Signature header is missing."
                if missing
                else "The X-WC-Webhook-Signature header does not match the body.",
                code="invalid_signature",
            )
        topic = headers.get(TOPIC_HEADER, "").strip().lower()
        # The Delivery-ID header repeats within one wall-clock second (wire-formats.md
        # A1), so the body decides: a re-sent identical body is the same delivery.
        dedupe_key = f"{topic}:{hashlib.sha256(request.body).hexdigest()}"
        kept = {name: headers[name] for name in KEPT_HEADERS if name in headers}
        return Verified(kind="delivery", topic=topic, dedupe_key=dedupe_key, headers=kept)

    def parse_payload(self, topic: str, body: bytes) -> Any:
        if topic == cart_events.TOPIC:
            data = cart_events.loads(body)
            cart_events.check_batch(data)
            return data
        resource, event = split_topic(topic)
        obj = wire.loads(body)
        wire.raise_for_rest_error(obj)
        return wire.structure(obj, wire.Deleted if event == "deleted" else RESOURCES[resource])

    def map_webhook(self, topic: str, payload: Any, store: StoreContext) -> Mapped:
        if topic == cart_events.TOPIC:
            # The plugin's cart and checkout events (POST /api/woocommerce/events).
            if isinstance(payload, bytes):
                payload = cart_events.loads(payload)
            return cart_events.map_events(payload, store)
        resource, event = split_topic(topic)
        if event == "deleted":
            deleted = _ensure(payload, wire.Deleted)
            return mapping.map_deleted(resource, deleted.id)
        return _map_resource(resource, _ensure(payload, RESOURCES[resource]), store)

    def map_sync_item(self, resource: str, item: Any, store: StoreContext) -> Mapped:
        name = SYNC_RESOURCES.get(resource)
        if name is None:
            raise ValidationFailed(
                f"storeflow does not sync WooCommerce {resource!r}; it takes "
                "products, customers and orders.",
                code="unsupported_resource",
            )
        wire.raise_for_rest_error(item)
        return _map_resource(name, wire.structure(item, RESOURCES[name]), store)


def _ensure(payload: Any, cls: type) -> Any:
    """Accept the wire object from ``parse_payload``, or decoded JSON (a replay)."""
    if isinstance(payload, cls):
        return payload
    if isinstance(payload, bytes):
        payload = wire.loads(payload)
    wire.raise_for_rest_error(payload)
    return wire.structure(payload, cls)


def _map_resource(resource: str, payload: Any, store: StoreContext) -> Mapped:
    if resource == "order":
        return mapping.map_order(payload, store)
    if resource == "product":
        return mapping.map_product(payload, store)
    if resource == "customer":
        return mapping.map_customer(payload, store)
    raise Unmappable(f"no mapping for WooCommerce {resource!r}")  # pragma: no cover


@hookimpl
def register_providers() -> list[Any]:
    return [WooCommerceProvider()]


@hookimpl
def register_commands(cli: Any) -> None:
    # Imported here: the app and the consumer load this plugin too and never run the simulator.
    from storeflow.providers.woocommerce import simulator

    simulator.register_cli(cli)
