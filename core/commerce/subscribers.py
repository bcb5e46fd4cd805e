"""Subscribers: one per company and email (trimmed, case-insensitive), and store accounts.

A subscriber is the person, company-wide: a guest buyer, a registered customer of
one store and a customer of another store with the same email are one subscriber.
A store's own customer account (``store_customers``) points at the subscriber of
its email.

Names: a registered customer's account names are authoritative (the freshest
customer record sets them); names from an order's billing address only fill in a
profile that has none, so that a one-off gift order cannot rename anyone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import attrs
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.commerce import freshness, records
from storeflow.core.commerce.freshness import Outcome
from storeflow.core.emails import normalize_email
from storeflow.core.errors import NotFound
from storeflow.core.storage.tables import StoreCustomer, Subscriber
from storeflow.core.storage.upsert import insert_ignore, insert_ignore_many
from storeflow.core.stores.provider import StoreContext


def upsert(
    session: Session, company_id: int, email: str, first_name: str = "", last_name: str = ""
) -> Subscriber:
    """Find or create the subscriber; fill in names only where the profile has none."""
    email = normalize_email(email)
    insert_ignore(
        session, Subscriber.__table__, _new_row(company_id, email, first_name, last_name), None
    )
    subscriber = session.scalars(
        select(Subscriber).where(Subscriber.company_id == company_id, Subscriber.email == email)
    ).one()
    if first_name and not subscriber.first_name:
        subscriber.first_name = first_name
    if last_name and not subscriber.last_name:
        subscriber.last_name = last_name
    return subscriber


def _new_row(company_id: int, email: str, first_name: str, last_name: str) -> dict[str, object]:
    when = clock.now()
    return {
        "company_id": company_id,
        "email": email,
        "first_name": first_name or "",
        "last_name": last_name or "",
        "status": "active",
        "tags": [],
        "attributes": {},
        "created_at": when,
        "updated_at": when,
    }


def ensure_many(
    session: Session, company_id: int, people: Iterable[tuple[str, str, str]]
) -> dict[str, int]:
    """Subscriber ids by email for ``(email, first_name, last_name)`` triples, in bulk.

    Missing subscribers are created with the first names given for their email;
    existing ones without names get them filled in (never overwritten).
    """
    wanted: dict[str, tuple[str, str]] = {}
    for email, first, last in people:
        key = normalize_email(email)
        known_first, known_last = wanted.get(key, ("", ""))
        wanted[key] = (known_first or first or "", known_last or last or "")
    if not wanted:
        return {}
    found: dict[str, int] = {}
    fills: list[dict[str, object]] = []

    def read(emails: list[str]) -> None:
        for chunk in _chunks(emails, 500):
            rows = session.execute(
                select(
                    Subscriber.id, Subscriber.email, Subscriber.first_name, Subscriber.last_name
                ).where(Subscriber.company_id == company_id, Subscriber.email.in_(chunk))
            )
            for sid, email, first, last in rows:
                found[email] = sid
                new_first, new_last = wanted[email]
                if (new_first and not first) or (new_last and not last):
                    fills.append(
                        {
                            "sid": sid,
                            "f": first or new_first,
                            "l": last or new_last,
                            "now": clock.now(),
                        }
                    )

    # Most buyers of a big order history exist already: look first, insert the rest.
    read(list(wanted))
    missing = [email for email in wanted if email not in found]
    if missing:
        insert_ignore_many(
            session,
            Subscriber.__table__,
            [_new_row(company_id, email, *wanted[email]) for email in missing],
            ["company_id", "email"],
        )
        read(missing)  # a concurrent writer may have won: its row gets our names filled in
    if fills:
        _update_names(session, fills)
    return found


def set_account_names(session: Session, names: dict[int, tuple[str, str]]) -> None:
    """Overwrite names from customer accounts (non-empty parts only)."""
    if not names:
        return
    rows = session.execute(
        select(Subscriber.id, Subscriber.first_name, Subscriber.last_name).where(
            Subscriber.id.in_(list(names))
        )
    )
    changes = []
    for sid, first, last in rows:
        new_first, new_last = names[sid]
        target = (new_first or first, new_last or last)
        if target != (first, last):
            changes.append({"sid": sid, "f": target[0], "l": target[1], "now": clock.now()})
    if changes:
        _update_names(session, changes)


def _update_names(session: Session, changes: list[dict[str, object]]) -> None:
    from sqlalchemy import bindparam

    table = Subscriber.__table__
    session.execute(
        update(table)
        .where(table.c.id == bindparam("sid"))
        .values(first_name=bindparam("f"), last_name=bindparam("l"), updated_at=bindparam("now")),
        changes,
        execution_options={"synchronize_session": False},
    )
    # Objects already loaded in this session must not keep the old names.
    for change in changes:
        loaded = session.identity_map.get((Subscriber, (change["sid"],), None))
        if loaded is not None:
            session.expire(loaded, ["first_name", "last_name", "updated_at"])


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def get(session: Session, subscriber_id: int, *, reload: bool = False) -> Subscriber:
    """The subscriber; with ``reload``, read again even if the session holds it already."""
    return session.get_one(Subscriber, subscriber_id, populate_existing=reload)


def get_by_email(session: Session, company_id: int, email: str) -> Subscriber:
    subscriber = session.scalar(
        select(Subscriber).where(
            Subscriber.company_id == company_id, Subscriber.email == normalize_email(email)
        )
    )
    if subscriber is None:
        raise NotFound("no subscriber with that email", code="subscriber_not_found")
    return subscriber


# --- store customer accounts --------------------------------------------------------------


def upsert_customers(
    session: Session, store: StoreContext, recs: Sequence[records.Customer]
) -> list[Outcome]:
    """Registered customers of one store, with stale-update protection per account.

    A customer whose email changed moves to the subscriber of the new email (its
    past orders stay with the email they were placed with).
    """
    keyed = [r for r in recs if r.provider_customer_id]
    ids = list({r.provider_customer_id or "" for r in keyed})
    current: dict[str, _Account] = {}
    for chunk in _chunks(ids, 500):
        for row in session.execute(
            select(
                StoreCustomer.id,
                StoreCustomer.provider_customer_id,
                StoreCustomer.source_modified_at,
                StoreCustomer.source_hash,
            ).where(
                StoreCustomer.integration_id == store.integration_id,
                StoreCustomer.provider_customer_id.in_(chunk),
            )
        ):
            current[row.provider_customer_id] = _Account(
                row.id, row.source_modified_at, row.source_hash
            )
    subscriber_ids = ensure_many(
        session, store.company_id, ((r.email, r.first_name, r.last_name) for r in recs)
    )
    outcomes: list[Outcome] = []
    winners: dict[str, tuple[records.Customer, str]] = {}
    for rec in recs:
        if not rec.provider_customer_id:
            outcomes.append("upserted")  # a guest: the subscriber is all there is
            continue
        digest = freshness.fingerprint(rec)
        state = current.get(rec.provider_customer_id, _Account(None))
        verdict = freshness.compare(state.at, state.hash, _customer_time(rec), digest)
        if verdict != "newer":
            outcomes.append(verdict)
            continue
        current[rec.provider_customer_id] = _Account(state.id, _customer_time(rec), digest)
        winners[rec.provider_customer_id] = (rec, digest)
        outcomes.append("upserted")
    _write_customers(session, store, winners, current, subscriber_ids)
    set_account_names(
        session,
        {
            subscriber_ids[normalize_email(rec.email)]: (rec.first_name, rec.last_name)
            for rec, _ in winners.values()
        },
    )
    return outcomes


@attrs.frozen
class _Account:
    """The stored version of one store account (``id`` None: not stored yet)."""

    id: int | None
    at: datetime | None = None
    hash: str | None = None


def _customer_time(rec: records.Customer) -> datetime | None:
    # A never-modified customer has date_modified_gmt null: its creation time is its version.
    return rec.modified_at or rec.created_at


def _write_customers(
    session: Session,
    store: StoreContext,
    winners: dict[str, tuple[records.Customer, str]],
    current: dict[str, _Account],
    subscriber_ids: dict[str, int],
) -> None:
    from sqlalchemy import bindparam

    inserts, updates = [], []
    for pid, (rec, digest) in winners.items():
        email = normalize_email(rec.email)
        values = {
            "subscriber_id": subscriber_ids[email],
            "email": email,
            "deleted": False,
            "source_modified_at": _customer_time(rec),
            "source_hash": digest,
        }
        if current[pid].id is None:
            inserts.append(
                {
                    "company_id": store.company_id,
                    "integration_id": store.integration_id,
                    "provider_customer_id": pid,
                    **values,
                }
            )
        else:
            updates.append({"row_id": current[pid].id, **values})
    table = StoreCustomer.__table__
    if inserts:
        session.execute(table.insert(), inserts)
    if updates:
        session.execute(
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({name: bindparam(name) for name in updates[0] if name != "row_id"}),
            updates,
            execution_options={"synchronize_session": False},
        )


def link_order_buyers(
    session: Session, store: StoreContext, buyers: dict[str, tuple[int, str]]
) -> None:
    """Make sure registered buyers of orders have a store account row.

    ``buyers`` maps provider customer id -> (subscriber id, email). Existing rows are
    left alone: the customer record itself (not an order) says who the account is.
    """
    if not buyers:
        return
    known: set[str] = set()
    ids = list(buyers)
    for chunk in _chunks(ids, 500):
        known.update(
            session.scalars(
                select(StoreCustomer.provider_customer_id).where(
                    StoreCustomer.integration_id == store.integration_id,
                    StoreCustomer.provider_customer_id.in_(chunk),
                )
            )
        )
    insert_ignore_many(
        session,
        StoreCustomer.__table__,
        [
            {
                "company_id": store.company_id,
                "integration_id": store.integration_id,
                "provider_customer_id": pid,
                "subscriber_id": sid,
                "email": email,
                "deleted": False,
                "source_modified_at": None,
                "source_hash": None,
            }
            for pid, (sid, email) in buyers.items()
            if pid not in known
        ],
        ["integration_id", "provider_customer_id"],
    )


def mark_customer_deleted(session: Session, store: StoreContext, provider_customer_id: str) -> None:
    """A deleted WordPress user: the account is gone, the subscriber (and consent) stays."""
    session.execute(
        update(StoreCustomer)
        .where(
            StoreCustomer.integration_id == store.integration_id,
            StoreCustomer.provider_customer_id == provider_customer_id,
        )
        .values(deleted=True)
        .execution_options(synchronize_session=False)
    )


# --- admin pages: search (issue 15) ---------------------------------------------------------


def _like(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(
    session: Session, company_id: int, term: str | None, *, limit: int, offset: int
) -> tuple[list[Subscriber], int]:
    """A page of the company's subscribers by email; ``term`` matches email or names."""
    from sqlalchemy import func, or_

    from storeflow.core.storage import paging

    query = select(Subscriber).where(Subscriber.company_id == company_id)
    if term and term.strip():
        pattern = _like(term.strip())
        query = query.where(
            or_(
                Subscriber.email.like(pattern, escape="\\"),
                func.lower(Subscriber.first_name).like(pattern, escape="\\"),
                func.lower(Subscriber.last_name).like(pattern, escape="\\"),
            )
        )
    return paging.page(session, query, Subscriber.email, limit=limit, offset=offset)


def of_company(session: Session, company_id: int, subscriber_id: int) -> Subscriber:
    """The subscriber, or NotFound when there is none in this company."""
    found = session.get(Subscriber, subscriber_id)
    if found is None or found.company_id != company_id:
        raise NotFound("no such subscriber", code="subscriber_not_found")
    return found
