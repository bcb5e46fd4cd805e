"""INSERT ... ON CONFLICT DO NOTHING for SQLite and PostgreSQL alike.

Uniqueness in the database, not "check then insert", is what makes concurrent
re-deliveries harmless: the second writer's insert simply does nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert

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
