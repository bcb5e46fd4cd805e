"""Ingest benchmark: signed WooCommerce order webhooks through real HTTP (gunicorn).

For each database (SQLite, then PostgreSQL + Redis when reachable) it starts
``storeflow serve`` (gunicorn, 2 workers) and measures, in the same run:

- floor: a bare endpoint in the same server that verifies the HMAC and inserts the
  raw body (``bench/floor_plugin.py``);
- ingest: the real webhook endpoint (verify, validate, store delivery + outbox job
  in one transaction, coalesced wake-up);
- end to end: one consumer (``storeflow worker --workers 1``) processing the stored
  deliveries into orders and ``ecommerce.order_placed`` events.

It prints deliveries/s for both endpoints and the ratio (target >= 0.5), and events/s.
Usage: ``python bench/ingest.py [--count 3000] [--clients 16] [--skip-postgres]``.
"""

from __future__ import annotations

import argparse
import http.client
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

from sqlalchemy import create_engine, func, select, text  # noqa: E402

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


def blast(
    port: int, path: str, requests_: list[tuple[bytes, dict[str, str]]], clients: int
) -> float:
    """Send every request once from ``clients`` threads; return requests per second."""
    lock = threading.Lock()
    queue = list(reversed(requests_))
    errors: list[str] = []

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                body, headers = queue.pop()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    errors.append(f"{response.status}")
            finally:
                conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, e.g. HTTP {errors[0]}")
    return len(requests_) / elapsed


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


def count_events(url: str) -> int:
    from storeflow.core.storage.tables import Event

    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(Event.__table__)).scalar_one()
    engine.dispose()
    return int(n)


def run(label: str, env: dict[str, str], count: int, clients: int) -> dict[str, Any]:
    integration_id, secret = setup(env)
    env = {**env, "STOREFLOW_BENCH_SECRET": secret, "STOREFLOW_PLUGINS": "bench.floor_plugin"}
    port = 18000 + os.getpid() % 1000
    log = open(Path(env["STOREFLOW_VAR_DIR"]) / "bench.log", "ab")  # noqa: SIM115
    server = subprocess.Popen(
        [STOREFLOW, "serve", "--port", str(port), "--workers", "2"],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_http(port)
        warm = bodies(200, secret, 10_000_000)
        blast(port, "/bench/floor", warm, clients)
        blast(port, f"/api/woocommerce/webhooks/{integration_id}", warm, clients)
        floor = blast(port, "/bench/floor", bodies(count, secret, 20_000_000), clients)
        real_set = bodies(count, secret, 30_000_000)
        before = count_events(env["STOREFLOW_DATABASE_URL"])
        ingest = blast(port, f"/api/woocommerce/webhooks/{integration_id}", real_set, clients)
    finally:
        server.terminate()
        server.wait(30)
    target = before + count
    worker = subprocess.Popen(
        [STOREFLOW, "worker", "--workers", "1"],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    started = time.perf_counter()
    try:
        while count_events(env["STOREFLOW_DATABASE_URL"]) < target:
            if time.perf_counter() - started > 900:
                raise SystemExit("consumer did not finish within 15 minutes")
            time.sleep(0.5)
        processed = count / (time.perf_counter() - started)
    finally:
        worker.terminate()
        worker.wait(30)
    return {
        "label": label,
        "floor": floor,
        "ingest": ingest,
        "ratio": ingest / floor,
        "events": processed,
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
    parser.add_argument("--count", type=int, default=3000, help="deliveries per measurement")
    parser.add_argument("--clients", type=int, default=16, help="concurrent client threads")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    results = []
    work = Path(tempfile.mkdtemp(prefix="storeflow-bench-"))
    try:
        sqlite_var = work / "sqlite"
        sqlite_var.mkdir()
        results.append(
            run(
                "SQLite + SqliteHuey",
                {
                    "STOREFLOW_VAR_DIR": str(sqlite_var),
                    "STOREFLOW_DATABASE_URL": f"sqlite:///{sqlite_var}/bench.db",
                },
                args.count,
                args.clients,
            )
        )
        if not args.skip_postgres:
            pg_var = work / "pg"
            pg_var.mkdir()
            env = postgres_env(pg_var)
            if env:
                results.append(run("PostgreSQL + Redis", env, args.count, args.clients))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nstoreflow ingest benchmark: {args.count} signed order webhooks, {args.clients} clients, "
        f"gunicorn 2 workers, {os.cpu_count()} cores"
    )
    print(
        f"{'database':<22}{'floor req/s':>13}{'ingest req/s':>14}{'ratio':>8}{'events/s (1 consumer)':>24}"
    )
    for r in results:
        print(
            f"{r['label']:<22}{r['floor']:>13.0f}{r['ingest']:>14.0f}{r['ratio']:>8.2f}{r['events']:>24.0f}"
        )
    print("target: ingest >= 0.5 x floor")


if __name__ == "__main__":
    main()
