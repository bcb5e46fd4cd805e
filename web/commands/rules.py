"""``storeflow rules``: check, test, dry-run and load sequences from YAML rule files."""

from __future__ import annotations

import json
from pathlib import Path

import click

from storeflow.core import accounts
from storeflow.web.commands import _runtime


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
    from storeflow.rules import authoring, loader

    with _runtime().unit_of_work() as session:
        company = accounts.company_by_slug(session, company_slug)
        try:
            reports = authoring.dry_run(session, company, sequence, days=days, limit=limit)
        except loader.RuleErrors as exc:
            for problem in exc.problems:
                click.echo(str(problem), err=True)
            raise click.ClickException(f"{len(exc.problems)} problem(s) in rule files") from exc
        session.rollback()  # a dry-run writes nothing
    if as_json:
        click.echo(json.dumps(reports, indent=2))
        return
    for report in reports:
        for line in authoring.format_dry_run(report):
            click.echo(line)
