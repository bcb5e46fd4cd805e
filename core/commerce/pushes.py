"""Pushes from a store's own backend (the Commerce API): the queries behind ``/api/v1``.

A push is stored like any delivery (``ingest.store``). Most are applied by the
worker; a push whose answer reports what it wrote (a products push) is applied in
the caller's transaction instead, through the same ``ingest.apply``, and its
delivery marked processed, so the job queued with it finds nothing left to do.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.commerce import ingest
from storeflow.core.emails import normalize_email
from storeflow.core.storage.tables import (
    Company,
    Event,
    InboundDelivery,
    Integration,
    Job,
    StoreCustomer,
    Subscriber,
    WaitlistRestock,
)
from storeflow.core.stores import integrations
from storeflow.core.stores.provider import Provider, Verified


def integration_for(session: Session, company: Company, provider: str, name: str) -> Integration:
    """The company's integration of ``provider`` (its oldest), created on first use."""
    found = session.scalar(
        select(Integration)
        .where(Integration.company_id == company.id, Integration.provider == provider)
        .order_by(Integration.created_at, Integration.id)
        .limit(1)
    )
    return found or integrations.create(session, company, provider, name=name)


def apply_now(
    session: Session, integration: Integration, provider: Provider, verified: Verified, body: bytes
) -> tuple[ingest.Applied, int]:
    """Store the push and apply it here; returns what was applied and the restocks opened."""
    store = integrations.context(integration)
    received = ingest.store(session, integration, provider, verified, body, None)
    mapped = provider.map_webhook(
        verified.topic, provider.parse_payload(verified.topic, body), store
    )
    before = _restocks(session, integration.id)
    applied = ingest.apply(session, store, provider.name, mapped, live=True)
    opened = _restocks(session, integration.id) - before
    delivery = session.get(InboundDelivery, received.delivery_id) if received.delivery_id else None
    if delivery is not None:
        delivery.status = "processed"
        delivery.processed_at = clock.now()
    return applied, opened


def _restocks(session: Session, integration_id: str) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(WaitlistRestock)
        .where(WaitlistRestock.integration_id == integration_id)
    )
    return int(count or 0)


def delivery_job(session: Session, delivery_id: int | None) -> int | None:
    """The id of the job that processes a stored delivery."""
    if delivery_id is None:
        return None
    return session.scalar(
        select(Job.id).where(Job.kind == ingest.DELIVERY_JOBS.name, Job.ref_id == delivery_id)
    )


def event_by_key(session: Session, company_id: int, key: str) -> int | None:
    """The id of the event appended under ``key`` (a repeated push answers it again)."""
    return session.scalar(
        select(Event.id).where(Event.company_id == company_id, Event.idempotency_key == key)
    )


def buyer(session: Session, integration_id: str, external_id: str) -> int | None:
    """The subscriber id of the store's customer ``external_id`` (linked by its orders)."""
    return session.scalar(
        select(StoreCustomer.subscriber_id).where(
            StoreCustomer.integration_id == integration_id,
            StoreCustomer.provider_customer_id == external_id,
        )
    )


def is_subscriber(session: Session, company_id: int, email: str) -> bool:
    found = session.scalar(
        select(Subscriber.id).where(
            Subscriber.company_id == company_id, Subscriber.email == normalize_email(email)
        )
    )
    return found is not None
