"""``storeflow companies``, ``users`` and ``api-keys``: tenants, people who sign in, admin keys.

Secrets are printed once and stored hashed.
"""

from __future__ import annotations

import sys

import click

from storeflow.core import accounts
from storeflow.web.commands import _runtime


@click.group()
def companies() -> None:
    """Companies (tenants)."""


@companies.command("create")
@click.argument("slug")
@click.option("--name", required=True)
def companies_create(slug: str, name: str) -> None:
    with _runtime().unit_of_work() as session:
        company = accounts.create_company(session, slug, name)
        click.echo(f"company {company.slug} created (id {company.id})")


@click.group()
def users() -> None:
    """Users who sign in to the pages."""


@users.command("create")
@click.argument("email")
@click.option("--company", "company_slug", required=True)
@click.option("--role", type=click.Choice(accounts.ROLES), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(email: str, company_slug: str, role: str, password_stdin: bool) -> None:
    if not password_stdin:
        raise click.UsageError("pass --password-stdin and send the password on standard input")
    password = sys.stdin.readline().rstrip("\r\n")
    with _runtime().unit_of_work() as session:
        company = accounts.company_by_slug(session, company_slug)
        user = accounts.create_user(session, email, password)
        accounts.add_member(session, user, company, role)
        click.echo(f"user {user.email} is {role} of {company.slug}")


@click.group("api-keys")
def api_keys() -> None:
    """Admin API keys."""


@api_keys.command("create")
@click.option("--company", "company_slug", required=True)
def api_keys_create(company_slug: str) -> None:
    """Print a new admin API key alone on the last line (stored hashed)."""
    with _runtime().unit_of_work() as session:
        company = accounts.company_by_slug(session, company_slug)
        token = accounts.create_api_key(session, company)
    click.echo(f"API key for {company_slug} (shown once):")
    click.echo(token)
