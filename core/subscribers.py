"""Subscribers: one per company and email (trimmed, case-insensitive)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import clock
from core.accounts import normalize_email
from core.errors import NotFound
from core.tables import Subscriber
from core.upsert import insert_ignore


def upsert(
    session: Session, company_id: int, email: str, first_name: str = "", last_name: str = ""
) -> Subscriber:
    """Find or create the subscriber; fill in names only where the profile has none."""
    email = normalize_email(email)
    insert_ignore(
        session,
        Subscriber.__table__,
        {
            "company_id": company_id,
            "email": email,
            "first_name": first_name or "",
            "last_name": last_name or "",
            "status": "active",
            "tags": [],
            "attributes": {},
            "created_at": clock.now(),
            "updated_at": clock.now(),
        },
        ["company_id", "email"],
    )
    subscriber = session.scalars(
        select(Subscriber).where(Subscriber.company_id == company_id, Subscriber.email == email)
    ).one()
    if first_name and not subscriber.first_name:
        subscriber.first_name = first_name
    if last_name and not subscriber.last_name:
        subscriber.last_name = last_name
    return subscriber


def get_by_email(session: Session, company_id: int, email: str) -> Subscriber:
    subscriber = session.scalar(
        select(Subscriber).where(
            Subscriber.company_id == company_id, Subscriber.email == normalize_email(email)
        )
    )
    if subscriber is None:
        raise NotFound("no subscriber with that email", code="subscriber_not_found")
    return subscriber
