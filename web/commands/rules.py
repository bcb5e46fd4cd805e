"""``storeflow rules``: check, test, dry-run and load sequences from YAML rule files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from storeflow.core import accounts
from storeflow.core.errors import NotFound
from storeflow.web.commands import _progress, _runtime

if TYPE_CHECKING:
    from storeflow.core.storage.tables import Company
    from storeflow.rules.schema import Sequence


@click.group("rules")
def rules_group() -> None:
    """Sequences from YAML rule files."""


@rules_group.command("load")
@click.argument("path", type=click.Path(exists=True))
@click.option("--company", "company_slug", required=True)
def rules_load(path: str, company_slug: str) -> None:
    """Validate every rule file under PATH and save them all (or none)."""
    from storeflow.rules import loader, runner

    try:
        sequences = loader.load_path(path)
    except loader.RuleErrors as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(f"{len(exc.problems)} problem(s); nothing was loaded") from exc
    with _runtime().unit_of_work() as session:
        company = accounts.company_by_slug(session, company_slug)
        for seq in sequences:
            runner.save_sequence(session, company.id, seq, source=path)
    click.echo(f"loaded {len(sequences)} sequence(s) into {company_slug}")


@rules_group.command("check")
@click.argument("path", type=click.Path())
def rules_check(path: str) -> None:
    """Validate rule files without loading them: one line per problem (file:line path: message)."""
    from storeflow.rules import authoring

    problems, count = authoring.check(path)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s) in rule files under {path}")
    click.echo(f"ok: {count} sequence(s) under {path}")


@rules_group.command("test")
@click.argument("path", type=click.Path())
@click.option("--event", "event_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def rules_test(path: str, event_path: str, as_json: bool) -> None:
    """Which sequences under PATH an event (a JSON file) would enrol into, and why not."""
    from storeflow.rules import authoring, loader

    try:
        report = authoring.test(path, Path(event_path))
    except loader.RuleErrors as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise click.ClickException(f"{len(exc.problems)} problem(s) in rule files") from exc
    except authoring.BadEvent as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for line in authoring.format_test(report):
        click.echo(line)


@rules_group.command("dry-run")
@click.argument("sequence")
@click.option("--company", "company_slug", required=True)
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 365))
@click.option("--limit", default=50, show_default=True, type=click.IntRange(0, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def rules_dry_run(sequence: str, company_slug: str, days: int, limit: int, as_json: bool) -> None:
    """Replay stored events through SEQUENCE (a stored id, or a rule file) without sending."""
    from storeflow.core import clock
    from storeflow.rules import authoring, dryrun, loader

    with _runtime().unit_of_work() as session:
        company = accounts.company_by_slug(session, company_slug)
        try:
            found = _dry_run_targets(session, company, sequence)
        except loader.RuleErrors as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            raise click.ClickException(f"{len(exc.problems)} problem(s) in rule files") from exc
        now = clock.now()
        simulated = []
        with _progress(len(found), "simulating", at_least=2) as bar:
            for seq in found:
                simulated.append(
                    dryrun.simulate(session, company, seq, days=days, limit=limit, now=now)
                )
                bar.update(1)
        session.rollback()  # a dry-run writes nothing
    # Subjects render after the transaction, as the API's dry-run does: a template may
    # take its whole budget, and no connection (nor SQLite's lock) waits for it.
    reports = []
    with _progress(len(simulated), "rendering subjects", at_least=2) as bar:
        for report in simulated:
            reports.append(report.rendered())
            bar.update(1)
    if as_json:
        click.echo(json.dumps(reports, indent=2))
        return
    for done in reports:
        for line in authoring.format_dry_run(done):
            click.echo(line)


def _dry_run_targets(session: Any, company: Company, target: str) -> list[Sequence]:
    """Every sequence of a rule file or directory, or the company's stored sequence."""
    from storeflow.rules import loader, schema, sequences

    if Path(target).exists():
        return loader.load_path(target)
    row = sequences.get(session, company.id, target)
    if row is None:
        raise NotFound(
            f"no sequence {target!r} in {company.slug}, and no such file",
            code="sequence_not_found",
        )
    return [schema.structure_sequence(row.definition)]


# --- suppressions: addresses a mail server refused for good -------------------------------


@rules_group.group("suppressions")
def suppressions_group() -> None:
    """Addresses not emailed because a mail server refused them for good."""


@suppressions_group.command("list")
@click.option("--company", "company_slug", default=None, help="Only this company's.")
@click.option("--email", default=None, help="Only this address.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def suppressions_list(
    company_slug: str | None, email: str | None, limit: int, as_json: bool
) -> None:
    """The newest suppressions with the server's reply that caused each."""
    from storeflow.rules import suppressions

    with _runtime().reading() as session:
        company_id = accounts.company_by_slug(session, company_slug).id if company_slug else None
        found = suppressions.listing(session, company_id, email=email, limit=limit)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "company": row.company,
                        "email": row.email,
                        "reason": row.reason,
                        "createdAt": row.created_at.isoformat(),
                    }
                    for row in found
                ]
            )
        )
        return
    if not found:
        click.echo("no suppressions")
        return
    click.echo("company\temail\tsince\treason")
    for row in found:
        reason = " ".join(row.reason.split())  # one line per row, whatever the server wrote
        click.echo(f"{row.company}\t{row.email}\t{row.created_at:%Y-%m-%d %H:%M}\t{reason}")


@suppressions_group.command("lift")
@click.argument("email")
@click.option("--company", "company_slug", required=True)
def suppressions_lift(email: str, company_slug: str) -> None:
    """Email EMAIL again (after the address was fixed): its subscriber is active again."""
    from storeflow.rules import suppressions

    with _runtime().unit_of_work() as session:
        company = accounts.company_by_slug(session, company_slug)
        lifted = suppressions.lift(session, company.id, email)
    if not lifted.found:
        raise NotFound(f"{email} is not suppressed in {company_slug}", code="not_suppressed")
    again = "; its subscriber is active again" if lifted.reactivated else ""
    click.echo(f"suppression of {email} in {company_slug} lifted{again}")
