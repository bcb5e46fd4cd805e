"""Retention: the sweeper deletes what is no longer needed, a batch per table per tick.

Raw deliveries (up to 5 MiB each), the plugins' webhook-id answers and events grow
with traffic; nothing else ever deletes them. Each sweep deletes at most
``retention_batch`` rows per table, oldest first, through an index on the row's
time, so a tick costs little when there is nothing to do and a backlog drains over
several ticks without holding the database's write lock for long. Finished jobs are
pruned by the outbox sweep itself (``STOREFLOW_JOB_RETENTION_SECONDS``).

What is kept, whatever its age: deliveries still ``pending``; events an enrollment
starts from (its history and stop checks refer to them). An age of 0 keeps a table
forever. Each table is pruned in a savepoint of its own, so a failure (a plugin's
table referencing a row) is logged and leaves the other tables, and the rest of the
sweep, alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import attrs
from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.statuses import DeliveryStatus
from storeflow.core.storage.db import rows_changed
from storeflow.core.storage.tables import Enrollment, Event, InboundDelivery, PluginRequest

if TYPE_CHECKING:
    from storeflow.core.runtime import Runtime

log = logging.getLogger(__name__)

DONE_DELIVERIES: tuple[DeliveryStatus, ...] = ("processed", "ignored")
FAILED_DELIVERIES: tuple[DeliveryStatus, ...] = ("failed",)


def prune_deliveries(
    session: Session, *, before: datetime, statuses: Collection[DeliveryStatus], limit: int
) -> int:
    """Delete up to ``limit`` raw deliveries of ``statuses`` received before ``before``."""
    old = (
        select(InboundDelivery.id)
        .where(InboundDelivery.received_at < before, InboundDelivery.status.in_(sorted(statuses)))
        .order_by(InboundDelivery.received_at)
        .limit(limit)
    )
    return _delete_ids(session, InboundDelivery, list(session.scalars(old)))


def prune_plugin_requests(session: Session, *, before: datetime, limit: int) -> int:
    """Delete remembered plugin answers older than ``before``: a signed request that old
    is refused by its timestamp anyway, so its ``webhook-id`` need not be remembered."""
    old = (
        select(PluginRequest.id)
        .where(PluginRequest.created_at < before)
        .order_by(PluginRequest.created_at)
        .limit(limit)
    )
    return _delete_ids(session, PluginRequest, list(session.scalars(old)))


def prune_events(session: Session, *, before: datetime, limit: int) -> int:
    """Delete events stored before ``before`` that no enrollment starts from."""
    started = exists().where(Enrollment.entry_event_id == Event.id)
    old = (
        select(Event.id)
        .where(Event.created_at < before, ~started)
        .order_by(Event.created_at)
        .limit(limit)
    )
    return _delete_ids(session, Event, list(session.scalars(old)))


def _delete_ids(
    session: Session, model: type[InboundDelivery | PluginRequest | Event], ids: list[int]
) -> int:
    if not ids:
        return 0
    return rows_changed(
        session,
        delete(model).where(model.id.in_(ids)).execution_options(synchronize_session=False),
    )


@attrs.frozen
class Report:
    deliveries: int = 0
    failed_deliveries: int = 0
    plugin_requests: int = 0
    events: int = 0

    @property
    def total(self) -> int:
        return self.deliveries + self.failed_deliveries + self.plugin_requests + self.events


def run(
    session: Session,
    *,
    delivery_days: float,
    failed_delivery_days: float,
    plugin_request_days: float,
    event_days: float,
    limit: int,
) -> Report:
    """One round of pruning; each age in days, 0 keeping that table forever."""
    now = clock.now()

    def cutoff(days: float) -> datetime:
        return now - timedelta(days=days)

    steps: dict[str, tuple[float, Callable[[datetime], int]]] = {
        "deliveries": (
            delivery_days,
            lambda before: prune_deliveries(
                session, before=before, statuses=DONE_DELIVERIES, limit=limit
            ),
        ),
        "failed_deliveries": (
            failed_delivery_days,
            lambda before: prune_deliveries(
                session, before=before, statuses=FAILED_DELIVERIES, limit=limit
            ),
        ),
        "plugin_requests": (
            plugin_request_days,
            lambda before: prune_plugin_requests(session, before=before, limit=limit),
        ),
        "events": (event_days, lambda before: prune_events(session, before=before, limit=limit)),
    }
    counts: dict[str, int] = {}
    for name, (days, prune) in steps.items():
        if days <= 0:
            continue
        try:
            with session.begin_nested():
                counts[name] = prune(cutoff(days))
        except Exception:  # one table's problem must not stop the sweeper
            log.exception("retention: could not prune %s", name)
    return Report(**counts)


def sweep(rt: Runtime, session: Session) -> None:
    """The ``retention`` sweep: one round with the runtime's settings."""
    settings = rt.settings
    report = run(
        session,
        delivery_days=settings.delivery_retention_days,
        failed_delivery_days=settings.failed_delivery_retention_days,
        plugin_request_days=settings.plugin_request_retention_days,
        event_days=settings.event_retention_days,
        limit=settings.retention_batch,
    )
    if report.total:
        log.info(
            "retention: pruned %d deliveries, %d failed deliveries, %d plugin requests, %d events",
            report.deliveries,
            report.failed_deliveries,
            report.plugin_requests,
            report.events,
        )
