"""Row locks that serialise every decision about one subscriber.

The rules engine decides "stop or send" in the transaction that claims a send, and
an incoming event may make that decision wrong a millisecond later. On PostgreSQL
(READ COMMITTED) two such transactions would not see each other, so each of them
first locks the subscriber's row: the transaction that appends a live event for a
subscriber, the event job that stops enrollments, the step job that claims a send
and the unsubscribe endpoint. Whichever locks first commits first; the other waits
and then reads what it committed (a new statement sees the latest commits).

SQLite needs nothing here: every write transaction starts with ``BEGIN IMMEDIATE``
(``storeflow.core.storage.db``), so writers are already serialised for the whole database.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from storeflow.core.storage.tables import Subscriber


def lock_subscriber(session: Session, subscriber_id: int) -> None:
    """Hold the subscriber's row until the transaction ends (PostgreSQL; no-op on SQLite)."""
    if session.get_bind().dialect.name == "sqlite":
        return
    session.execute(select(Subscriber.id).where(Subscriber.id == subscriber_id).with_for_update())


def lock_subscribers(session: Session, subscriber_ids: Iterable[int]) -> None:
    """:func:`lock_subscriber` for many, in one statement, in id order (so that two
    transactions locking overlapping sets never wait on each other in a cycle)."""
    wanted = sorted(set(subscriber_ids))
    if not wanted or session.get_bind().dialect.name == "sqlite":
        return
    session.execute(
        select(Subscriber.id)
        .where(Subscriber.id.in_(wanted))
        .order_by(Subscriber.id)
        .with_for_update()
    )


def locked_subscriber(session: Session, subscriber_id: int) -> Subscriber:
    """Lock the subscriber (as :func:`lock_subscriber`) and read it fresh, in one statement."""
    lock = session.get_bind().dialect.name != "sqlite"
    return session.get_one(Subscriber, subscriber_id, populate_existing=True, with_for_update=lock)
