"""``storeflow integrations`` and ``deliveries``: connected stores and what they sent."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from storeflow.core import accounts, statuses
from storeflow.core.commerce import ingest
from storeflow.core.stores import integrations
from storeflow.web.commands import Since, _chunks, _progress, _runtime


@click.group("integrations")
def integrations_group() -> None:
    """Store integrations."""


@integrations_group.command("create")
@click.option("--company", "company_slug", required=True)
@click.option("--provider", default="woocommerce", show_default=True)
@click.option("--store-url", required=True)
@click.option("--currency", default="USD", show_default=True)
@click.option("--timezone", "tz", default="UTC", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def integrations_create(
    company_slug: str, provider: str, store_url: str, currency: str, tz: str, as_json: bool
) -> None:
    """Create a connected integration and print its webhook URL and secret."""
    rt = _runtime()
    if provider not in rt.providers:
        raise click.ClickException(f"no provider {provider!r}; loaded: {', '.join(rt.providers)}")
    with rt.unit_of_work() as session:
        company = accounts.company_by_slug(session, company_slug)
        row = integrations.create(
            session, company, provider, store_url=store_url, currency=currency, timezone=tz
        )
        result = {
            "integrationId": row.id,
            "webhookUrl": f"{rt.settings.base_url}/api/{provider}/webhooks/{row.id}",
            "webhookSecret": row.webhook_secret,
        }
    if as_json:
        click.echo(json.dumps(result))
    else:
        for key, value in result.items():
            click.echo(f"{key}: {value}")


@click.group()
def deliveries() -> None:
    """Stored inbound deliveries."""


@deliveries.command("list")
@click.option("--status", type=click.Choice(statuses.DELIVERY_STATUSES), default=None)
@click.option("--limit", default=20, show_default=True)
def deliveries_list(status: statuses.DeliveryStatus | None, limit: int) -> None:
    """The newest stored deliveries: id, status, provider, topic, received, error."""
    with _runtime().unit_of_work() as session:
        for row in ingest.recent_deliveries(session, status=status, limit=limit):
            click.echo(
                f"{row.id}\t{row.status}\t{row.provider}\t{row.topic}\t"
                f"{row.received_at:%Y-%m-%d %H:%M:%S}\t{row.error or ''}"
            )


@deliveries.command("replay")
@click.argument("delivery_ids", nargs=-1, type=int)
@click.option(
    "--status",
    type=click.Choice(statuses.DELIVERY_STATUSES),
    default=None,
    help="Replay every stored delivery of this status (with the other filters).",
)
@click.option("--since", type=Since(), default=None, help="Received since (2026-11-01, 7d, 12h).")
@click.option("--company", "company_slug", default=None, help="Only this company's deliveries.")
@click.option("--integration", "integration_id", default=None, help="Only this integration's.")
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many.")
@click.option("--dry-run", is_flag=True, help="Say how many would be replayed; change nothing.")
def deliveries_replay(
    delivery_ids: tuple[int, ...],
    status: statuses.DeliveryStatus | None,
    since: datetime | None,
    company_slug: str | None,
    integration_id: str | None,
    limit: int | None,
    dry_run: bool,
) -> None:
    """Queue stored deliveries again (for example after a fix): by id, or all that match.

    `storeflow deliveries replay 41 42`, or `storeflow deliveries replay --status failed
    --since 7d`. Effects stay idempotent: replaying what was applied changes nothing.
    """
    from storeflow.core import operator

    filtered = any(v is not None for v in (status, since, company_slug, integration_id))
    if bool(delivery_ids) == filtered:
        raise click.UsageError("give delivery ids, or filters (--status, --since, ...), not both")
    rt = _runtime()
    if delivery_ids:
        ids = list(dict.fromkeys(delivery_ids))
    else:
        with rt.reading() as session:
            company_id = (
                accounts.company_by_slug(session, company_slug).id if company_slug else None
            )
            ids = operator.delivery_ids(
                session,
                status=status,
                since=since,
                company_id=company_id,
                integration_id=integration_id,
                limit=limit,
            )
    if dry_run or not ids:
        click.echo(f"{len(ids)} deliver{'y' if len(ids) == 1 else 'ies'} would be queued again")
        return
    if len(ids) == 1:
        with rt.unit_of_work() as session:
            row = ingest.replay(session, ids[0])
            click.echo(f"delivery {row.id} ({row.topic}) queued again")
        return
    # One transaction per chunk: a long replay commits as it goes and can be re-run.
    with _progress(len(ids), "replaying") as bar:
        for chunk in _chunks(ids, REPLAY_CHUNK):
            with rt.unit_of_work() as session:
                for delivery_id in chunk:
                    ingest.replay(session, delivery_id)
            bar.update(len(chunk))
    click.echo(f"{len(ids)} deliveries queued again")


REPLAY_CHUNK = 200


# --- operations: list and revoke integrations ---------------------------------------------


@integrations_group.command("list")
@click.option("--company", "company_slug", default=None, help="Only this company's.")
@click.option(
    "--status", type=click.Choice(statuses.INTEGRATION_STATUSES), default=None, help="Only these."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def integrations_list(
    company_slug: str | None, status: statuses.IntegrationStatus | None, as_json: bool
) -> None:
    """Integrations: id, company, provider, store, status, health, last seen."""
    rt = _runtime()
    with rt.reading() as session:
        company_id = accounts.company_by_slug(session, company_slug).id if company_slug else None
        slugs = {c.id: c.slug for c in _companies(session)}
        found = [
            {
                "integrationId": row.id,
                "company": slugs.get(row.company_id, str(row.company_id)),
                "provider": row.provider,
                "storeUrl": row.store_url,
                "status": row.status,
                "health": row.health,
                "lastSeenAt": row.last_seen_at.isoformat() if row.last_seen_at else None,
            }
            for row in integrations.listing(session, company_id=company_id)
            if status is None or row.status == status
        ]
    if as_json:
        click.echo(json.dumps(found))
        return
    click.echo("id	company	provider	store	status	health	lastSeen")
    for item in found:
        click.echo(
            f"{item['integrationId']}	{item['company']}	{item['provider']}	{item['storeUrl']}	"
            f"{item['status']}	{item['health']}	{(item['lastSeenAt'] or 'never')[:19]}"
        )


def _companies(session: Any) -> list[Any]:
    from storeflow.core import operator

    return [row.company for row in operator.companies(session)]


@integrations_group.command("revoke")
@click.argument("integration_id")
def integrations_revoke(integration_id: str) -> None:
    """Disconnect an integration: its credentials stop working at once; its data stays."""
    from storeflow.core import operator

    with _runtime().unit_of_work() as session:
        row = operator.revoke_integration(session, integration_id)
        click.echo(f"integration {row.id} ({row.store_url}) disconnected")
