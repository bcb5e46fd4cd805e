"""Stored sequences: save, delete, look up, and the compiled rules of a company.

A sequence row keeps its definition in the canonical wire form
(``schema.unstructure_sequence``), so ``GET /api/sequences/<id>`` returns what a rule
file says. Rows are never hard-deleted: enrollments and the send ledger point at them
and are history. Deleting one cancels its running enrollments and hides it; saving a
sequence with the same id later brings the row back with the new definition.

``company_rules`` compiles a company's sequences once and caches them per process,
keyed by a stamp (count, highest id, latest ``updated_at``) that any save or delete
changes, so a change made by the API is seen by every worker at its next event.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import attrs
from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from storeflow.core import clock
from storeflow.core.statuses import SequenceStatus
from storeflow.core.storage import memo
from storeflow.core.storage.tables import Sequence
from storeflow.rules import compiler, program, schema
from storeflow.rules.index import RuleIndex

log = logging.getLogger(__name__)


@attrs.frozen
class Loaded:
    """One stored sequence, compiled."""

    row_id: int
    slug: str
    status: SequenceStatus
    priority: int
    compiled: compiler.CompiledSequence
    program: program.Program


@attrs.frozen
class CompanyRules:
    by_row: dict[int, Loaded]
    index: RuleIndex
    by_compiled: dict[int, Loaded]

    def matching(
        self, event_name: str, properties: dict[str, Any], subscriber: dict[str, Any]
    ) -> list[Loaded]:
        """Active sequences the event enrols into, by priority (highest first)."""
        return [
            self.by_compiled[id(compiled)]
            for compiled, _ in self.index.match(event_name, properties, subscriber)
        ]


_CACHE: dict[tuple[str, int], tuple[tuple[Any, ...], CompanyRules]] = {}
_CACHE_LOCK = threading.Lock()


def load(row: Sequence) -> Loaded:
    seq = schema.structure_sequence(row.definition)
    return Loaded(
        row.id,
        row.slug,
        row.status,
        row.priority,
        compiler.compile_sequence(seq),
        program.build(seq.steps),
    )


# Within one transaction the stamp is read once per company: a worker's batch matches
# many events of the same company, and a save or delete in the transaction forgets it.
_MEMO = "rules.company_rules"


def company_rules(session: Session, company_id: int) -> CompanyRules:
    """Every non-deleted sequence of the company, compiled; active ones indexed."""
    return memo.per_transaction(
        session, (_MEMO, company_id), lambda: _company_rules(session, company_id)
    )


def forget(session: Session | None) -> None:
    """Drop the transaction's memo: a sequence of the session changed."""
    if session is not None:
        memo.forget(session, _MEMO)


def _company_rules(session: Session, company_id: int) -> CompanyRules:
    stamp = tuple(
        session.execute(
            select(
                func.count(Sequence.id), func.max(Sequence.id), func.max(Sequence.updated_at)
            ).where(Sequence.company_id == company_id)
        ).one()
    )
    key = (str(session.get_bind().engine.url), company_id)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    rows = session.scalars(
        select(Sequence).where(Sequence.company_id == company_id, Sequence.deleted_at.is_(None))
    )
    loaded = {}
    for row in rows:
        try:
            loaded[row.id] = load(row)
        except schema.SchemaError as error:
            # Stored before a stricter schema: skipped (its runs are cancelled at their
            # next step) rather than failing every event of the company.
            log.warning("sequence %s (%s) no longer validates: %s", row.id, row.slug, error)
    rules = CompanyRules(
        by_row=loaded,
        index=RuleIndex(item.compiled for item in loaded.values()),
        by_compiled={id(item.compiled): item for item in loaded.values()},
    )
    with _CACHE_LOCK:
        _CACHE[key] = (stamp, rules)
    return rules


def save(
    session: Session, company_id: int, seq: schema.Sequence, source: str = "api"
) -> tuple[Sequence, SequenceStatus | None]:
    """Create or replace a sequence; returns the row and its status before (None if new)."""
    row = session.scalar(
        select(Sequence).where(Sequence.company_id == company_id, Sequence.slug == seq.id)
    )
    previous = None if row is None or row.deleted_at is not None else row.status
    if row is None:
        row = Sequence(company_id=company_id, slug=seq.id, created_at=clock.now())
        session.add(row)
    row.name = seq.name
    row.status = seq.status
    row.priority = seq.priority
    row.trigger_event = seq.trigger.event
    row.definition = schema.unstructure_sequence(seq)
    row.source = source
    row.deleted_at = None
    row.updated_at = clock.now()
    forget(session)
    session.flush()
    return row, previous


def mark_deleted(row: Sequence) -> None:
    row.deleted_at = clock.now()
    row.status = "draft"  # nothing matches it any more, whatever the cache holds
    row.updated_at = clock.now()
    forget(object_session(row))


def get(session: Session, company_id: int, slug: str) -> Sequence | None:
    return session.scalar(
        select(Sequence).where(
            Sequence.company_id == company_id,
            Sequence.slug == slug,
            Sequence.deleted_at.is_(None),
        )
    )


def listing(session: Session, company_id: int) -> list[Sequence]:
    return list(
        session.scalars(
            select(Sequence)
            .where(Sequence.company_id == company_id, Sequence.deleted_at.is_(None))
            .order_by(Sequence.priority.desc(), Sequence.slug)
        )
    )


def id_arg(session: Session, company_id: int, value: str) -> int:
    """A sequence's row id from a query string: its slug (or numeric row id); -1 if none."""
    query = select(Sequence.id).where(Sequence.company_id == company_id)
    query = query.where(Sequence.slug == value)
    found = session.scalar(query)
    # Only an ASCII digit string within a BIGINT can be a row id ("²" is a digit too).
    if found is None and value.isascii() and value.isdigit() and len(value) <= 18:
        found = session.scalar(
            select(Sequence.id).where(Sequence.company_id == company_id, Sequence.id == int(value))
        )
    return found if found is not None else -1


def slugs(session: Session, row_ids: set[int]) -> dict[int, str]:
    if not row_ids:
        return {}
    rows = session.execute(select(Sequence.id, Sequence.slug).where(Sequence.id.in_(row_ids)))
    return {row_id: slug for row_id, slug in rows}
