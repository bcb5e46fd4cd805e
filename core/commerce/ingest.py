"""Inbound deliveries: store first, process later, never lose one.

The request path (``receive``) authenticates nothing itself (the web layer asked
the provider), validates the payload so the sender hears about bad input at once,
and stores the raw body with a ``delivery`` job in the caller's transaction.
Authentic bodies that fail validation are stored too, as ``failed`` with their
reason, and can be replayed after a fix. The worker (``process_delivery``) maps
the body through the provider and applies the records.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Literal, TypeVar

import attrs
from sqlalchemy import select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.commerce import (
    carts,
    catalog,
    events,
    orders,
    privacy,
    records,
    stock_levels,
    subscribers,
)
from storeflow.core.commerce.freshness import Outcome
from storeflow.core.commerce.money import MoneyError
from storeflow.core.errors import NotFound, StoreflowError
from storeflow.core.statuses import DELIVERY_DONE, DeliveryStatus
from storeflow.core.storage.tables import InboundDelivery, Integration, Job
from storeflow.core.storage.upsert import insert_ignore
from storeflow.core.stores import integrations
from storeflow.core.stores.provider import Provider, StoreContext, Verified
from storeflow.core.work import outbox

if TYPE_CHECKING:
    from storeflow.core.runtime import Runtime


# What a stored delivery came as: a provider's webhook, a sync page or a plugin event.
DeliveryKind = Literal["webhook", "sync", "event"]
R = TypeVar("R", bound=records.Record)


@attrs.frozen
class Received:
    delivery_id: int | None
    duplicate: bool
    error: StoreflowError | None = None


def check(provider: Provider, verified: Verified, body: bytes) -> StoreflowError | None:
    """The provider's verdict on the body, before any transaction: None when it parses."""
    try:
        provider.parse_payload(verified.topic, body)
    except StoreflowError as exc:
        return exc
    return None


def store(
    session: Session,
    integration: Integration,
    provider: Provider,
    verified: Verified,
    body: bytes,
    error: StoreflowError | None,
    *,
    kind: DeliveryKind = "webhook",
) -> Received:
    """Insert the delivery (failed with ``error``, or pending with its job); a second copy
    of the same delivery (same dedupe key) is a duplicate and stores nothing."""
    delivery_id = insert_ignore(
        session,
        InboundDelivery.__table__,
        {
            "company_id": integration.company_id,
            "integration_id": integration.id,
            "provider": provider.name,
            "kind": kind,
            "topic": verified.topic,
            "dedupe_key": verified.dedupe_key,
            "headers": verified.headers,
            "body": body,
            "status": "failed" if error else "pending",
            "error": f"{error.code}: {error.message}" if error else None,
            "received_at": clock.now(),
        },
        ["integration_id", "dedupe_key"],
    )
    if delivery_id is None:
        return Received(None, duplicate=True, error=error)
    if error is None:
        _queue(session, integration.company_id, delivery_id)
    return Received(delivery_id, duplicate=False, error=error)


def _queue(session: Session, company_id: int, delivery_id: int, attempt: int = 0) -> None:
    DELIVERY_JOBS.add(session, company_id, delivery_id, attempt)


@attrs.define
class Applied:
    upserted: int = 0
    skipped_stale: int = 0  # older than what is stored: nothing written
    unchanged: int = 0  # the same version again: nothing written
    event_ids: list[int] = attrs.field(factory=list)


def apply(
    session: Session,
    store: StoreContext,
    provider: str,
    mapped: records.Mapped,
    *,
    live: bool,
    live_max_age: timedelta | None = None,
) -> Applied:
    """Apply a provider's records to the database (the caller owns the transaction)."""
    result = Applied()
    outcomes, result.event_ids = apply_records(
        session, store, provider, mapped.records, live=live, live_max_age=live_max_age
    )
    for outcome in outcomes:
        if outcome == "stale":
            result.skipped_stale += 1
        elif outcome == "unchanged":
            result.unchanged += 1
        else:
            result.upserted += 1
    return result


def apply_records(
    session: Session,
    store: StoreContext,
    provider: str,
    recs: Sequence[records.Record],
    *,
    live: bool,
    live_max_age: timedelta | None = None,
) -> tuple[list[Outcome], list[int]]:
    """Apply records in order, in bulk per run of same-typed records.

    Returns one outcome per record and the ids of the live events created. Webhooks
    and sync batches both come through here, so both get the same upserts. Amounts
    and quantities are checked first (``records.check_bounds``): a record beyond them
    raises ``records.OutOfRange`` before anything is written. With ``live_max_age``,
    the events of orders older than that are history even when ``live``.
    """
    for rec in recs:
        records.check_bounds(rec)
    outcomes: list[Outcome] = []
    event_ids: list[int] = []
    for kind, group in itertools.groupby(recs, key=type):
        batch = list(group)
        if kind is records.Order:
            applied = orders.upsert_orders(
                session,
                store,
                provider,
                _all(batch, records.Order),
                live=live,
                live_max_age=live_max_age,
            )
            for outcome in applied:
                outcomes.append(outcome.result)
                event_ids.extend(outcome.event_ids)
        elif kind is records.Product:
            outcomes.extend(
                catalog.upsert_products(session, store, provider, _all(batch, records.Product))
            )
        elif kind is records.Customer:
            outcomes.extend(
                subscribers.upsert_customers(session, store, _all(batch, records.Customer))
            )
        elif kind is records.CartActivity:
            outcomes.extend(
                carts.apply(session, store, provider, _all(batch, records.CartActivity))
            )
        else:
            outcomes.extend(_apply_one(session, store, provider, rec) for rec in batch)
    return outcomes, event_ids


def _all(batch: list[records.Record], kind: type[R]) -> list[R]:
    """The records of a run that ``groupby`` found to be all of ``kind``, typed as such."""
    return [rec for rec in batch if isinstance(rec, kind)]


def _apply_one(
    session: Session, store: StoreContext, provider: str, rec: records.Record
) -> Outcome:
    match rec:
        case records.ProductDeleted():
            return catalog.mark_deleted(session, store, provider, rec.provider_product_id)
        case records.OrderDeleted():
            orders.mark_deleted(session, store, rec.provider_order_id)
            return "upserted"
        case records.CustomerDeleted():
            subscribers.mark_customer_deleted(session, store, rec.provider_customer_id)
            return "upserted"
        # --- shopify: stock per location, privacy requests, uninstalls
        case records.InventoryItem():
            return stock_levels.link(session, store, rec)
        case records.StockLevel():
            return stock_levels.apply_level(session, store, provider, rec)
        case records.Erasure() | records.DataRequest():
            privacy.apply(session, store, rec)
            return "upserted"
        case records.StoreUninstalled():
            integrations.uninstalled(session, store.integration_id, rec.reason)
            return "upserted"
        case _:
            raise StoreflowError(
                f"no core handler for {type(rec).__name__}", code="unsupported_record"
            )


class DeliveryJobs:
    """The ``delivery`` job kind: map a stored delivery and apply its records."""

    name = "delivery"

    def add(self, session: Session, company_id: int, delivery_id: int, attempt: int = 0) -> None:
        key = f"delivery:{delivery_id}" + (f":replay:{attempt}" if attempt else "")
        outbox.add(session, company_id=company_id, kind=self.name, key=key, ref_id=delivery_id)

    def run(self, rt: Runtime, session: Session, job: Job) -> None:
        # One transaction for everything the delivery causes inside storeflow: records,
        # events, and what the consumers do with them (stops, enrollments, tags).
        with events.collecting(session) as new_events:
            process_delivery(rt, session, job.ref_id)
        events.dispatch(rt, session, new_events)

    def run_batch(self, rt: Runtime, session: Session, jobs: list[Job]) -> None:
        """Several deliveries at once: each store's records applied in one call."""
        with events.collecting(session) as new_events:
            process_deliveries(rt, session, [job.ref_id for job in jobs if job.ref_id])
        events.dispatch(rt, session, new_events)


DELIVERY_JOBS = DeliveryJobs()


@attrs.frozen
class _Mapped:
    delivery: InboundDelivery
    store: StoreContext
    provider: str
    mapped: records.Mapped


def live_max_age(rt: Runtime) -> timedelta:
    """Orders older than this are history even when a live webhook brings them.

    A store's webhook for an order placed years ago (edited today, never seen by a
    sync) must not greet the buyer as if they had just ordered
    (``STOREFLOW_LIVE_ORDER_MAX_AGE_DAYS``; see ``storeflow.core.commerce.orders``).
    """
    return timedelta(days=rt.settings.live_order_max_age_days)


def process_delivery(rt: Runtime, session: Session, delivery_id: int | None) -> None:
    delivery = session.get(InboundDelivery, delivery_id)
    if delivery is None or delivery.status in DELIVERY_DONE:
        return
    item = _map(rt, session, delivery)
    if item is None:
        return
    try:
        with session.begin_nested():  # a record that fails half-way leaves nothing behind
            apply(
                session,
                item.store,
                item.provider,
                item.mapped,
                live=True,
                live_max_age=live_max_age(rt),
            )
    except (StoreflowError, MoneyError) as exc:
        _failed(delivery, exc)
        return
    _processed(item)


def process_deliveries(rt: Runtime, session: Session, delivery_ids: list[int]) -> None:
    """:func:`process_delivery` for many: mapped one by one (a body that does not map
    fails alone), then each store's records applied together, in delivery order.

    An error while applying propagates: the caller runs the deliveries one by one to
    find the one at fault (:class:`storeflow.core.work.jobs.BatchKind`).
    """
    found = {
        row.id: row
        for row in session.scalars(
            select(InboundDelivery).where(InboundDelivery.id.in_(delivery_ids))
        )
    }
    by_store: dict[str, list[_Mapped]] = {}
    max_age = live_max_age(rt)
    stores: dict[str, StoreContext] = {}
    for delivery_id in delivery_ids:
        delivery = found.get(delivery_id)
        if delivery is None or delivery.status in DELIVERY_DONE:
            continue
        item = _map(rt, session, delivery, stores)
        if item is not None:
            by_store.setdefault(delivery.integration_id, []).append(item)
    for items in by_store.values():
        recs = [rec for item in items for rec in item.mapped.records]
        apply_records(
            session, items[0].store, items[0].provider, recs, live=True, live_max_age=max_age
        )
        for item in items:
            _processed(item)


def _map(
    rt: Runtime,
    session: Session,
    delivery: InboundDelivery,
    stores: dict[str, StoreContext] | None = None,
) -> _Mapped | None:
    """The delivery's records, or None when its body cannot be mapped (marked failed).

    ``stores`` remembers each integration's context across a batch of deliveries."""
    provider = rt.providers.get(delivery.provider)
    if provider is None:
        raise LookupError(
            f"provider {delivery.provider!r} is not loaded"
        )  # retried: a deploy may fix it
    stores = {} if stores is None else stores
    store = stores.get(delivery.integration_id)
    if store is None:
        integration = session.get_one(Integration, delivery.integration_id)
        store = stores[delivery.integration_id] = integrations.context(integration)
    try:
        payload = provider.parse_payload(delivery.topic, delivery.body)
        mapped = provider.map_webhook(delivery.topic, payload, store)
    except (StoreflowError, MoneyError) as exc:
        _failed(delivery, exc)
        return None
    return _Mapped(delivery, store, provider.name, mapped)


def _failed(delivery: InboundDelivery, exc: Exception) -> None:
    # The data, not the machinery, is at fault: retrying will not help. Keep it.
    delivery.status = "failed"
    delivery.error = f"{getattr(exc, 'code', 'unmappable')}: {exc}"
    delivery.processed_at = clock.now()


def _processed(item: _Mapped) -> None:
    ignored = item.mapped.ignored
    item.delivery.status = "ignored" if ignored else "processed"
    item.delivery.error = ignored.reason if ignored else None
    item.delivery.processed_at = clock.now()


def replay(session: Session, delivery_id: int, company_id: int | None = None) -> InboundDelivery:
    """Queue a stored delivery again (after a fix); its effects stay idempotent."""
    query = select(InboundDelivery).where(InboundDelivery.id == delivery_id)
    if company_id is not None:
        query = query.where(InboundDelivery.company_id == company_id)
    delivery = session.scalar(query)
    if delivery is None:
        raise NotFound(f"no delivery {delivery_id}", code="delivery_not_found")
    replays = int((delivery.headers or {}).get("x-storeflow-replays", 0)) + 1
    delivery.headers = {**(delivery.headers or {}), "x-storeflow-replays": str(replays)}
    delivery.status = "pending"
    delivery.error = None
    _queue(session, delivery.company_id, delivery.id, attempt=replays)
    return delivery


def recent_deliveries(
    session: Session, *, status: DeliveryStatus | None = None, limit: int = 20
) -> list[InboundDelivery]:
    """The newest stored deliveries, optionally of one status (``storeflow deliveries list``)."""
    query = select(InboundDelivery).order_by(InboundDelivery.id.desc()).limit(limit)
    if status:
        query = query.where(InboundDelivery.status == status)
    return list(session.scalars(query))
