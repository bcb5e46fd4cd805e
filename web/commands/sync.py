"""``storeflow sync``: the progress of store data syncs pushed by store plugins."""

from __future__ import annotations

import json

import click

from storeflow.core import accounts
from storeflow.core.stores import integrations
from storeflow.web.commands import _runtime


@click.group("sync")
def sync_group() -> None:
    """Store data sync (products, customers, orders pushed by store plugins)."""


@sync_group.command("status")
@click.option("--integration", "integration_id", default=None, help="Only this integration.")
@click.option("--company", "company_slug", default=None, help="Only this company.")
@click.option("--limit", default=20, show_default=True, help="Latest sync run rows to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def sync_status(
    integration_id: str | None, company_slug: str | None, limit: int, as_json: bool
) -> None:
    """Show the latest sync runs with their counts, and each store's last sync."""
    from storeflow.core.commerce import sync

    with _runtime().unit_of_work() as session:
        company_id = accounts.company_by_slug(session, company_slug).id if company_slug else None
        stores = integrations.listing(session, company_id=company_id, integration_id=integration_id)
        rows = sync.runs(session, company_id=company_id, integration_id=integration_id, limit=limit)
        runs = [sync.run_json(row) for row in rows]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "integrations": [
                        {
                            "integrationId": s.id,
                            "storeUrl": s.store_url,
                            "lastSyncAt": s.last_sync_at.isoformat() if s.last_sync_at else None,
                            "lastSyncError": s.last_sync_error,
                        }
                        for s in stores
                    ],
                    "syncRuns": runs,
                }
            )
        )
        return
    for store in stores:
        when = f"{store.last_sync_at:%Y-%m-%d %H:%M:%S}" if store.last_sync_at else "never"
        error = f"  error: {store.last_sync_error}" if store.last_sync_error else ""
        click.echo(f"{store.id}\t{store.store_url}\tlast sync: {when}{error}")
    if not runs:
        click.echo("no sync runs yet")
        return
    click.echo("run\tresource\tpages\titems\tupserted\tskippedStale\tignored\tfailed\tstate")
    for run in runs:
        state = "finished" if run["finishedAt"] else f"running (page {run['lastPage']})"
        click.echo(
            f"{run['syncRunId']}\t{run['resource']}\t{run['pages']}\t{run['items']}\t"
            f"{run['upserted']}\t{run['skippedStale']}\t{run['ignored']}\t{run['failed']}\t{state}"
        )
