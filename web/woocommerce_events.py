"""Cart and checkout events from the WooCommerce plugin, and what cart recovery earned.

``POST /api/woocommerce/events`` is plugin traffic (installation token + Standard
Webhooks signature, ``webhook-id`` dedupe: ``storeflow.web.plugin_auth``). The batch
is mapped by the provider before the write transaction; then, in one short
transaction, each new event is recorded once per event ``id`` (a repeat counts in
``duplicates``), and the raw body is stored as a delivery with its job: the worker
folds the sessions' carts and appends their events (``storeflow.core.commerce.carts``).
Events that cannot be taken are reported by index in ``failed`` and kept as a failed
delivery with their reasons (replayable after a fix); they never fail the batch.

What recovery earned and the company's times live with the other admin routes
(``storeflow.web.sequences``).
"""

from __future__ import annotations

import json
from typing import Any

import attrs
from flask import Blueprint, Response, request

from storeflow.core.commerce import carts, ingest, records
from storeflow.core.errors import Forbidden, PayloadTooLarge, ValidationFailed
from storeflow.core.storage.session import Session
from storeflow.core.storage.tables import Integration
from storeflow.core.stores import integrations
from storeflow.core.stores.provider import Verified
from storeflow.web import responses
from storeflow.web.apischema import output
from storeflow.web.plugin_auth import PluginCall, plugin_route
from storeflow.web.runtime import rt

bp = Blueprint("woocommerce_events", __name__)

# 500 events of a full cart each stay well below this; more is not a plugin's batch.
EVENTS_BODY_LIMIT = 1024 * 1024
PROVIDER = "woocommerce"


@output
@attrs.frozen(kw_only=True)
class EventsAccepted(responses.Ok):
    """accepted + duplicates + len(failed) = len(events)."""

    accepted: int
    duplicates: int
    failed: list[responses.ItemFailure]


@attrs.frozen(kw_only=True)
class CartEventBody:
    """A batch of cart and checkout events (``providers/woocommerce/cart_events.py`` checks it)."""

    events: list[dict[str, Any]] = attrs.field(
        metadata={
            "schema": {"maxItems": 500},
            "doc": "{id, type: cart_started|cart_updated|cart_cleared|checkout_started, "
            "occurredAt, sessionKey, email, customerId, cart: {items: [{productId, "
            "variationId, quantity, lineTotal, name}], total, currency}, checkoutUrl}",
        }
    )


def _prepare(integration: Integration, data: Any) -> records.Mapped:
    """Map the batch before the write transaction opens (see ``plugin_route``)."""
    if integration.provider != PROVIDER:
        raise Forbidden(
            "this installation token belongs to another provider's integration",
            code="wrong_provider",
        )
    provider = rt().providers[PROVIDER]
    return provider.map_webhook(carts.EVENTS_TOPIC, data, integrations.context(integration))


@plugin_route(prepare=_prepare)
def _receive(session: Session, call: PluginCall) -> dict[str, Any]:
    mapped: records.Mapped = call.prepared
    store = integrations.context(call.integration)
    provider = rt().providers[PROVIDER]
    activities = [rec for rec in mapped.records if isinstance(rec, records.CartActivity)]
    recorded = carts.record(session, store, activities)
    if recorded.accepted:
        verified = Verified(
            kind="delivery",
            topic=carts.EVENTS_TOPIC,
            dedupe_key=f"{carts.EVENTS_TOPIC}:{call.webhook_id}"[:200],
            headers={"webhook-id": call.webhook_id},
        )
        ingest.store(session, call.integration, provider, verified, call.body, None, kind="event")
    if mapped.rejected:
        _keep_rejected(session, call, provider, mapped.rejected)
    answer = EventsAccepted(
        accepted=recorded.accepted,
        duplicates=recorded.duplicates,
        failed=[
            responses.ItemFailure(index=r.index, id=r.item_id, code=r.code, message=r.message)
            for r in mapped.rejected
        ],
    )
    return responses.dump(answer)


def _keep_rejected(
    session: Session, call: PluginCall, provider: Any, rejected: tuple[records.Rejected, ...]
) -> None:
    """Authentic events that could not be taken: stored as failed, with their reasons."""
    items = call.data.get("events") if isinstance(call.data, dict) else None
    kept = [items[r.index] for r in rejected if isinstance(items, list) and r.index < len(items)]
    body = json.dumps({"events": kept}, default=str).encode()
    reasons = "; ".join(f"[{r.index}] {r.code}: {r.message}" for r in rejected)
    error = ValidationFailed(f"{len(rejected)} event(s) rejected: {reasons}"[:2000])
    verified = Verified(
        kind="delivery",
        topic=carts.EVENTS_TOPIC,
        dedupe_key=f"{carts.EVENTS_TOPIC}:{call.webhook_id}:rejected"[:200],
        headers={"webhook-id": call.webhook_id},
    )
    ingest.store(session, call.integration, provider, verified, body, error, kind="event")


@bp.post("/api/woocommerce/events")
def receive_events() -> Response:
    if (request.content_length or 0) > EVENTS_BODY_LIMIT:
        raise PayloadTooLarge(
            f"an events batch may be at most {EVENTS_BODY_LIMIT} bytes", code="payload_too_large"
        )
    return _receive()
