"""Orders and their commerce events.

An order is upserted by (integration, provider order id) with stale-update
protection (``storeflow.core.commerce.freshness``): an older payload never overwrites a newer one,
an identical one writes nothing. Its line items are replaced with the winning
payload's. Events follow the order's *state*, once per order and kind, whatever
the delivery order or number of deliveries (the idempotency keys live in the
event log):

=====================================  ========================================
state of an applied payload            events (key suffix)
=====================================  ========================================
placed, fulfilled, cancelled, refunded ``ecommerce.order_placed`` (``placed``), because
                                       WooCommerce builds payloads at send time and
                                       coalesces them: the first one we see may
                                       already say ``processing`` or ``completed``
fulfilled                              ``ecommerce.order_fulfilled`` (``fulfilled``)
cancelled                              ``ecommerce.order_cancelled`` (``cancelled``)
each refund in ``refunds``             ``ecommerce.order_refunded`` (``refund:<id>``)
refunded without refund lines          ``ecommerce.order_refunded`` (``refunded``)
=====================================  ========================================

A state that comes back (completed -> processing -> completed) does not fire
twice: automations key on "this order was fulfilled", not on how often.

Orders from sync batches are *historical* (``live=False``): their events are
recorded (so that a later webhook for the same order finds them and starts
nothing either) but start no automation. An older payload that arrives after a
newer one is stale and emits nothing, so a delivery order can only ever skip a
transition that was already superseded, never repeat one.

A live delivery (a webhook) for an order that was already older than
``live_max_age`` (30 days by default, ``STOREFLOW_LIVE_ORDER_MAX_AGE_DAYS``) when
the store last changed it is history too: a store that edits an order of years
ago, never seen by a sync, must not start a "thank you for your order" sequence.
Its events are recorded, like a sync's. The age is measured at the order's
modification time as the store reports it (clamped to now), not at processing
time, so that a delivery gives the same verdict however late a backlog or a
replay applies it (WooCommerce builds payloads at send time: for a live webhook
the two are the same moment).

``upsert_orders`` applies a batch as if one record after the other, with a few
bulk statements (see ``storeflow.core.commerce.catalog`` for the pattern).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.commerce import events, freshness, profiles, records, subscribers
from storeflow.core.commerce.records import EventName
from storeflow.core.emails import normalize_email
from storeflow.core.statuses import ORDER_LIVE
from storeflow.core.storage.tables import Event, OrderLine, OrderRow, Subscriber
from storeflow.core.storage.upsert import insert_ignore_many
from storeflow.core.stores.provider import StoreContext


@attrs.frozen
class OrderOutcome:
    result: freshness.Outcome
    event_ids: tuple[int, ...] = ()


@attrs.define
class _Row:
    id: int | None
    subscriber_id: int | None = None
    at: datetime | None = None
    hash: str | None = None
    deleted: bool = False
    deleted_at: datetime | None = None
    winner: records.Order | None = None  # the record to write, None when untouched
    digest: str = ""
    inserted: bool = False  # created by this batch: it has no old lines to delete


@attrs.frozen
class _PendingEvent:
    name: EventName
    key: str
    occurred_at: datetime
    subscriber_id: int
    email: str
    properties: dict[str, Any]
    index: int  # which record of the batch caused it
    history: bool = False  # recorded without starting automations, even from a webhook


def link_customer(
    session: Session, store: StoreContext, customer: records.Customer, subscriber: Subscriber
) -> None:
    """Make sure a registered buyer has a store account row (kept for older callers)."""
    if customer.provider_customer_id:
        subscribers.link_order_buyers(
            session, store, {customer.provider_customer_id: (subscriber.id, subscriber.email)}
        )


def upsert_order(
    session: Session, store: StoreContext, provider: str, rec: records.Order, *, live: bool
) -> OrderOutcome:
    return upsert_orders(session, store, provider, [rec], live=live)[0]


def upsert_orders(
    session: Session,
    store: StoreContext,
    provider: str,
    recs: Sequence[records.Order],
    *,
    live: bool,
    live_max_age: timedelta | None = None,
) -> list[OrderOutcome]:
    """Apply order records in order; one outcome per record.

    With ``live``, the events of orders older than ``live_max_age`` are history.
    """
    subscriber_ids = subscribers.ensure_many(
        session, store.company_id, ((r.email, r.first_name, r.last_name) for r in recs)
    )
    buyers: dict[str, tuple[int, str]] = {}
    for rec in recs:
        if rec.customer is not None and rec.customer.provider_customer_id:
            email = normalize_email(rec.email)
            buyers.setdefault(rec.customer.provider_customer_id, (subscriber_ids[email], email))
    subscribers.link_order_buyers(session, store, buyers)

    rows = _load(session, store, [r.provider_order_id for r in recs])
    touched_subscribers: set[int] = set()
    pending: list[_PendingEvent] = []
    seen_keys: set[str] = set()
    verdicts: list[freshness.Verdict] = []
    for index, rec in enumerate(recs):
        row = rows.setdefault(rec.provider_order_id, _Row(None))
        digest = freshness.fingerprint(rec)
        verdict = freshness.compare(row.at, row.hash, rec.modified_at, digest)
        verdicts.append(verdict)
        if verdict != "newer":
            continue
        email = normalize_email(rec.email)
        if row.subscriber_id is not None:
            touched_subscribers.add(row.subscriber_id)  # the email may have changed
        row.subscriber_id = subscriber_ids[email]
        touched_subscribers.add(row.subscriber_id)
        row.at, row.hash = rec.modified_at, digest
        row.deleted = freshness.is_deleted(rec.modified_at, row.deleted_at)
        row.winner, row.digest = rec, digest
        history = live_max_age is not None and _age(rec) > live_max_age
        for event in _events_for(store, provider, rec, row.subscriber_id, email, index, history):
            if event.key not in seen_keys:
                seen_keys.add(event.key)
                pending.append(event)

    _write_orders(session, store, provider, rows)
    _write_lines(session, store, rows)
    event_ids = _write_events(session, store, provider, pending, live=live)
    profiles.refresh_many(session, touched_subscribers)
    results = []
    for index, verdict in enumerate(verdicts):
        if verdict == "newer":
            results.append(OrderOutcome("upserted", tuple(event_ids.get(index, ()))))
        else:
            results.append(OrderOutcome(verdict))
    return results


def _age(rec: records.Order) -> timedelta:
    """How old the order was when the store last changed it (now, when it does not say)."""
    now = clock.now()
    changed = min(rec.modified_at, now) if rec.modified_at is not None else now
    return changed - rec.ordered_at


def _load(session: Session, store: StoreContext, ids: list[str]) -> dict[str, _Row]:
    found: dict[str, _Row] = {}
    wanted = list(dict.fromkeys(ids))
    for start in range(0, len(wanted), 500):
        for row in session.execute(
            select(
                OrderRow.id,
                OrderRow.provider_order_id,
                OrderRow.subscriber_id,
                OrderRow.source_modified_at,
                OrderRow.source_hash,
                OrderRow.deleted,
                OrderRow.deleted_at,
            ).where(
                OrderRow.integration_id == store.integration_id,
                OrderRow.provider_order_id.in_(wanted[start : start + 500]),
            )
        ):
            found[row.provider_order_id] = _Row(
                row.id,
                row.subscriber_id,
                row.source_modified_at,
                row.source_hash,
                row.deleted,
                row.deleted_at,
            )
    return found


def _order_values(rec: records.Order, row: _Row) -> dict[str, Any]:
    return {
        "order_number": (rec.order_number or rec.provider_order_id)[:64],
        "subscriber_id": row.subscriber_id,
        "email": normalize_email(rec.email),
        "status": rec.status[:40],
        "state": rec.state,
        "currency": rec.currency,
        "total_cents": rec.total.minor,
        "refunded_cents": sum(r.amount.minor for r in rec.refunds),
        "ordered_at": rec.ordered_at,
        "awaiting_payment": rec.awaiting_payment,
        "deleted": row.deleted,
        "source_modified_at": rec.modified_at,
        "source_hash": row.digest,
        "updated_at": clock.now(),
    }


def _write_orders(
    session: Session, store: StoreContext, provider: str, rows: dict[str, _Row]
) -> None:
    table = OrderRow.__table__
    new = [
        (oid, row, row.winner)
        for oid, row in rows.items()
        if row.id is None and row.winner is not None
    ]
    if new:
        # A plain executemany and one SELECT for the ids: INSERT ... RETURNING in
        # executemany form is several times slower on PostgreSQL.
        session.execute(
            table.insert(),
            [
                {
                    **_order_values(winner, row),
                    "company_id": store.company_id,
                    "integration_id": store.integration_id,
                    "provider": provider,
                    "provider_order_id": oid,
                }
                for oid, row, winner in new
            ],
        )
        for oid, row in _load(session, store, [oid for oid, _, _ in new]).items():
            rows[oid].id = row.id
            rows[oid].inserted = True
    inserted = {oid for oid, _, _ in new}
    changed = [
        {"row_id": row.id, **_order_values(row.winner, row)}
        for oid, row in rows.items()
        if row.winner is not None and oid not in inserted
    ]
    if changed:
        session.execute(
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({name: bindparam(name) for name in changed[0] if name != "row_id"}),
            changed,
            execution_options={"synchronize_session": False},
        )


def _write_lines(session: Session, store: StoreContext, rows: dict[str, _Row]) -> None:
    written = [(row, row.winner) for row in rows.values() if row.winner is not None]
    if not written:
        return
    ids = [row.id for row, _ in written if not row.inserted]
    for start in range(0, len(ids), 500):
        session.execute(
            delete(OrderLine)
            .where(OrderLine.order_id.in_(ids[start : start + 500]))
            .execution_options(synchronize_session=False)
        )
    lines = [
        {
            "company_id": store.company_id,
            "order_id": row.id,
            "position": position,
            "provider_product_id": item.provider_product_id[:64],
            "provider_variant_id": item.provider_variant_id[:64],
            "title": item.title[:500],
            "variant_title": item.variant_title[:500],
            "sku": item.sku[:200],
            "quantity": item.quantity,
            "price_cents": item.price.minor,
            "total_cents": item.total.minor,
            "image_url": (item.image_url or "")[:1000] or None,
        }
        for row, winner in written
        for position, item in enumerate(winner.line_items)
    ]
    if lines:
        session.execute(OrderLine.__table__.insert(), lines)


def properties(provider: str, rec: records.Order) -> dict[str, Any]:
    """The contract's order event properties."""
    return {
        "orderId": rec.provider_order_id,
        "orderNumber": rec.order_number or rec.provider_order_id,
        "status": rec.status,
        "totalCents": rec.total.minor,
        "refundedCents": sum(r.amount.minor for r in rec.refunds),
        "currency": rec.currency,
        "orderedAt": rec.ordered_at.isoformat(),
        # The store account that ordered (carts match it: billing email != account email).
        "customerId": rec.customer.provider_customer_id if rec.customer else None,
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


def transitions(rec: records.Order) -> list[tuple[EventName, str]]:
    """(event name, key suffix) pairs implied by the order's current state."""
    if rec.state not in ORDER_LIVE:
        return []
    found: list[tuple[EventName, str]] = [("ecommerce.order_placed", "placed")]
    if rec.state == "fulfilled":
        found.append(("ecommerce.order_fulfilled", "fulfilled"))
    if rec.state == "cancelled":
        found.append(("ecommerce.order_cancelled", "cancelled"))
    for refund in rec.refunds:
        found.append(("ecommerce.order_refunded", f"refund:{refund.provider_refund_id}"))
    if rec.state == "refunded" and not rec.refunds:
        found.append(("ecommerce.order_refunded", "refunded"))
    return found


def _events_for(
    store: StoreContext,
    provider: str,
    rec: records.Order,
    subscriber_id: int,
    email: str,
    index: int,
    history: bool = False,
) -> list[_PendingEvent]:
    found = transitions(rec)
    if not found:
        return []
    props = properties(provider, rec)
    return [
        _PendingEvent(
            name=name,
            key=f"{store.integration_id}:order:{rec.provider_order_id}:{suffix}",
            occurred_at=rec.ordered_at
            if suffix == "placed"
            else (rec.modified_at or rec.ordered_at),
            subscriber_id=subscriber_id,
            email=email,
            properties=props,
            index=index,
            history=history,
        )
        for name, suffix in found
    ]


def _write_events(
    session: Session,
    store: StoreContext,
    provider: str,
    pending: list[_PendingEvent],
    *,
    live: bool,
) -> dict[int, list[int]]:
    """Append the events (once per key); live ones get a job and their ids reported."""
    created: dict[int, list[int]] = {}
    if live:
        current = [event for event in pending if not event.history]
        ids = events.append_many(
            session,
            store.company_id,
            [
                events.NewEvent(
                    event.name,
                    event.key,
                    event.occurred_at,
                    _SubscriberRef(event.subscriber_id, event.email),
                    event.properties,
                )
                for event in current
            ],
            provider=provider,
            integration_id=store.integration_id,
        )
        for event in current:
            if event.key in ids:
                created.setdefault(event.index, []).append(ids[event.key])
    history = [event for event in pending if not live or event.history]
    if not history:
        return created
    now = clock.now()
    insert_ignore_many(
        session,
        Event.__table__,
        [
            {
                "company_id": store.company_id,
                "name": event.name,
                "idempotency_key": event.key,
                "subscriber_id": event.subscriber_id,
                "email": event.email,
                "provider": provider,
                "integration_id": store.integration_id,
                "occurred_at": event.occurred_at,
                "properties": event.properties,
                "live": False,
                "created_at": now,
            }
            for event in history
        ],
        ["company_id", "idempotency_key"],
    )
    return created


@attrs.frozen
class _SubscriberRef:
    """What ``events.append`` reads from a subscriber, without loading the row."""

    id: int
    email: str


def mark_deleted(session: Session, store: StoreContext, provider_order_id: str) -> None:
    """A trashed order (``{"id": N}``): kept, flagged, out of the revenue attributes.

    It stays deleted until a payload modified after the deletion was received
    (``order.restored``) wins (``freshness.is_deleted``).
    """
    row = session.execute(
        select(OrderRow.id, OrderRow.subscriber_id, OrderRow.source_modified_at).where(
            OrderRow.integration_id == store.integration_id,
            OrderRow.provider_order_id == provider_order_id,
        )
    ).first()
    if row is None:
        return  # never seen: nothing to keep (an order needs a buyer to be stored)
    now = clock.now()
    session.execute(
        update(OrderRow)
        .where(OrderRow.id == row.id)
        .values(deleted=freshness.is_deleted(row.source_modified_at, now), deleted_at=now)
        .execution_options(synchronize_session=False)
    )
    profiles.refresh_many(session, {row.subscriber_id})
