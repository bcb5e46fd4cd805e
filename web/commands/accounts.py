"""``storeflow companies``, ``users`` and ``api-keys``: tenants, people who sign in, admin keys.

Secrets are printed once and stored hashed.
"""

from __future__ import annotations

import json
import sys
from typing import Any

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


# --- operations: list and revoke --------------------------------------------------------


@companies.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def companies_list(as_json: bool) -> None:
    """Every company: id, slug, name, members, active API keys, connected stores."""
    from storeflow.core import operator

    with _runtime().reading() as session:
        rows = operator.companies(session)
        found: list[dict[str, Any]] = [
            {
                "id": row.company.id,
                "slug": row.company.slug,
                "name": row.company.name,
                "users": row.users,
                "apiKeys": row.api_keys,
                "integrations": row.integrations,
                "createdAt": row.company.created_at.isoformat(),
            }
            for row in rows
        ]
    if as_json:
        click.echo(json.dumps(found))
        return
    click.echo("id\tslug\tname\tusers\tapiKeys\tintegrations")
    for item in found:
        click.echo(
            f"{item['id']}\t{item['slug']}\t{item['name']}\t{item['users']}\t"
            f"{item['apiKeys']}\t{item['integrations']}"
        )


@companies.command("revoke")
@click.argument("slug")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def companies_revoke(slug: str, yes: bool) -> None:
    """Cut a company off: revoke its API keys, disconnect its stores, remove its people.

    Its data stays; a new API key and reconnected stores bring it back.
    """
    from storeflow.core import operator

    if not yes:
        click.confirm(f"revoke every key, store and member of {slug}?", abort=True)
    with _runtime().unit_of_work() as session:
        company = accounts.company_by_slug(session, slug)
        done = operator.revoke_company(session, company)
    click.echo(
        f"company {slug} revoked: {done.api_keys} API key(s), "
        f"{done.integrations} integration(s) disconnected, {done.memberships} member(s) removed"
    )


@users.command("list")
@click.option("--company", "company_slug", default=None, help="Only members of this company.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def users_list(company_slug: str | None, as_json: bool) -> None:
    """Users with their companies and roles."""
    from storeflow.core import operator

    with _runtime().reading() as session:
        company_id = accounts.company_by_slug(session, company_slug).id if company_slug else None
        found: list[dict[str, Any]] = [
            {
                "id": row.user.id,
                "email": row.user.email,
                "roles": [{"company": slug, "role": role} for slug, role in row.roles],
                "createdAt": row.user.created_at.isoformat(),
            }
            for row in operator.users(session, company_id)
        ]
    if as_json:
        click.echo(json.dumps(found))
        return
    click.echo("id\temail\troles")
    for item in found:
        roles = ", ".join(f"{r['role']} of {r['company']}" for r in item["roles"]) or "-"
        click.echo(f"{item['id']}\t{item['email']}\t{roles}")


@users.command("revoke")
@click.argument("email")
@click.option("--company", "company_slug", default=None, help="Only from this company.")
def users_revoke(email: str, company_slug: str | None) -> None:
    """Remove a user from a company (or from all) and end every page session they have."""
    from storeflow.core import operator
    from storeflow.core.errors import NotFound

    with _runtime().unit_of_work() as session:
        user = accounts.find_user(session, email)
        if user is None:
            raise NotFound(f"no user {email!r}", code="user_not_found")
        company_id = accounts.company_by_slug(session, company_slug).id if company_slug else None
        removed = operator.revoke_user(session, user, company_id)
    where = f" from {company_slug}" if company_slug else ""
    click.echo(f"user {email} revoked{where}: {removed} membership(s) removed, sessions ended")


@api_keys.command("list")
@click.option("--company", "company_slug", default=None, help="Only this company's keys.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def api_keys_list(company_slug: str | None, as_json: bool) -> None:
    """Keys by id and prefix (the key itself is never stored), newest first."""
    from storeflow.core import operator

    with _runtime().reading() as session:
        company_id = accounts.company_by_slug(session, company_slug).id if company_slug else None
        found: list[dict[str, Any]] = [
            {
                "id": key.id,
                "prefix": key.prefix,
                "company": slug,
                "createdAt": key.created_at.isoformat(),
                "revokedAt": key.revoked_at.isoformat() if key.revoked_at else None,
            }
            for key, slug in operator.api_keys(session, company_id)
        ]
    if as_json:
        click.echo(json.dumps(found))
        return
    click.echo("id\tprefix\tcompany\tcreated\tstate")
    for item in found:
        state = f"revoked {item['revokedAt'][:19]}" if item["revokedAt"] else "active"
        click.echo(
            f"{item['id']}\t{item['prefix']}...\t{item['company']}\t"
            f"{item['createdAt'][:19]}\t{state}"
        )


@api_keys.command("revoke")
@click.argument("key")
def api_keys_revoke(key: str) -> None:
    """Revoke a key by its id, its prefix (as `api-keys list` shows it) or the whole key."""
    from storeflow.core import operator

    with _runtime().unit_of_work() as session:
        row = operator.revoke_api_key(session, key)
        click.echo(f"API key {row.id} ({row.prefix}...) revoked")
