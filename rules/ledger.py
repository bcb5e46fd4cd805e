"""The send ledger (``messages``): one row per (enrollment, step), whatever happens to it.

An external effect (an email, a webhook call) is *claimed* here before it is
performed: the row goes to ``sending`` with a lease, in the transaction that
re-checked the stop conditions. Then the effect runs outside any transaction, then
the row is marked ``sent`` / ``failed``. Because the row is unique per
(enrollment, step), a step job that runs twice finds the row and never performs
the effect again.

Statuses: ``queued`` (waiting: delayed by the frequency cap, or a retry of a failure
that certainly did not deliver), ``sending`` (claimed), ``sent``, ``failed``,
``unknown`` (the sender died after claiming, or the transport broke mid-way: it may
or may not have been delivered, so it is surfaced, never resent blindly), and
``skipped`` (stopped or capped; ``reason`` says which).

Every row has a stable ``message_id`` derived from its key: the email's
``Message-ID`` and the webhook's ``webhook-id``, so a duplicate downstream is
recognisable. Emails also carry a one-click unsubscribe token; only its SHA-256 is
stored.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.emails import normalize_email
from storeflow.core.statuses import MessageStatus
from storeflow.core.storage import paging
from storeflow.core.storage.tables import Enrollment, Message
from storeflow.core.storage.upsert import insert_ignore
from storeflow.core.work.outbox import UNKNOWN_REASON

# A failure that certainly did not deliver is retried; after this many claims it fails.
MAX_ATTEMPTS = 5


def message_id_for(company_id: int, enrollment_id: int, position: int) -> str:
    digest = _digest(company_id, enrollment_id, position)
    return f"<sf.{enrollment_id}.{position}.{digest}@storeflow>"


def webhook_id_for(company_id: int, enrollment_id: int, position: int) -> str:
    return f"msg_sf_{enrollment_id}_{position}_{_digest(company_id, enrollment_id, position)}"


def _digest(company_id: int, enrollment_id: int, position: int) -> str:
    return hashlib.sha256(f"{company_id}:{enrollment_id}:{position}".encode()).hexdigest()[:16]


def retry_delay(attempts: int) -> timedelta:
    """1 min, 4 min, 16 min, ... capped at 6 h."""
    return timedelta(seconds=min(6 * 3600, 60 * 4 ** max(0, attempts - 1)))


# --- unsubscribe tokens -------------------------------------------------------------------


def new_unsubscribe_token() -> tuple[str, str]:
    """(token for the URL, hash to store): 256 random bits, unguessable and opaque."""
    token = secrets.token_urlsafe(32)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def by_unsubscribe_token(session: Session, token: str) -> Message | None:
    if not token or len(token) > 200:
        return None
    return session.scalar(
        select(Message).where(Message.unsubscribe_token_hash == hash_token(token))
    )


# --- rows ---------------------------------------------------------------------------------


def find(session: Session, enrollment_id: int, position: int) -> Message | None:
    return session.scalar(
        select(Message)
        .where(Message.enrollment_id == enrollment_id, Message.step == position)
        .execution_options(populate_existing=True)
    )


def _base_row(
    enrollment: Enrollment, position: int, channel: str, priority: int, status: MessageStatus
) -> dict[str, Any]:
    return {
        "company_id": enrollment.company_id,
        "enrollment_id": enrollment.id,
        "sequence_id": enrollment.sequence_id,
        "step": position,
        "subscriber_id": enrollment.subscriber_id,
        "email": enrollment.email,
        "status": status,
        "channel": channel,
        "priority": priority,
        "attempts": 0,
        "message_id": message_id_for(enrollment.company_id, enrollment.id, position),
        "created_at": clock.now(),
    }


def claim(
    session: Session,
    enrollment: Enrollment,
    position: int,
    *,
    channel: str,
    priority: int,
    content: dict[str, Any],
    lease_seconds: float,
    token_hash: str | None = None,
) -> Message | None:
    """Take the row for sending; None when it exists and is not waiting to be sent."""
    now = clock.now()
    lease = now + timedelta(seconds=lease_seconds)
    row = _base_row(enrollment, position, channel, priority, "sending")
    row.update(content, lease_until=lease, attempts=1, unsubscribe_token_hash=token_hash)
    if insert_ignore(session, Message.__table__, row, ["enrollment_id", "step"]) is not None:
        return find(session, enrollment.id, position)
    message = find(session, enrollment.id, position)
    if message is None or message.status != "queued":
        return None
    # A queued row (capped, or a retry) is claimed again with what is sent now.
    for key, value in content.items():
        setattr(message, key, value)
    message.status = "sending"
    message.lease_until = lease
    message.priority = priority
    message.attempts += 1
    message.unsubscribe_token_hash = token_hash
    message.created_at = now  # the claim time: what the frequency cap counts
    return message


def hold(
    session: Session,
    enrollment: Enrollment,
    position: int,
    *,
    channel: str,
    priority: int,
    status: Literal["queued", "skipped", "failed"],
    reason: str,
    content: dict[str, Any] | None = None,
) -> Message:
    """Record a step's effect as ``queued`` (waiting) or ``skipped`` / ``failed``, with why.

    A row that already reached a final state is left alone.
    """
    row = _base_row(enrollment, position, channel, priority, status)
    row.update(content or {}, reason=reason)
    insert_ignore(session, Message.__table__, row, ["enrollment_id", "step"])
    message = find(session, enrollment.id, position)
    assert message is not None
    if message.status in ("queued", status):
        message.status = status
        message.reason = reason
        message.lease_until = None
    return message


def settle_expired(message: Message, now: datetime) -> bool:
    """A claim whose lease ran out is ambiguous: mark it unknown. False if still leased."""
    if message.status != "sending":
        return True
    if message.lease_until is not None and message.lease_until >= now:
        return False
    message.status = "unknown"
    message.reason = UNKNOWN_REASON
    message.lease_until = None
    return True


def page(
    session: Session,
    company_id: int,
    *,
    email: str | None = None,
    sequence_id: int | None = None,
    status: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[Message], int]:
    """One page of the company's ledger rows, newest first, and how many match."""
    query = select(Message).where(Message.company_id == company_id)
    if email is not None:
        query = query.where(Message.email == normalize_email(email))
    if sequence_id is not None:
        query = query.where(Message.sequence_id == sequence_id)
    if status is not None:
        query = query.where(Message.status == status)
    return paging.page(session, query, Message.id.desc(), limit=limit, offset=offset)


def to_json(row: Message, sequence_slug: str | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "enrollmentId": row.enrollment_id,
        "sequenceId": sequence_slug,
        "step": row.step,
        "email": row.email,
        "subject": row.subject,
        "status": row.status,
        "reason": row.reason,
        "sentAt": row.sent_at.isoformat() if row.sent_at else None,
        "messageId": row.message_id,
        "channel": row.channel,
        "priority": row.priority,
        "attempts": row.attempts,
        "createdAt": row.created_at.isoformat(),
    }


# --- admin pages: sends per day and attributed revenue (issue 15) ---------------------------

# An order placed this long after a sent message of any sequence counts as that
# sequence work's revenue (last touch; one order counts once however many mails came).
ATTRIBUTION_WINDOW = timedelta(days=5)


def daily_sent(session: Session, company_id: int, since: datetime) -> dict[str, int]:
    """Sent messages per UTC day (``YYYY-MM-DD``) from ``since`` on."""
    from sqlalchemy import func

    day = func.date(Message.sent_at)
    rows = session.execute(
        select(day, func.count())
        .where(
            Message.company_id == company_id,
            Message.status == "sent",
            Message.sent_at >= since,
        )
        .group_by(day)
    )
    return {str(value)[:10]: int(count) for value, count in rows}


def attributed_revenue(
    session: Session, company_id: int, since: datetime, window: timedelta = ATTRIBUTION_WINDOW
) -> dict[str, int]:
    """Net revenue (minor units, per currency) of counted orders placed from ``since`` on
    within ``window`` after a message was sent to the buyer."""
    from storeflow.core.commerce.profiles import counted
    from storeflow.core.storage.tables import OrderRow

    sent: dict[int, list[datetime]] = {}
    for subscriber_id, sent_at in session.execute(
        select(Message.subscriber_id, Message.sent_at).where(
            Message.company_id == company_id,
            Message.status == "sent",
            Message.sent_at >= since - window,
        )
    ):
        if sent_at is not None:  # the filter excludes NULL; the type does not know it
            sent.setdefault(subscriber_id, []).append(sent_at)
    if not sent:
        return {}
    totals: dict[str, int] = {}
    buyers = select(Message.subscriber_id).where(
        Message.company_id == company_id,
        Message.status == "sent",
        Message.sent_at >= since - window,
    )
    for subscriber_id, ordered_at, currency, net in session.execute(
        select(
            OrderRow.subscriber_id,
            OrderRow.ordered_at,
            OrderRow.currency,
            OrderRow.total_cents - OrderRow.refunded_cents,
        ).where(
            OrderRow.company_id == company_id,
            OrderRow.ordered_at >= since,
            OrderRow.subscriber_id.in_(buyers),
            counted(),
        )
    ):
        if any(at <= ordered_at <= at + window for at in sent.get(subscriber_id, ())):
            totals[currency] = totals.get(currency, 0) + max(int(net), 0)
    return totals
