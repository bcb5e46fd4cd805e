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
from typing import TYPE_CHECKING, Literal, TypeVar

import attrs
from sqlalchemy import select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.commerce import catalog, events, orders, records, subscribers
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
    session: Session, store: StoreContext, provider: str, mapped: records.Mapped, *, live: bool
) -> Applied:
    """Apply a provider's records to the database (the caller owns the transaction)."""
    result = Applied()
    outcomes, result.event_ids = apply_records(session, store, provider, mapped.records, live=live)
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
) -> tuple[list[Outcome], list[int]]:
    """Apply records in order, in bulk per run of same-typed records.

    Returns one outcome per record and the ids of the live events created. Webhooks
    and sync batches both come through here, so both get the same upserts.
    """
    outcomes: list[Outcome] = []
    event_ids: list[int] = []
    for kind, group in itertools.groupby(recs, key=type):
        batch = list(group)
        if kind is records.Order:
            applied = orders.upsert_orders(
                session, store, provider, _all(batch, records.Order), live=live
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


DELIVERY_JOBS = DeliveryJobs()


def process_delivery(rt: Runtime, session: Session, delivery_id: int | None) -> None:
    delivery = session.get(InboundDelivery, delivery_id)
    if delivery is None or delivery.status in DELIVERY_DONE:
        return
    integration = session.get_one(Integration, delivery.integration_id)
    provider = rt.providers.get(delivery.provider)
    if provider is None:
        raise LookupError(
            f"provider {delivery.provider!r} is not loaded"
        )  # retried: a deploy may fix it
    store = integrations.context(integration)
    try:
        payload = provider.parse_payload(delivery.topic, delivery.body)
        mapped = provider.map_webhook(delivery.topic, payload, store)
        with session.begin_nested():  # a record that fails half-way leaves nothing behind
            apply(session, store, provider.name, mapped, live=True)
    except (StoreflowError, MoneyError) as exc:
        # The data, not the machinery, is at fault: retrying will not help. Keep it.
        delivery.status = "failed"
        delivery.error = f"{getattr(exc, 'code', 'unmappable')}: {exc}"
        delivery.processed_at = clock.now()
        return
    delivery.status = "ignored" if mapped.ignored else "processed"
    delivery.error = mapped.ignored.reason if mapped.ignored else None
    delivery.processed_at = clock.now()


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
