"""Ingest benchmark: signed WooCommerce order webhooks over real HTTP into gunicorn.

Load comes from ``wrk`` (native, its own threads; installed from the distribution's
packages when missing) cycling through pre-signed unique bodies, so the client is not
what is measured. For each database (SQLite, then PostgreSQL + Redis when reachable)
it starts ``storeflow serve`` (gunicorn, 2 workers) and measures, in the same run:

- floor: a bare endpoint in the same server that verifies the HMAC and inserts the
  raw body in one transaction (``bench/floor_plugin.py``);
- ingest: the real webhook endpoint (look up, verify, validate, store delivery + job
  in one short write transaction, coalesced wake-up): req/s, p50, p99, ratio;
- ingest while one worker drains a stored backlog: req/s, p99, and how many
  deliveries the worker processed meanwhile (the backlog lag).

Usage: ``python bench/ingest.py [--seconds 8] [--connections 16] [--skip-postgres]``.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from bench import wrkload  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_BENCH = "postgresql+psycopg://postgres@127.0.0.1:5432/storeflow_bench"
REDIS = "redis://127.0.0.1:6379/15"
STOREFLOW = str(Path(sys.executable).with_name("storeflow"))


def bodies(count: int, secret: str, offset: int) -> list[tuple[bytes, dict[str, str]]]:
    from storeflow.providers.woocommerce import samples as fixtures

    out = []
    for n in range(count):
        order = fixtures.order(
            id=offset + n,
            email=f"buyer{n % 500}@example.com",
            line_items=[
                fixtures.line_item(id=1, product_id=101, variation_id=201, name="Hoodie - Blue"),
                fixtures.line_item(id=2, product_id=55, name="Mug", quantity=2),
            ],
        )
        body = fixtures.php_json(order)
        out.append((body, fixtures.webhook_headers("order.created", body, secret)))
    return out


def wait_http(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def setup(env: dict[str, str]) -> tuple[str, str]:
    """Migrate, create a company + integration, and the floor table; return (id, secret)."""
    os.environ.update(env)
    from bench.floor_plugin import metadata
    from storeflow.core import accounts, config
    from storeflow.core.storage import db, migrate
    from storeflow.core.stores import integrations

    settings = config.load()
    migrate.upgrade(settings.database_url)
    engine = db.make_engine(settings.database_url)
    metadata.create_all(engine)
    factory = db.make_sessionmaker(engine)
    with db.unit_of_work(factory) as session:
        company = accounts.create_company(
            session, f"bench-{int(time.time() * 1000) % 10**9}", "Bench"
        )
        row = integrations.create(
            session, company, "woocommerce", store_url="https://bench.example.com"
        )
        result = (row.id, row.webhook_secret or "")
    engine.dispose()
    return result


def requests_for(path: str, count: int, secret: str, offset: int) -> list[Any]:
    return [(path, body, headers) for body, headers in bodies(count, secret, offset)]


def pending(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM jobs WHERE status = 'pending'")).scalar_one()
    engine.dispose()
    return int(n)


def run(label: str, env: dict[str, str], seconds: float, connections: int) -> dict[str, Any]:
    integration_id, secret = setup(env)
    env = {**env, "STOREFLOW_BENCH_SECRET": secret, "STOREFLOW_PLUGINS": "bench.floor_plugin"}
    port = 18000 + os.getpid() % 1000
    log = open(Path(env["STOREFLOW_VAR_DIR"]) / "bench.log", "ab")  # noqa: SIM115
    child_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [STOREFLOW, "serve", "--port", str(port), "--workers", "2"],
        env=child_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    webhook = f"/api/woocommerce/webhooks/{integration_id}"
    # More unique bodies than a run can send at the floor's pace (wrk says if not).
    unique = int(seconds * 6000)
    try:
        wait_http(port)
        wrkload.run(port, requests_for("/bench/floor", 2000, secret, 10_000_000), seconds=2)
        wrkload.run(port, requests_for(webhook, 2000, secret, 20_000_000), seconds=2)
        floor = wrkload.run(
            port,
            requests_for("/bench/floor", unique, secret, 30_000_000),
            seconds=seconds,
            connections=connections,
        )
        ingest = wrkload.run(
            port,
            requests_for(webhook, unique, secret, 40_000_000),
            seconds=seconds,
            connections=connections,
        )
        backlog = pending(env["STOREFLOW_DATABASE_URL"])
        worker = subprocess.Popen(
            [STOREFLOW, "worker", "--workers", "1"],
            env=child_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            time.sleep(2)  # the worker is up and draining
            before = pending(env["STOREFLOW_DATABASE_URL"])
            during = wrkload.run(
                port, requests_for(webhook, unique, secret, 50_000_000), seconds=seconds
            )
            after = pending(env["STOREFLOW_DATABASE_URL"])
        finally:
            worker.terminate()
            worker.wait(30)
    finally:
        server.terminate()
        server.wait(30)
    drained = before + during["requests"] - after
    return {
        "label": label,
        "floor": floor,
        "ingest": ingest,
        "during": during,
        "backlog": backlog,
        "drained_per_s": drained / seconds,
        "lag": after,
    }


def postgres_env(var: Path) -> dict[str, str] | None:
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS storeflow_bench"))
            conn.execute(text("CREATE DATABASE storeflow_bench"))
        admin.dispose()
        import redis

        redis.Redis.from_url(REDIS).flushdb()
    except Exception as exc:  # noqa: BLE001 - report and skip, the SQLite figures still stand
        print(f"PostgreSQL/Redis not available, skipped: {exc}")
        return None
    return {
        "STOREFLOW_VAR_DIR": str(var),
        "STOREFLOW_DATABASE_URL": PG_BENCH,
        "STOREFLOW_REDIS_URL": REDIS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    print(f"load generator: {wrkload.find_wrk()}")
    results = []
    work = Path(tempfile.mkdtemp(prefix="storeflow-bench-"))
    try:
        sqlite_var = work / "sqlite"
        sqlite_var.mkdir()
        env = {
            "STOREFLOW_VAR_DIR": str(sqlite_var),
            "STOREFLOW_DATABASE_URL": f"sqlite:///{sqlite_var}/bench.db",
        }
        results.append(run("SQLite + SqliteHuey", env, args.seconds, args.connections))
        if not args.skip_postgres:
            pg_var = work / "pg"
            pg_var.mkdir()
            pg = postgres_env(pg_var)
            if pg:
                results.append(run("PostgreSQL + Redis", pg, args.seconds, args.connections))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nstoreflow ingest benchmark: wrk, {args.connections} connections, {args.seconds:.0f} s "
        f"per run, gunicorn 2 workers, {os.cpu_count()} cores"
    )
    print(
        f"{'database':<22}{'floor req/s':>12}{'ingest req/s':>13}{'ratio':>7}{'p50 ms':>8}"
        f"{'p99 ms':>8} | {'with a worker: req/s':>20}{'p99 ms':>8}{'drained/s':>10}{'lag':>7}"
    )
    for r in results:
        f, i, d = r["floor"], r["ingest"], r["during"]
        print(
            f"{r['label']:<22}{f['rps']:>12,.0f}{i['rps']:>13,.0f}{i['rps'] / f['rps']:>7.2f}"
            f"{i['p50_ms']:>8.1f}{i['p99_ms']:>8.1f} | {d['rps']:>20,.0f}{d['p99_ms']:>8.1f}"
            f"{r['drained_per_s']:>10,.0f}{r['lag']:>7,}"
        )
        errors = f["errors"] + i["errors"] + d["errors"]
        if errors:
            print(f"  {errors} requests failed (non-2xx or socket errors)")
    print("targets: ingest >= 0.6 x floor; with a worker draining, p99 < 100 ms")


if __name__ == "__main__":
    main()
