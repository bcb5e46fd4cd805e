"""``storeflow jobs`` and ``storeflow prune``: the outbox for operators, and retention.

Dead jobs (attempts exhausted) wait for an operator: ``jobs list --status dead``
shows them with their last error; after a fix ``jobs retry`` puts them back to work
(``--all-dead`` for every one) and ``jobs discard`` deletes those dealt with otherwise.
Only dead jobs are touched: pending and running ones belong to the workers.
"""

from __future__ import annotations

import json
from typing import Any

import click

from storeflow.core import accounts, operator, statuses
from storeflow.core.work import retention
from storeflow.web.commands import _chunks, _progress, _runtime

CHUNK = 500


@click.group("jobs")
def jobs_group() -> None:
    """Jobs in the outbox: list them, retry or discard dead ones."""


@jobs_group.command("list")
@click.option("--status", type=click.Choice(statuses.JOB_STATUSES), default=None)
@click.option("--kind", default=None, help="Only jobs of this kind (delivery, event, step, ...).")
@click.option("--company", "company_slug", default=None, help="Only this company's jobs.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def jobs_list(
    status: statuses.JobStatus | None,
    kind: str | None,
    company_slug: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """The newest jobs: id, kind, status, attempts, company, due, last error."""
    with _runtime().reading() as session:
        company_id = accounts.company_by_slug(session, company_slug).id if company_slug else None
        found: list[dict[str, Any]] = [
            {
                "id": job.id,
                "kind": job.kind,
                "status": job.status,
                "attempts": job.attempts,
                "companyId": job.company_id,
                "availableAt": job.available_at.isoformat(),
                "lastError": job.last_error,
            }
            for job in operator.jobs(
                session, status=status, kind=kind, company_id=company_id, limit=limit
            )
        ]
    if as_json:
        click.echo(json.dumps(found))
        return
    click.echo("id\tkind\tstatus\tattempts\tcompany\tdue\tlastError")
    for item in found:
        error = (item["lastError"] or "").splitlines()[0][:200] if item["lastError"] else ""
        click.echo(
            f"{item['id']}\t{item['kind']}\t{item['status']}\t{item['attempts']}\t"
            f"{item['companyId']}\t{item['availableAt'][:19]}\t{error}"
        )


def _selected(
    job_ids: tuple[int, ...], all_dead: bool, kind: str | None, company_slug: str | None
) -> list[int]:
    if bool(job_ids) == all_dead:
        raise click.UsageError("give job ids, or --all-dead, not both")
    if (kind or company_slug) and not all_dead:
        raise click.UsageError("--kind and --company narrow --all-dead")
    if job_ids:
        return list(dict.fromkeys(job_ids))
    with _runtime().reading() as session:
        company_id = accounts.company_by_slug(session, company_slug).id if company_slug else None
        return operator.dead_job_ids(session, kind=kind, company_id=company_id)


_SELECTION = [
    click.argument("job_ids", nargs=-1, type=int),
    click.option(
        "--all-dead", is_flag=True, help="Every dead job (narrow with --kind, --company)."
    ),
    click.option("--kind", default=None, help="With --all-dead: only this kind."),
    click.option(
        "--company", "company_slug", default=None, help="With --all-dead: only this company."
    ),
]


def _with_selection(command):
    for decorate in reversed(_SELECTION):
        command = decorate(command)
    return command


@jobs_group.command("retry")
@_with_selection
def jobs_retry(
    job_ids: tuple[int, ...], all_dead: bool, kind: str | None, company_slug: str | None
) -> None:
    """Put dead jobs back to work with fresh attempts (after fixing their cause)."""
    ids = _selected(job_ids, all_dead, kind, company_slug)
    rt = _runtime()
    with _progress(len(ids), "retrying") as bar:
        for chunk in _chunks(ids, CHUNK):
            with rt.unit_of_work() as session:
                operator.retry(session, chunk)
            bar.update(len(chunk))
    click.echo(f"{len(ids)} dead job(s) queued again")


@jobs_group.command("discard")
@_with_selection
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def jobs_discard(
    job_ids: tuple[int, ...],
    all_dead: bool,
    kind: str | None,
    company_slug: str | None,
    yes: bool,
) -> None:
    """Delete dead jobs whose cause was dealt with some other way."""
    ids = _selected(job_ids, all_dead, kind, company_slug)
    if ids and not yes:
        click.confirm(f"delete {len(ids)} dead job(s)?", abort=True)
    rt = _runtime()
    with _progress(len(ids), "discarding") as bar:
        for chunk in _chunks(ids, CHUNK):
            with rt.unit_of_work() as session:
                operator.discard(session, chunk)
            bar.update(len(chunk))
    click.echo(f"{len(ids)} dead job(s) discarded")


@click.command("prune")
def prune_cmd() -> None:
    """Apply the retention ages now, in batches until nothing is left to prune.

    The worker's sweeper does the same a batch at a time; this catches up at once (after
    lowering an age, or on a database that ran without a worker).
    """
    rt = _runtime()
    settings = rt.settings
    total = retention.Report()
    while True:
        with rt.unit_of_work() as session:
            report = retention.run(
                session,
                delivery_days=settings.delivery_retention_days,
                failed_delivery_days=settings.failed_delivery_retention_days,
                plugin_request_days=settings.plugin_request_retention_days,
                event_days=settings.event_retention_days,
                limit=settings.retention_batch,
            )
        if not report.total:
            break
        total = retention.Report(
            deliveries=total.deliveries + report.deliveries,
            failed_deliveries=total.failed_deliveries + report.failed_deliveries,
            plugin_requests=total.plugin_requests + report.plugin_requests,
            events=total.events + report.events,
        )
        # How much is left is not known up front: a running count on standard error.
        click.echo(f"pruning: {total.total} rows so far", err=True)
    click.echo(
        f"pruned {total.deliveries} deliveries, {total.failed_deliveries} failed deliveries, "
        f"{total.plugin_requests} plugin requests, {total.events} events"
    )
