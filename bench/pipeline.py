"""Pipeline benchmark: how fast real worker processes turn a stored backlog into
events, enrollments and sent email, against the database's own commit floor.

For SQLite, then PostgreSQL + Redis when reachable, in one run:

- floor: single-row INSERT transactions per second from one client, same database;
- orders: ``storeflow worker --workers 1`` drains a stored backlog of signed order
  deliveries, with a sequence that enrolls every order (events and enrollments are
  written in the delivery's transaction); orders/s until every enrollment exists;
- sends: the same backlog with the sequence's email sent to a local SMTP sink
  (aiosmtpd); messages/s until the sink holds one message per order, and a check that
  the sink's count equals the ledger's (no duplicates);
- PostgreSQL only: the orders run again with 2 and 4 worker processes.

Usage: ``python bench/pipeline.py [--orders 3000] [--skip-postgres]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, text  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_BENCH = "postgresql+psycopg://postgres@127.0.0.1:5432/storeflow_bench"
REDIS = "redis://127.0.0.1:6379/14"
STOREFLOW = str(Path(sys.executable).with_name("storeflow"))

EMAIL = {"email": {"subject": "Thanks for order {{ event.orderNumber }}", "body": "Hi"}}
# The orders run enrolls every order into a run whose email waits a day, so it
# measures order -> event -> enrollment alone; the sends run emails at once.
ENROLL_ONLY = {
    "id": "every-order",
    "name": "Every order",
    "trigger": {"event": "ecommerce.order_placed"},
    "enrollment": {"mode": "unlimited"},
    "steps": [{"delay": {"days": 1}}, EMAIL],
}
SEND_NOW = {**ENROLL_ONLY, "steps": [EMAIL]}


def commit_floor(url: str, count: int = 2000) -> float:
    """Single-row INSERT transactions per second from one client: the database's pace."""
    from storeflow.core.storage import db

    engine = db.make_engine(url)
    table = Table(
        "bench_commit_floor",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("v", String(40)),
    )
    table.drop(engine, checkfirst=True)
    table.create(engine)
    started = time.perf_counter()
    for n in range(count):
        with engine.begin() as conn:
            conn.execute(table.insert().values(v=f"row {n}"))
    rate = count / (time.perf_counter() - started)
    table.drop(engine)
    engine.dispose()
    return rate


def prepare(env: dict[str, str], orders: int, offset: int, sequence: dict[str, Any]) -> str:
    """Migrate, make a company with the sequence, store ``orders`` deliveries; the URL."""
    from storeflow.core import accounts, config
    from storeflow.core.commerce import ingest
    from storeflow.core.runtime import Runtime
    from storeflow.core.storage import migrate
    from storeflow.core.stores import integrations
    from storeflow.core.stores.provider import WebhookRequest
    from storeflow.providers.woocommerce import samples
    from storeflow.rules import runner, schema

    settings = config.Settings(
        var_dir=Path(env["STOREFLOW_VAR_DIR"]),
        database_url=env["STOREFLOW_DATABASE_URL"],
        secret_key="bench",
        queue_immediate=True,
    )
    migrate.upgrade(settings.database_url)
    rt = Runtime.build(settings)
    rt.waker = None  # stored only: the worker under test does all the processing
    provider = rt.providers["woocommerce"]
    with rt.unit_of_work() as session:
        company = accounts.create_company(session, f"bench-{offset}", "Bench")
        row = integrations.create(session, company, "woocommerce", store_url="https://b.example")
        integration_id, secret = row.id, row.webhook_secret or ""
        runner.save_sequence(session, company.id, schema.structure_sequence(sequence))
    for start in range(0, orders, 500):
        with rt.unit_of_work() as session:
            integration = integrations.get(session, integration_id)
            for n in range(start, min(orders, start + 500)):
                order = samples.order(
                    id=offset + n,
                    email=f"buyer{n}@example.com",
                    line_items=[
                        samples.line_item(id=1, product_id=101, variation_id=201, name="Hoodie"),
                        samples.line_item(id=2, product_id=55, name="Mug", quantity=2),
                    ],
                )
                body = samples.php_json(order)
                headers = samples.webhook_headers("order.created", body, secret)
                inbound = WebhookRequest(
                    headers={k.lower(): v for k, v in headers.items()},
                    body=body,
                    content_type="application/json",
                )
                verified = provider.verify_webhook(inbound, secret)
                ingest.store(session, integration, provider, verified, body, None)
    rt.close()
    return settings.database_url


def count(url: str, sql: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = int(conn.execute(text(sql)).scalar_one())
    engine.dispose()
    return found


def drain_with_workers(
    env: dict[str, str], processes: int, target_sql: str, target: int, log: Path
) -> float:
    """Start worker processes, wait until ``target_sql`` reaches ``target``; seconds taken."""
    handle = log.open("ab")
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [STOREFLOW, "worker", "--workers", "1"] + (["--no-periodic"] if n else []),
            env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        for n in range(processes)
    ]
    try:
        while count(env["STOREFLOW_DATABASE_URL"], target_sql) < target:
            if time.perf_counter() - started > 900:
                raise SystemExit(f"workers did not finish within 15 minutes; see {log}")
            if any(p.poll() is not None for p in procs):
                raise SystemExit(f"a worker exited; see {log}")
            time.sleep(0.05)
        return time.perf_counter() - started
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


class Sink:
    """A local SMTP server that counts what it accepts."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.count = 0
        self.lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                with sink.lock:
                    sink.count += 1
                return "250 OK"

        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port)
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{port}"

    def stop(self) -> None:
        self.controller.stop()


def fresh(env: dict[str, str]) -> None:
    """A new, empty database for each measurement, so no earlier backlog is counted."""
    url = env["STOREFLOW_DATABASE_URL"]
    if url.startswith("sqlite"):
        env["STOREFLOW_DATABASE_URL"] = (
            f"sqlite:///{env['STOREFLOW_VAR_DIR']}/bench-{time.time_ns()}.db"
        )
    else:
        reset_postgres()


def reset_postgres() -> bool:
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS storeflow_bench WITH (FORCE)"))
            conn.execute(text("CREATE DATABASE storeflow_bench"))
        admin.dispose()
        import redis

        redis.Redis.from_url(REDIS).flushdb()
    except Exception as exc:  # noqa: BLE001 - report and skip; the SQLite figures stand
        print(f"PostgreSQL/Redis not available, skipped: {exc}")
        return False
    return True


def run(label: str, base_env: dict[str, str], orders: int, scale: list[int]) -> dict[str, Any]:
    work = Path(base_env["STOREFLOW_VAR_DIR"])
    log = work / "workers.log"
    floor = commit_floor(base_env["STOREFLOW_DATABASE_URL"])
    result: dict[str, Any] = {"label": label, "floor": floor, "orders": {}}
    offset = 1_000_000
    for processes in scale:
        env = dict(base_env)
        fresh(env)
        url = prepare(env, orders, offset, ENROLL_ONLY)
        enrolled = count(url, "SELECT count(*) FROM enrollments")
        seconds = drain_with_workers(
            env, processes, "SELECT count(*) FROM enrollments", enrolled + orders, log
        )
        result["orders"][processes] = orders / seconds
        offset += 1_000_000
        print(f"  {label}: {processes} worker(s): {orders / seconds:,.0f} orders/s", flush=True)
    sink = Sink()
    try:
        env = {**base_env, "STOREFLOW_SMTP_URL": sink.url}
        fresh(env)
        url = prepare(env, orders, offset, SEND_NOW)
        sent_before = count(url, "SELECT count(*) FROM messages WHERE status = 'sent'")
        started = time.perf_counter()
        drain_with_workers(
            env, 1, "SELECT count(*) FROM messages WHERE status = 'sent'", sent_before + orders, log
        )
        result["sends"] = orders / (time.perf_counter() - started)
        time.sleep(0.5)
        result["sink"] = sink.count
        result["ledger"] = (
            count(url, "SELECT count(*) FROM messages WHERE status = 'sent'") - sent_before
        )
    finally:
        sink.stop()
    print(f"  {label}: {result['sends']:,.0f} messages/s", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=3000, help="orders in each backlog")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    results = []
    work = Path(tempfile.mkdtemp(prefix="storeflow-bench-pipeline-"))
    try:
        sqlite_var = work / "sqlite"
        sqlite_var.mkdir()
        env = {
            "STOREFLOW_VAR_DIR": str(sqlite_var),
            "STOREFLOW_DATABASE_URL": f"sqlite:///{sqlite_var}/bench.db",
        }
        results.append(run("SQLite + SqliteHuey", env, args.orders, [1]))
        if not args.skip_postgres and reset_postgres():
            pg_var = work / "pg"
            pg_var.mkdir()
            env = {
                "STOREFLOW_VAR_DIR": str(pg_var),
                "STOREFLOW_DATABASE_URL": PG_BENCH,
                "STOREFLOW_REDIS_URL": REDIS,
            }
            results.append(run("PostgreSQL + Redis", env, args.orders, [1, 2, 4]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nstoreflow pipeline benchmark: backlogs of {args.orders} stored order deliveries, "
        f"a sequence enrolling each, {os.cpu_count()} cores"
    )
    print(
        f"{'database':<22}{'commit floor/s':>15}{'workers':>9}{'orders/s':>10}{'ratio':>8}"
        f"{'messages/s':>12}{'sink = ledger':>15}"
    )
    for r in results:
        for n, rate in r["orders"].items():
            sends = f"{r['sends']:>12,.0f}" if n == 1 else f"{'':>12}"
            same = f"{r['sink']} = {r['ledger']}" if n == 1 else ""
            print(
                f"{r['label']:<22}{r['floor']:>15,.0f}{n:>9}{rate:>10,.0f}"
                f"{rate / r['floor']:>8.2f}{sends}{same:>15}"
            )
            if r["sink"] != r["ledger"] and n == 1:
                raise SystemExit("the SMTP sink and the ledger disagree: duplicate or lost sends")
    print("targets: 1 worker >= 1,000 orders/s (SQLite), >= 500 (PostgreSQL); >= 300 messages/s")


if __name__ == "__main__":
    main()
