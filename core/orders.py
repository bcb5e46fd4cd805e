"""Orders and their commerce events.

An order is upserted by (integration, provider order id) with stale-update
protection. Events follow the order's *state*, once per transition, whatever the
delivery order or number of deliveries (keys are in the event log):

- any live state (placed, fulfilled, cancelled, refunded) -> ``ecommerce.order_placed`` once,
  because WooCommerce builds payloads at send time and may coalesce the first ones
  (an ``order.created`` can already say ``processing`` or ``completed``);
- fulfilled -> ``ecommerce.order_fulfilled``; cancelled -> ``ecommerce.order_cancelled``;
- each refund (or a ``refunded`` state without refund lines) -> ``ecommerce.order_refunded``.

Orders from sync batches are *historical*: their events are recorded (so that a
later webhook for the same order does not start automations either) but are not
live.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import attrs
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core import catalog, events, profiles, records, subscribers
from core.provider import StoreContext
from core.tables import Order, OrderLine, StoreCustomer, Subscriber
from core.upsert import insert_ignore

LIVE_STATES = ("placed", "fulfilled", "cancelled", "refunded")


@attrs.frozen
class OrderOutcome:
    result: Literal["upserted", "stale"]
    event_ids: tuple[int, ...] = ()


def link_customer(
    session: Session, store: StoreContext, customer: records.Customer, subscriber: Subscriber
) -> None:
    if not customer.provider_customer_id:
        return
    insert_ignore(
        session,
        StoreCustomer.__table__,
        {
            "company_id": store.company_id,
            "integration_id": store.integration_id,
            "provider_customer_id": customer.provider_customer_id,
            "subscriber_id": subscriber.id,
            "email": subscriber.email,
            "deleted": False,
            "source_modified_at": customer.modified_at,
        },
        ["integration_id", "provider_customer_id"],
    )


def upsert_order(
    session: Session, store: StoreContext, provider: str, rec: records.Order, *, live: bool
) -> OrderOutcome:
    subscriber = subscribers.upsert(
        session, store.company_id, rec.email, rec.first_name, rec.last_name
    )
    if rec.customer is not None:
        link_customer(session, store, rec.customer, subscriber)
    row = session.scalar(
        select(Order).where(
            Order.integration_id == store.integration_id,
            Order.provider_order_id == rec.provider_order_id,
        )
    )
    if row is not None and catalog.is_stale(row.source_modified_at, rec.modified_at):
        return OrderOutcome("stale")
    if row is None:
        row = Order(
            company_id=store.company_id,
            integration_id=store.integration_id,
            provider=provider,
            provider_order_id=rec.provider_order_id,
        )
        session.add(row)
    row.order_number = rec.order_number
    row.subscriber_id = subscriber.id
    row.email = subscriber.email
    row.status = rec.status
    row.state = rec.state
    row.currency = rec.currency
    row.total_cents = rec.total.minor
    row.refunded_cents = sum(r.amount.minor for r in rec.refunds)
    row.ordered_at = rec.ordered_at
    row.deleted = False
    row.source_modified_at = rec.modified_at or row.source_modified_at
    session.flush()
    _replace_lines(session, row, rec.line_items)
    event_ids = _append_events(session, store, provider, row, rec, subscriber, live=live)
    profiles.refresh(session, subscriber.id)
    return OrderOutcome("upserted", tuple(event_ids))


def _replace_lines(session: Session, row: Order, items: tuple[records.LineItem, ...]) -> None:
    session.execute(delete(OrderLine).where(OrderLine.order_id == row.id))
    session.add_all(
        OrderLine(
            company_id=row.company_id,
            order_id=row.id,
            position=position,
            provider_product_id=item.provider_product_id,
            provider_variant_id=item.provider_variant_id,
            title=item.title,
            variant_title=item.variant_title,
            sku=item.sku,
            quantity=item.quantity,
            price_cents=item.price.minor,
            total_cents=item.total.minor,
            image_url=item.image_url,
        )
        for position, item in enumerate(items)
    )


def properties(provider: str, row: Order, rec: records.Order) -> dict[str, Any]:
    return {
        "orderId": row.provider_order_id,
        "orderNumber": row.order_number,
        "status": row.status,
        "totalCents": row.total_cents,
        "refundedCents": row.refunded_cents,
        "currency": row.currency,
        "orderedAt": row.ordered_at.isoformat(),
        "lineItems": [
            {
                "provider": provider,
                "providerProductId": item.provider_product_id,
                "providerVariantId": item.provider_variant_id,
                "title": item.title,
                "variantTitle": item.variant_title,
                "quantity": item.quantity,
                "priceCents": item.price.minor,
                "totalCents": item.total.minor,
                "sku": item.sku,
                "imageUrl": item.image_url,
            }
            for item in rec.line_items
        ],
    }


def _transitions(rec: records.Order) -> list[tuple[str, str]]:
    """(event name, key suffix) pairs implied by the order's current state."""
    if rec.state not in LIVE_STATES:
        return []
    found = [("ecommerce.order_placed", "placed")]
    if rec.state == "fulfilled":
        found.append(("ecommerce.order_fulfilled", "fulfilled"))
    if rec.state == "cancelled":
        found.append(("ecommerce.order_cancelled", "cancelled"))
    for refund in rec.refunds:
        found.append(("ecommerce.order_refunded", f"refund:{refund.provider_refund_id}"))
    if rec.state == "refunded" and not rec.refunds:
        found.append(("ecommerce.order_refunded", "refunded"))
    return found


def _append_events(
    session: Session,
    store: StoreContext,
    provider: str,
    row: Order,
    rec: records.Order,
    subscriber: Subscriber,
    *,
    live: bool,
) -> list[int]:
    props = properties(provider, row, rec)
    created = []
    for name, suffix in _transitions(rec):
        occurred_at: datetime = (
            rec.ordered_at if suffix == "placed" else (rec.modified_at or rec.ordered_at)
        )
        event_id = events.append(
            session,
            company_id=store.company_id,
            name=name,
            key=f"{store.integration_id}:order:{row.provider_order_id}:{suffix}",
            occurred_at=occurred_at,
            subscriber=subscriber,
            properties=props,
            provider=provider,
            integration_id=store.integration_id,
            live=live,
        )
        if event_id is not None:
            created.append(event_id)
    return created


def mark_deleted(session: Session, store: StoreContext, provider_order_id: str) -> None:
    row = session.scalar(
        select(Order).where(
            Order.integration_id == store.integration_id,
            Order.provider_order_id == provider_order_id,
        )
    )
    if row is not None:
        row.deleted = True
        profiles.refresh(session, row.subscriber_id)
