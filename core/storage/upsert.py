"""INSERT ... ON CONFLICT DO NOTHING for SQLite and PostgreSQL alike.

Uniqueness in the database, not "check then insert", is what makes concurrent
re-deliveries harmless: the second writer's insert simply does nothing.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

_M = TypeVar("_M")

_STATEMENTS: dict[tuple[str, str, tuple[str, ...] | None], ReturningInsert[Any]] = {}


def _statement(dialect: str, table: Table, conflict: list[str] | None) -> ReturningInsert[Any]:
    """One compiled-once statement per table and conflict target (the request hot path)."""
    key = (dialect, table.name, tuple(conflict) if conflict else None)
    stmt = _STATEMENTS.get(key)
    if stmt is None:
        module = postgresql if dialect == "postgresql" else sqlite
        stmt = module.insert(table)
        stmt = (
            stmt.on_conflict_do_nothing(index_elements=conflict)
            if conflict
            else stmt.on_conflict_do_nothing()
        )
        stmt = _STATEMENTS[key] = stmt.returning(table.c.id)
    return stmt


def insert_ignore(
    session: Session, table: Table, values: dict[str, Any], conflict: list[str] | None
) -> int | None:
    """Insert a row; return its id, or ``None`` when a row with the same key exists.

    ``conflict`` names the unique columns to watch; ``None`` means any unique constraint.
    """
    stmt = _statement(session.get_bind().dialect.name, table, conflict)
    return session.execute(stmt, values).scalar_one_or_none()


def insert_ignore_many(
    session: Session, table: Table, rows: list[dict[str, Any]], conflict: list[str]
) -> None:
    """Bulk :func:`insert_ignore` (one executemany; ids are not returned)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    session.execute(module.insert(table).on_conflict_do_nothing(index_elements=conflict), rows)


_UPSERTS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], Any] = {}


def upsert(
    session: Session, table: Table, values: dict[str, Any], conflict: list[str], update: list[str]
) -> None:
    """Insert a row, or set ``update`` columns of the row with the same ``conflict`` key.

    One statement instead of SELECT, then INSERT or UPDATE: no read round trip, and no
    window between the read and the write for another writer to slip into.
    """
    dialect = session.get_bind().dialect.name
    key = (dialect, table.name, tuple(conflict), tuple(update))
    stmt = _UPSERTS.get(key)
    if stmt is None:
        module = postgresql if dialect == "postgresql" else sqlite
        insert = module.insert(table)
        stmt = _UPSERTS[key] = insert.on_conflict_do_update(
            index_elements=conflict, set_={name: insert.excluded[name] for name in update}
        )
    session.execute(stmt, values)


def insert_ignore_returning(session: Session, model: type[_M], values: dict[str, Any]) -> _M | None:
    """Insert a row of ``model`` and return it as an object of the session, or ``None``
    when it conflicts with any unique key: one statement, not an insert and a read."""
    dialect = session.get_bind().dialect.name
    key = (dialect, model)
    stmt = _RETURNING.get(key)
    if stmt is None:
        module = postgresql if dialect == "postgresql" else sqlite
        stmt = _RETURNING[key] = module.insert(model).on_conflict_do_nothing().returning(model)
    # Parameters passed apart from the statement: built once, compiled once.
    return session.scalars(stmt, [values]).one_or_none()


_RETURNING: dict[tuple[str, type[Any]], Any] = {}


def insert_ignore_rows(
    session: Session, table: Table, rows: list[dict[str, Any]], conflict: list[str]
) -> Any:
    """One multi-row ``INSERT ... ON CONFLICT DO NOTHING`` (a statement to execute, so
    that the caller can add ``RETURNING``; rows that conflicted return nothing)."""
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(table).values(rows).on_conflict_do_nothing(index_elements=conflict)
