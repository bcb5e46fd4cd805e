"""Suppression: an address a mail server refused for good is never emailed again.

A permanent SMTP rejection of the recipient (a 5xx at ``RCPT TO``, or a 5.1.x
"bad mailbox" status; see ``storeflow.rules.actions.Rejected``) records the address
in ``suppressions`` with the server's reply, sets the company's subscriber of that
address to ``suppressed`` and stops the subscriber's running enrollments with that
reason: the email step each was waiting for is ``skipped`` in the ledger with
``stopped: subscriber suppressed: <the server's reply>``. A later run of a suppressed
subscriber (``SUBSCRIBER_INACTIVE``) stops at its first step with the same reason
(:func:`explain`), so nothing is sent to the address again. An unsubscribed subscriber stays
unsubscribed (the person's own choice says more), but the address is recorded too.

An operator lifts a suppression (``storeflow rules suppressions lift``) once the
address works again: the row goes and a ``suppressed`` subscriber is ``active``
again; runs stopped meanwhile stay stopped (their moment has passed), later events
enrol as usual.
"""

from __future__ import annotations

from datetime import datetime

import attrs
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.emails import normalize_email
from storeflow.core.storage.db import rows_changed
from storeflow.core.storage.locks import locked_subscriber
from storeflow.core.storage.tables import Company, Subscriber, Suppression
from storeflow.core.storage.upsert import insert_ignore
from storeflow.rules import sequences, stopping


def suppress(session: Session, subscriber_id: int, reason: str) -> int:
    """Suppress the subscriber's address (the caller holds the subscriber's lock);
    returns how many running enrollments it stopped."""
    subscriber = session.get_one(Subscriber, subscriber_id)
    insert_ignore(
        session,
        Suppression.__table__,
        {
            "company_id": subscriber.company_id,
            "email": subscriber.email,
            "reason": reason[:2000],
            "created_at": clock.now(),
        },
        ["company_id", "email"],
    )
    if subscriber.status == "active":
        subscriber.status = "suppressed"
    rules = sequences.company_rules(session, subscriber.company_id)
    return stopping.stop_all(session, subscriber.id, rules, f"subscriber suppressed: {reason}")


def explain(session: Session, subscriber: Subscriber, reason: str) -> str:
    """A stop reason, with the server's reply when it is the suppression."""
    if subscriber.status != "suppressed" or reason != "subscriber suppressed":
        return reason
    why = reason_for(session, subscriber.company_id, subscriber.email)
    return f"{reason}: {why}" if why else reason


def reason_for(session: Session, company_id: int, email: str) -> str | None:
    """Why the company's address is suppressed, or None."""
    return session.scalar(
        select(Suppression.reason).where(
            Suppression.company_id == company_id, Suppression.email == email
        )
    )


# --- operators: list and lift ----------------------------------------------------------


@attrs.frozen
class Listed:
    company: str  # the company's slug
    email: str
    reason: str
    created_at: datetime


def listing(
    session: Session, company_id: int | None = None, *, email: str | None = None, limit: int = 100
) -> list[Listed]:
    """The newest suppressions, of one company or all, optionally of one address."""
    query = (
        select(Company.slug, Suppression.email, Suppression.reason, Suppression.created_at)
        .join(Company, Company.id == Suppression.company_id)
        .order_by(Suppression.created_at.desc(), Suppression.id.desc())
        .limit(limit)
    )
    if company_id is not None:
        query = query.where(Suppression.company_id == company_id)
    if email is not None:
        query = query.where(Suppression.email == normalize_email(email))
    return [Listed(*row) for row in session.execute(query)]


@attrs.frozen
class Lifted:
    found: bool  # there was a suppression to lift
    reactivated: bool  # the subscriber was ``suppressed`` and is ``active`` again


def lift(session: Session, company_id: int, email: str) -> Lifted:
    """Forget that the company's address was refused; the subscriber may be emailed again."""
    address = normalize_email(email)
    subscriber_id = session.scalar(
        select(Subscriber.id).where(
            Subscriber.company_id == company_id, Subscriber.email == address
        )
    )
    # Under the subscriber's lock, as suppress() is: a refusal being recorded right now
    # either lands before (and is lifted) or after (and stays).
    subscriber = locked_subscriber(session, subscriber_id) if subscriber_id else None
    removed = rows_changed(
        session,
        delete(Suppression).where(
            Suppression.company_id == company_id, Suppression.email == address
        ),
    )
    reactivated = subscriber is not None and subscriber.status == "suppressed"
    if subscriber is not None and reactivated:
        subscriber.status = "active"
    return Lifted(found=bool(removed) or reactivated, reactivated=reactivated)
