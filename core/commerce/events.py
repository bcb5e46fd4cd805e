"""The event log: provider-agnostic commerce events, appended once per idempotency key.

Live events get an ``event`` job (:data:`EVENT_JOBS`), which hands the event to
the registered consumers (the rules engine is one); historical ones (sync
backfill) are recorded for profiles and dry-runs but start nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeGuard, get_args

import attrs
from sqlalchemy import select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.commerce.records import EventName
from storeflow.core.emails import normalize_email
from storeflow.core.storage import paging
from storeflow.core.storage.locks import lock_subscriber, lock_subscribers
from storeflow.core.storage.tables import Event, Job
from storeflow.core.storage.upsert import insert_ignore, insert_ignore_rows
from storeflow.core.work import outbox

if TYPE_CHECKING:
    from storeflow.core.runtime import Runtime

log = logging.getLogger(__name__)

NAMES: tuple[EventName, ...] = get_args(EventName)


def is_name(value: object) -> TypeGuard[EventName]:
    """Whether ``value`` is one of the canonical event names."""
    return value in NAMES


class SubscriberRef(Protocol):
    """What an event records of its subscriber (a loaded row, or just its id and email)."""

    @property
    def id(self) -> int: ...

    @property
    def email(self) -> str: ...


def append(
    session: Session,
    *,
    company_id: int,
    name: EventName,
    key: str,
    occurred_at: datetime,
    subscriber: SubscriberRef | None,
    properties: dict[str, Any],
    provider: str | None = None,
    integration_id: str | None = None,
    live: bool = True,
) -> int | None:
    """Append the event unless its key was seen; return the new event's id."""
    event_id = insert_ignore(
        session,
        Event.__table__,
        {
            "company_id": company_id,
            "name": name,
            "idempotency_key": key,
            "subscriber_id": subscriber.id if subscriber else None,
            "email": subscriber.email if subscriber else None,
            "provider": provider,
            "integration_id": integration_id,
            "occurred_at": occurred_at,
            "properties": properties,
            "live": live,
            "created_at": clock.now(),
        },
        ["company_id", "idempotency_key"],
    )
    if event_id is not None and live and subscriber is not None:
        # Held until commit, so a step claiming a send for this subscriber either
        # commits first or waits and then sees this event (see storeflow.core.storage.locks).
        lock_subscriber(session, subscriber.id)
    if event_id is not None and live:
        collected = session.info.get(COLLECTED)
        if isinstance(collected, list):
            collected.append(event_id)  # the caller dispatches it in this transaction
        else:
            EVENT_JOBS.add(session, company_id, event_id)
    return event_id


@attrs.frozen
class NewEvent:
    """One event for :func:`append_many`."""

    name: EventName
    key: str
    occurred_at: datetime
    subscriber: SubscriberRef | None
    properties: dict[str, Any]


def append_many(
    session: Session,
    company_id: int,
    new: Sequence[NewEvent],
    *,
    provider: str | None = None,
    integration_id: str | None = None,
) -> dict[str, int]:
    """:func:`append` for many live events of one store at once (one INSERT, one lock
    statement); returns the ids of those appended now, by idempotency key."""
    if not new:
        return {}
    table = Event.__table__
    now = clock.now()
    rows = [
        {
            "company_id": company_id,
            "name": event.name,
            "idempotency_key": event.key,
            "subscriber_id": event.subscriber.id if event.subscriber else None,
            "email": event.subscriber.email if event.subscriber else None,
            "provider": provider,
            "integration_id": integration_id,
            "occurred_at": event.occurred_at,
            "properties": event.properties,
            "live": True,
            "created_at": now,
        }
        for event in new
    ]
    appended = {
        key: event_id
        for event_id, key in session.execute(
            insert_ignore_rows(session, table, rows, ["company_id", "idempotency_key"]).returning(
                table.c.id, table.c.idempotency_key
            )
        )
    }
    subscriber_ids = {e.subscriber.id for e in new if e.subscriber and e.key in appended}
    lock_subscribers(session, subscriber_ids)  # as append does, for each event's subscriber
    collected = session.info.get(COLLECTED)
    for event in new:
        event_id = appended.get(event.key)
        if event_id is None:
            continue
        if isinstance(collected, list):
            collected.append(event_id)
        else:
            EVENT_JOBS.add(session, company_id, event_id)
    return appended


COLLECTED = "storeflow.collected_events"


@contextmanager
def collecting(session: Session) -> Iterator[list[int]]:
    """Collect the live events appended in the block instead of queuing an event job for
    each; the caller hands them to :func:`dispatch` in the same transaction."""
    if isinstance(session.info.get(COLLECTED), list):
        raise RuntimeError("events are already being collected in this session")
    collected: list[int] = []
    session.info[COLLECTED] = collected
    try:
        yield collected
    finally:
        session.info.pop(COLLECTED, None)


def dispatch(rt: Runtime, session: Session, event_ids: Sequence[int]) -> None:
    """Append-then-run: hand each live event to every consumer, in this transaction.

    Each event runs in a savepoint; an event whose consumers fail is rolled back alone
    and handed to an ``event`` job, which retries it with backoff, so a rules problem
    never holds up the store data that was just applied.
    """
    if not event_ids:
        return
    loaded = {row.id: row for row in session.scalars(select(Event).where(Event.id.in_(event_ids)))}
    for event_id in event_ids:
        event = loaded.get(event_id)
        if event is None or not event.live:
            continue
        try:
            with session.begin_nested():
                for consumer in rt.event_consumers:
                    consumer.on_event(rt, session, event)
        except Exception:
            log.exception("consumers failed on event %s; it is queued to retry", event_id)
            EVENT_JOBS.add(session, event.company_id, event_id)


class EventJobs:
    """The ``event`` job kind: one job per live event, run by every event consumer."""

    name = "event"

    def add(self, session: Session, company_id: int, event_id: int) -> None:
        outbox.add(
            session, company_id=company_id, kind=self.name, key=f"event:{event_id}", ref_id=event_id
        )

    def run(self, rt: Runtime, session: Session, job: Job) -> None:
        event = session.get(Event, job.ref_id)
        if event is None or not event.live:
            return
        for consumer in rt.event_consumers:
            consumer.on_event(rt, session, event)


EVENT_JOBS = EventJobs()


def to_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "name": event.name,
        "occurredAt": event.occurred_at.isoformat(),
        "email": event.email,
        "provider": event.provider,
        "integrationId": event.integration_id,
        "live": event.live,
        "properties": event.properties,
    }


def recent(
    session: Session,
    company_id: int,
    *,
    name: str | None = None,
    email: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Event], int]:
    query = select(Event).where(Event.company_id == company_id)
    if name:
        query = query.where(Event.name == name)
    if email:
        query = query.where(Event.email == normalize_email(email))
    if since:
        query = query.where(Event.occurred_at >= since)
    return paging.page(
        session, query, Event.occurred_at.desc(), Event.id.desc(), limit=limit, offset=offset
    )


# --- admin pages: the dashboard's chart (issue 15) ------------------------------------------


def daily_counts(session: Session, company_id: int, since: datetime) -> dict[str, int]:
    """Events per UTC day (``YYYY-MM-DD``) from ``since`` on; days without any are absent."""
    from sqlalchemy import func

    day = func.date(Event.occurred_at)
    rows = session.execute(
        select(day, func.count())
        .where(Event.company_id == company_id, Event.occurred_at >= since)
        .group_by(day)
    )
    return {str(value)[:10]: int(count) for value, count in rows}
