"""What the operator CLI reads and changes: listings, revocation, parked jobs, replay sets.

Nothing here runs in a request or a worker; ``storeflow.web.commands`` calls it, each
command in its own unit of work. Functions take a session and never commit.
Revocation keeps data: a revoked company, user, key or integration loses access, and
what it sent or caused stays for history.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import attrs
from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.orm import Session

from storeflow.core import accounts, clock
from storeflow.core.errors import Conflict, NotFound
from storeflow.core.statuses import DeliveryStatus, JobStatus
from storeflow.core.storage.db import rows_changed
from storeflow.core.storage.tables import (
    ApiKey,
    Company,
    InboundDelivery,
    Integration,
    Job,
    Membership,
    User,
)
from storeflow.core.stores import connections
from storeflow.core.work import outbox

# --- companies and people ---------------------------------------------------------------

# ``accounts.create_api_key`` stores the key's first 12 characters to show and find it.
PREFIX_LENGTH = 12


@attrs.frozen
class CompanyRow:
    company: Company
    users: int
    api_keys: int  # active ones
    integrations: int  # connected ones


def companies(session: Session) -> list[CompanyRow]:
    found = list(session.scalars(select(Company).order_by(Company.id)))
    users = _counts(
        session, select(Membership.company_id, func.count()).group_by(Membership.company_id)
    )
    keys = _counts(
        session,
        select(ApiKey.company_id, func.count())
        .where(ApiKey.revoked_at.is_(None))
        .group_by(ApiKey.company_id),
    )
    stores = _counts(
        session,
        select(Integration.company_id, func.count())
        .where(Integration.status == "connected")
        .group_by(Integration.company_id),
    )
    return [
        CompanyRow(c, users.get(c.id, 0), keys.get(c.id, 0), stores.get(c.id, 0)) for c in found
    ]


def _counts(session: Session, query: Select[int, int]) -> dict[int, int]:
    return {int(key): int(count) for key, count in session.execute(query)}


@attrs.frozen
class Revoked:
    api_keys: int
    integrations: int
    memberships: int


def revoke_company(session: Session, company: Company) -> Revoked:
    """Cut a company off: its keys revoked, its stores disconnected, its people removed.
    Its data stays (a new key and a reconnect bring it back)."""
    keys = rows_changed(
        session,
        update(ApiKey)
        .where(ApiKey.company_id == company.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=clock.now())
        .execution_options(synchronize_session=False),
    )
    stores = list(
        session.scalars(
            select(Integration).where(
                Integration.company_id == company.id, Integration.status != "disconnected"
            )
        )
    )
    for integration in stores:
        connections.disconnect(session, integration, by="operator", reason="company revoked")
    people = list(session.scalars(select(Membership).where(Membership.company_id == company.id)))
    for membership in people:
        _end_sessions(session, membership.user_id)
        session.delete(membership)
    session.flush()
    return Revoked(keys, len(stores), len(people))


@attrs.frozen
class UserRow:
    user: User
    roles: tuple[tuple[str, str], ...]  # (company slug, role)


def users(session: Session, company_id: int | None = None) -> list[UserRow]:
    query = (
        select(User, Company.slug, Membership.role)
        .outerjoin(Membership, Membership.user_id == User.id)
        .outerjoin(Company, Company.id == Membership.company_id)
        .order_by(User.email, Company.slug)
    )
    if company_id is not None:
        query = query.where(Membership.company_id == company_id)
    rows: dict[int, tuple[User, list[tuple[str, str]]]] = {}
    for user, slug, role in session.execute(query):
        entry = rows.setdefault(user.id, (user, []))
        if slug is not None:
            entry[1].append((slug, role))
    return [UserRow(user, tuple(roles)) for user, roles in rows.values()]


def revoke_user(session: Session, user: User, company_id: int | None = None) -> int:
    """Remove the user from one company (or all), ending every page session they have.
    Returns the memberships removed."""
    query = delete(Membership).where(Membership.user_id == user.id)
    if company_id is not None:
        query = query.where(Membership.company_id == company_id)
    removed = rows_changed(session, query.execution_options(synchronize_session=False))
    _end_sessions(session, user.id)
    return removed


def _end_sessions(session: Session, user_id: int) -> None:
    # The page sessions carry the user's session version; bumping it ends them all.
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(session_version=User.session_version + 1)
        .execution_options(synchronize_session=False)
    )


def api_keys(session: Session, company_id: int | None = None) -> list[tuple[ApiKey, str]]:
    """Keys with their company's slug, newest first."""
    query = select(ApiKey, Company.slug).join(Company, Company.id == ApiKey.company_id)
    if company_id is not None:
        query = query.where(ApiKey.company_id == company_id)
    return [(key, slug) for key, slug in session.execute(query.order_by(ApiKey.id.desc()))]


def revoke_api_key(session: Session, id_or_prefix: str) -> ApiKey:
    """Revoke one key by its id, by the prefix ``api-keys list`` shows (or the start of
    it), or by the whole key."""
    if id_or_prefix.isdigit():
        matches = list(session.scalars(select(ApiKey).where(ApiKey.id == int(id_or_prefix))))
    else:
        start = id_or_prefix[:PREFIX_LENGTH]
        query = select(ApiKey).where(ApiKey.prefix.startswith(start, autoescape=True))
        matches = list(session.scalars(query))
        if len(id_or_prefix) > PREFIX_LENGTH:  # the whole key: its hash says which
            digest = accounts.hash_token(id_or_prefix)
            matches = [key for key in matches if key.key_hash == digest]
    if not matches:
        raise NotFound(f"no API key {id_or_prefix!r}", code="api_key_not_found")
    if len(matches) > 1:
        ids = ", ".join(str(key.id) for key in matches)
        raise Conflict(f"{id_or_prefix!r} matches keys {ids}: give the id", code="ambiguous_key")
    key = matches[0]
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        session.flush()
    return key


def revoke_integration(session: Session, integration_id: str) -> Integration:
    integration = session.get(Integration, integration_id)
    if integration is None:
        raise NotFound(f"no integration {integration_id!r}", code="integration_not_found")
    connections.disconnect(session, integration, by="operator", reason="revoked from the CLI")
    return integration


# --- jobs -------------------------------------------------------------------------------


def jobs(
    session: Session,
    *,
    status: JobStatus | None = None,
    kind: str | None = None,
    company_id: int | None = None,
    limit: int = 50,
) -> list[Job]:
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if status is not None:
        query = query.where(Job.status == status)
    if kind is not None:
        query = query.where(Job.kind == kind)
    if company_id is not None:
        query = query.where(Job.company_id == company_id)
    return list(session.scalars(query))


def dead_job_ids(
    session: Session, *, kind: str | None = None, company_id: int | None = None
) -> list[int]:
    query = select(Job.id).where(Job.status == "dead").order_by(Job.id)
    if kind is not None:
        query = query.where(Job.kind == kind)
    if company_id is not None:
        query = query.where(Job.company_id == company_id)
    return list(session.scalars(query))


def _only_dead(session: Session, job_ids: Collection[int]) -> list[int]:
    rows = dict(
        session.execute(select(Job.id, Job.status).where(Job.id.in_(sorted(job_ids)))).all()
    )
    missing = sorted(set(job_ids) - set(rows))
    if missing:
        raise NotFound(f"no job {', '.join(map(str, missing))}", code="job_not_found")
    alive = sorted(job_id for job_id, status in rows.items() if status != "dead")
    if alive:
        raise Conflict(
            f"job {', '.join(map(str, alive))} is not dead (only dead jobs are retried or "
            "discarded; others are still the worker's)",
            code="job_not_dead",
        )
    return sorted(rows)


def retry(session: Session, job_ids: Sequence[int]) -> list[int]:
    """Put dead jobs back to pending with a fresh count of attempts; they are woken
    after commit like new ones. Their last error stays until the next attempt."""
    ids = _only_dead(session, job_ids)
    if not ids:
        return []
    now = clock.now()
    session.execute(
        update(Job)
        .where(Job.id.in_(ids), Job.status == "dead")
        .values(status="pending", attempts=0, available_at=now, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    session.info.setdefault(outbox.NEW_JOBS, []).extend((job_id, now) for job_id in ids)
    return ids


def discard(session: Session, job_ids: Sequence[int]) -> list[int]:
    """Delete dead jobs (after their cause was dealt with some other way)."""
    ids = _only_dead(session, job_ids)
    if ids:
        session.execute(
            delete(Job)
            .where(Job.id.in_(ids), Job.status == "dead")
            .execution_options(synchronize_session=False)
        )
    return ids


# --- deliveries -------------------------------------------------------------------------


def delivery_ids(
    session: Session,
    *,
    status: DeliveryStatus | None,
    since: datetime | None = None,
    company_id: int | None = None,
    integration_id: str | None = None,
    limit: int | None = None,
) -> list[int]:
    """Stored deliveries to replay, oldest first (the order the store sent them)."""
    query = select(InboundDelivery.id).order_by(InboundDelivery.id)
    if status is not None:
        query = query.where(InboundDelivery.status == status)
    if since is not None:
        query = query.where(InboundDelivery.received_at >= since)
    if company_id is not None:
        query = query.where(InboundDelivery.company_id == company_id)
    if integration_id is not None:
        query = query.where(InboundDelivery.integration_id == integration_id)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))
