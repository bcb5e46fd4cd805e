"""``storeflow integrations`` and ``deliveries``: connected stores and what they sent."""

from __future__ import annotations

import json

import click

from storeflow.core import accounts, statuses
from storeflow.core.commerce import ingest
from storeflow.core.stores import integrations
from storeflow.web.commands import _runtime


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
@click.argument("delivery_id", type=int)
def deliveries_replay(delivery_id: int) -> None:
    """Queue a stored delivery again (for example after a fix)."""
    with _runtime().unit_of_work() as session:
        row = ingest.replay(session, delivery_id)
        click.echo(f"delivery {row.id} ({row.topic}) queued again")
