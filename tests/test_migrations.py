"""Models and migrations never drift (``alembic check``), on SQLite and PostgreSQL."""

from __future__ import annotations

from storeflow.core.storage import migrate


def test_models_match_migrations(database_url):
    migrate.check(database_url)


def test_upgrade_is_idempotent(database_url):
    migrate.upgrade(database_url)  # already at head: a no-op, not an error
    migrate.check(database_url)
