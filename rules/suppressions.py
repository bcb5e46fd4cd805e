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
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.storage.tables import Subscriber, Suppression
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
