"""Checks behind ``/readyz``: does the database answer, and is its schema at the head?

Each raises with the reason when the answer is no; the web layer turns that into 503.
"""

from __future__ import annotations

import functools

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from storeflow.core.storage import migrate


class SchemaBehind(RuntimeError):
    pass


def database(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def schema_revision(engine: Engine, url: str) -> str:
    """The database's revision, when it is the head this code expects."""
    head = code_heads(url)
    with engine.connect() as conn:
        current = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    if current != head:
        shown = ", ".join(current) or "none"
        raise SchemaBehind(
            f"database at {shown}, code expects {', '.join(head)}: run `storeflow db upgrade`"
        )
    return ", ".join(current)


@functools.cache
def code_heads(url: str) -> tuple[str, ...]:
    # The scripts on disk do not change while the process runs: parse them once.
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    return tuple(sorted(script.get_heads()))
