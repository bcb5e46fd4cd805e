"""What the tables say about the service right now, for ``/metrics`` (read at scrape time).

Counts only, never per company: jobs by kind and status, the wait of the oldest due
pending job, deliveries by status, messages of a recent window by channel and status
(the ledger only grows; its recent part is what an alert needs, and an index on
``created_at`` keeps that cheap), integrations by status and health.
"""

from __future__ import annotations

from datetime import timedelta

import attrs
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.storage.tables import InboundDelivery, Integration, Job, Message


@attrs.frozen
class TableState:
    jobs: list[tuple[str, str, int]]  # kind, status, count
    oldest_pending_seconds: float  # 0 when no due job waits
    deliveries: list[tuple[str, int]]  # status, count
    messages: list[tuple[str, str, int]]  # channel, status, count (within the window)
    integrations: list[tuple[str, str, int]]  # status, health, count


def read(session: Session, *, message_window: timedelta) -> TableState:
    now = clock.now()
    jobs = session.execute(
        select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)
    )
    oldest = session.scalar(
        select(func.min(Job.available_at)).where(Job.status == "pending", Job.available_at <= now)
    )
    deliveries = session.execute(
        select(InboundDelivery.status, func.count()).group_by(InboundDelivery.status)
    )
    messages = session.execute(
        select(Message.channel, Message.status, func.count())
        .where(Message.created_at >= now - message_window)
        .group_by(Message.channel, Message.status)
    )
    integrations = session.execute(
        select(Integration.status, Integration.health, func.count()).group_by(
            Integration.status, Integration.health
        )
    )
    waited = (now - clock.ensure_utc(oldest)).total_seconds() if oldest is not None else 0.0
    return TableState(
        jobs=[(kind, status, int(count)) for kind, status, count in jobs],
        oldest_pending_seconds=max(0.0, waited),
        deliveries=[(status, int(count)) for status, count in deliveries],
        messages=[(channel, status, int(count)) for channel, status, count in messages],
        integrations=[(status, health, int(count)) for status, health, count in integrations],
    )
