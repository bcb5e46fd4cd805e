"""``storeflow db``: create, migrate and check the database schema."""

from __future__ import annotations

import click

from storeflow.core import config
from storeflow.core.storage import migrate
from storeflow.web.commands import _prepare


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the latest schema (and generate the session key)."""
    settings = _prepare(config.load())
    migrate.upgrade(settings.database_url)
    click.echo(f"database at head: {migrate.display_url(settings.database_url)}")


@db.command("check")
def db_check() -> None:
    """Fail if the models and the migrations have drifted apart."""
    migrate.check(config.load().database_url)
    click.echo("models and migrations agree")
