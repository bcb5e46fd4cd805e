"""The ``storeflow`` command: operate the service from a shell.

Each command opens its own unit of work; secrets are printed once and stored
hashed where the contract allows it.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from storeflow.core import accounts, config, plugins, statuses
from storeflow.core.commerce import ingest
from storeflow.core.errors import StoreflowError
from storeflow.core.runtime import Runtime
from storeflow.core.storage import migrate
from storeflow.core.stores import integrations

log = logging.getLogger("storeflow.worker")


class _Group(click.Group):
    """Turn domain errors into a one-line message and exit code 1, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StoreflowError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from exc


@click.group(cls=_Group)
def cli() -> None:
    """storeflow: store traffic in, commerce events and sequences out."""


_RUNTIME = "storeflow.runtime"


def _runtime() -> Runtime:
    """The invocation's runtime: the one handed in as ``obj`` (tests, embedding), or one
    built from the environment on first use and closed when the command ends."""
    root = click.get_current_context().find_root()
    if isinstance(root.obj, Runtime):
        return root.obj
    found = root.meta.get(_RUNTIME)
    if found is None:
        found = root.meta[_RUNTIME] = Runtime.build(config.load())
        root.call_on_close(found.close)
    return found


# --- database -------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the latest schema (and generate the session key)."""
    settings = _prepare(config.load())
    migrate.upgrade(settings.database_url)
    click.echo(f"database at head: {_safe_url(settings.database_url)}")


@db.command("check")
def db_check() -> None:
    """Fail if the models and the migrations have drifted apart."""
    migrate.check(config.load().database_url)
    click.echo("models and migrations agree")


def _prepare(settings: config.Settings) -> config.Settings:
    """The explicit first-run step: the var dir and, unless configured, the session key."""
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return config.ensure_secret_key(settings)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# --- accounts -------------------------------------------------------------------------


@cli.group()
def companies() -> None:
    """Companies (tenants)."""


@companies.command("create")
@click.argument("slug")
@click.option("--name", required=True)
def companies_create(slug: str, name: str) -> None:
    with _runtime().unit_of_work() as session:
        company = accounts.create_company(session, slug, name)
        click.echo(f"company {company.slug} created (id {company.id})")


@cli.group()
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


@cli.group("api-keys")
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


# --- integrations and deliveries ------------------------------------------------------


@cli.group("integrations")
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


@cli.group()
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


# --- store sync ------------------------------------------------------------------------


@cli.group("sync")
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


# --- plugins --------------------------------------------------------------------------


@cli.command("plugins")
def plugins_cmd() -> None:
    """List loaded plugins and the hooks each implements."""
    pm = plugins.build_plugin_manager(extra=config.load().plugins)
    for item in plugins.describe(pm):
        version = f" {item['version']}" if item["version"] else ""
        module = f" ({item['module']})" if item["module"] not in (None, item["name"]) else ""
        click.echo(f"{item['name']}{module}{version}: {', '.join(item['hooks']) or '-'}")


# --- processes ------------------------------------------------------------------------


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True)
@click.option("--workers", default=2, show_default=True)
def serve(host: str, port: int, workers: int) -> None:
    """Run the web server (gunicorn)."""
    from gunicorn.app.base import BaseApplication

    _prepare(config.load())  # the workers read the session key the first run generates

    class _App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", None)
            self.cfg.set("timeout", 60)
            if "control_socket_disable" in self.cfg.settings:
                # gunicorn >= 23 opens one control socket per user by default; servers
                # on the same machine would share it. Operators use signals instead.
                self.cfg.set("control_socket_disable", True)

        def load(self) -> Any:
            from storeflow.web.app import create_app

            return create_app()

    _App().run()


@cli.command()
@click.option("--workers", default=2, show_default=True, help="Consumer worker threads.")
@click.option("--no-periodic", is_flag=True, help="Leave sweeping to another consumer.")
def worker(workers: int, no_periodic: bool) -> None:
    """Run the Huey consumer, with the sweeper (timers, lost and expired jobs)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    rt = _runtime()
    assert rt.huey is not None and rt.tasks is not None
    url = _safe_url(rt.settings.database_url)

    @rt.huey.on_startup()
    def ready() -> None:
        log.info("worker thread ready: database %s, job kinds %s", url, sorted(rt.job_kinds))

    consumer = rt.huey.create_consumer(
        workers=workers,
        worker_type="thread",
        periodic=not no_periodic,
        # A lock held by a killed consumer would block the sweeper forever on SqliteHuey.
        flush_locks=True,
        check_worker_health=True,
    )
    if not no_periodic:
        _start_sweep_ticker(rt.tasks.sweep_now, rt.settings.sweep_seconds)
    consumer.run()


def _start_sweep_ticker(sweep_now: Callable[[], object], interval: float) -> None:
    """Huey's periodic tasks tick once a minute; delays and leases need finer sweeps."""

    def tick() -> None:
        while True:
            time.sleep(interval)
            try:
                sweep_now()
            except Exception:  # the queue may be briefly unavailable; try next tick
                log.warning("could not queue a sweep; trying again next tick", exc_info=True)

    threading.Thread(target=tick, name="storeflow-sweep-ticker", daemon=True).start()


@cli.group("rules")
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


@cli.command()
@click.option("--port", default=8000, show_default=True)
def dev(port: int) -> None:
    """Migrate, seed a demo company, then run the web server and a worker together."""
    import os
    import signal
    import subprocess

    from storeflow.web import demo

    # Links (demo.json, authorize URLs) must point at this server unless told otherwise.
    os.environ.setdefault("STOREFLOW_BASE_URL", f"http://127.0.0.1:{port}")
    settings = _prepare(config.load())
    migrate.upgrade(settings.database_url)
    info = demo.seed(_runtime())
    click.echo(f"""
storeflow is starting
  web:          http://127.0.0.1:{port}/  (OpenAPI: /api/openapi.json)
  database:     {_safe_url(settings.database_url)}
  admin key:    {info["apiKey"]}
  demo store:   webhooks to /api/woocommerce/webhooks/{info["integrationId"]}
  owner login:  {info["ownerEmail"]} / {info["ownerPassword"] or "(unchanged since the first run)"}
  try:          make demo   (in another terminal)
""")
    env = dict(os.environ)
    exe = str(Path(sys.executable).with_name("storeflow"))  # the venv's own script
    procs = [
        subprocess.Popen([exe, "serve", "--port", str(port)], env=env),
        subprocess.Popen([exe, "worker"], env=env),
    ]
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@cli.command("demo")
@click.option("--url", default=None, help="Base URL of the running service.")
def demo_cmd(url: str | None) -> None:
    """Replay a scripted WooCommerce store against the running service."""
    from storeflow.web import demo

    path = config.load().var_dir / "demo.json"
    if not path.exists():
        raise click.ClickException("no var/demo.json: start the service with `make run` first")
    info = json.loads(path.read_text())
    if url:
        info["baseUrl"] = url.rstrip("/")
    demo.replay(info)


def main() -> None:
    from storeflow.core import plugins as plugin_module

    try:
        pm = plugin_module.build_plugin_manager(extra=config.load().plugins)
        pm.hook.register_commands(cli=cli)
    except plugin_module.PluginError as exc:
        click.echo(f"warning: {exc}", err=True)
    cli()
