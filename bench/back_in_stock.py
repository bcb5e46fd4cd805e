"""Back-in-stock benchmark: one restock fanned out to a large waitlist, against the
database's own floor for the same rows.

For SQLite, then PostgreSQL + Redis when reachable (database ``storeflow_bench_bis``,
created and dropped here through the ``test`` admin connection; Redis db 13):

- ``100k x 1``: 100,000 shoppers waiting for one variant (a simple product);
- ``10k x 1k``: 10,000 shoppers spread over 1,000 variations of one variable product
  whose stock the variations share (WooCommerce ``manage_stock: "parent"``), so one
  webhook of the parent restocks all 1,000.

For each, one signed ``product.updated`` webhook restocks the product over real HTTP
(the app served on loopback) while a real ``storeflow worker`` process runs. Printed:
the webhook's answer time (also for a restock nobody waits for: it should not grow
with the waitlist), and the seconds from sending the webhook until every
``ecommerce.back_in_stock`` event is stored, and until every job is done (the
events' consumers, the rules engine among them, run in jobs queued behind the
fan-out; with no sequence on these events they only look). The floor, in the same run and database: one
transaction with one bulk UPDATE of the same entries and one INSERT ... SELECT of
the same number of events (same properties). Ratio = floor seconds / storeflow
seconds; target >= 0.3.

Usage: ``python bench/back_in_stock.py [--scale 1.0] [--skip-postgres]``
(``--scale 0.1`` runs a tenth of the rows, for a quick look).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import (  # noqa: E402
    String,
    cast,
    create_engine,
    func,
    insert,
    literal,
    select,
    text,
    update,
)

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_NAME = "storeflow_bench_bis"
PG_BENCH = f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_NAME}"
REDIS = "redis://127.0.0.1:6379/13"
STOREFLOW = str(Path(sys.executable).with_name("storeflow"))
STORE_URL = "https://bench.example.com/"
CHUNK = 5_000


# --- the store ----------------------------------------------------------------------------


def settings_for(env: dict[str, str]) -> Any:
    from storeflow.core import config

    return config.Settings(
        var_dir=Path(env["STOREFLOW_VAR_DIR"]),
        database_url=env["STOREFLOW_DATABASE_URL"],
        redis_url=env.get("STOREFLOW_REDIS_URL"),
        secret_key="bench",
    )


def prepare(rt: Any) -> tuple[int, str, str]:
    """A company with a connected WooCommerce store; (company id, integration id, secret)."""
    from storeflow.core import accounts
    from storeflow.core.stores import integrations

    with rt.unit_of_work() as session:
        company = accounts.create_company(session, "bench", "Bench")
        row = integrations.create(session, company, "woocommerce", store_url=STORE_URL)
        return company.id, row.id, row.webhook_secret or ""


def apply(rt: Any, integration_id: str, payloads: list[dict[str, Any]]) -> None:
    """Store catalogue items directly (setup, not timed): as a sync page would."""
    from storeflow.core.commerce import ingest
    from storeflow.core.storage.tables import Integration
    from storeflow.core.stores import integrations

    provider = rt.providers["woocommerce"]
    for start in range(0, len(payloads), 500):
        with rt.unit_of_work() as session:
            store = integrations.context(session.get_one(Integration, integration_id))
            records = [
                record
                for payload in payloads[start : start + 500]
                for record in provider.map_sync_item("products", payload, store).records
            ]
            ingest.apply_records(session, store, "woocommerce", records, live=False)


def simple(pid: int, stock: int, minute: int) -> dict[str, Any]:
    from storeflow.providers.woocommerce import samples

    return samples.product_simple(
        id=pid,
        name=f"Mug {pid}",
        stock_quantity=stock,
        stock_status="instock" if stock > 0 else "outofstock",
        date_modified_gmt=f"2025-03-01T10:{minute:02d}:00",
    )


def variable(pid: int, stock: int, minute: int, variation_ids: list[int]) -> dict[str, Any]:
    from storeflow.providers.woocommerce import samples

    return samples.product_variable(
        id=pid,
        name="Hoodie",
        variation_ids=variation_ids,
        manage_stock=True,
        stock_quantity=stock,
        stock_status="instock" if stock > 0 else "outofstock",
        date_modified_gmt=f"2025-03-01T10:{minute:02d}:00",
    )


def variation(vid: int, parent: int) -> dict[str, Any]:
    from storeflow.providers.woocommerce import samples

    return samples.variation(
        id=vid,
        parent_id=parent,
        options=(("Size", f"S{vid}"),),
        manage_stock="parent",
        stock_quantity=0,
        stock_status="outofstock",
        date_modified_gmt="2025-03-01T09:00:00",
    )


def waitlist(
    rt: Any, company_id: int, integration_id: str, targets: list[tuple[str, str]], per: int
) -> int:
    """``per`` waiting shoppers for each (product, variant), oldest first; how many."""
    from storeflow.core import clock
    from storeflow.core.storage.tables import Subscriber, WaitlistEntry

    start = clock.now() - timedelta(days=30)
    rows = [(pid, vid, n) for pid, vid in targets for n in range(per)]
    for offset in range(0, len(rows), CHUNK):
        chunk = rows[offset : offset + CHUNK]
        with rt.unit_of_work() as session:
            emails = [f"{vid}-{n}@example.com" for _, vid, n in chunk]
            session.execute(
                insert(Subscriber.__table__),
                [
                    {
                        "company_id": company_id,
                        "email": email,
                        "first_name": "",
                        "last_name": "",
                        "status": "active",
                        "tags": [],
                        "attributes": {},
                        "created_at": start,
                        "updated_at": start,
                    }
                    for email in emails
                ],
            )
            ids = dict(
                session.execute(
                    select(Subscriber.email, Subscriber.id).where(
                        Subscriber.company_id == company_id, Subscriber.email.in_(emails)
                    )
                ).all()
            )
            session.execute(
                insert(WaitlistEntry.__table__),
                [
                    {
                        "company_id": company_id,
                        "integration_id": integration_id,
                        "provider": "woocommerce",
                        "provider_product_id": pid,
                        "provider_variant_id": vid,
                        "subscriber_id": ids[f"{vid}-{n}@example.com"],
                        "email": f"{vid}-{n}@example.com",
                        "product_title": "",
                        "variant_title": None,
                        "status": "waiting",
                        "cycle": 1,
                        "requested_at": start + timedelta(seconds=offset + index),
                        "updated_at": start,
                    }
                    for index, (pid, vid, n) in enumerate(chunk)
                ],
            )
    return len(rows)


# --- the floor -----------------------------------------------------------------------------


def floor(rt: Any, integration_id: str, variant_ids: list[str]) -> float:
    """One transaction: a bulk UPDATE of the entries and one INSERT ... SELECT of as many
    events with the same properties; seconds. Undone afterwards."""
    from storeflow.core import clock
    from storeflow.core.commerce import waitlists
    from storeflow.core.storage.tables import Event, ProductRow, VariantRow, WaitlistEntry

    where = (
        WaitlistEntry.integration_id == integration_id,
        WaitlistEntry.provider_variant_id.in_(variant_ids),
    )
    with rt.unit_of_work() as session:
        entry = session.scalars(select(WaitlistEntry).where(*where).limit(1)).one()
        product = session.scalar(
            select(ProductRow).where(ProductRow.provider_product_id == entry.provider_product_id)
        )
        variant = session.scalar(
            select(VariantRow).where(VariantRow.provider_variant_id == entry.provider_variant_id)
        )
        props = {
            "product": waitlists._product_props(entry, product, variant),
            "stockQuantity": 5,
        }
    now = clock.now()
    events = Event.__table__
    started = time.perf_counter()
    with rt.unit_of_work() as session:
        session.execute(
            update(WaitlistEntry)
            .where(*where, WaitlistEntry.status == "waiting")
            .values(status="notified", notified_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            insert(events).from_select(
                [
                    "company_id",
                    "name",
                    "idempotency_key",
                    "subscriber_id",
                    "email",
                    "provider",
                    "integration_id",
                    "occurred_at",
                    "properties",
                    "live",
                    "created_at",
                ],
                select(
                    WaitlistEntry.company_id,
                    literal("ecommerce.back_in_stock"),
                    literal("floor:", String) + cast(WaitlistEntry.id, String),
                    WaitlistEntry.subscriber_id,
                    WaitlistEntry.email,
                    WaitlistEntry.provider,
                    WaitlistEntry.integration_id,
                    literal(now, events.c.occurred_at.type),
                    literal(props, events.c.properties.type),
                    literal(True),
                    literal(now, events.c.created_at.type),
                ).where(*where, WaitlistEntry.status == "notified"),
            )
        )
    seconds = time.perf_counter() - started
    with rt.unit_of_work() as session:
        session.execute(events.delete().where(events.c.idempotency_key.like("floor:%")))
        session.execute(
            update(WaitlistEntry)
            .where(*where)
            .values(status="waiting", notified_at=None)
            .execution_options(synchronize_session=False)
        )
    return seconds


# --- the run -------------------------------------------------------------------------------


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """The app on a loopback port, in a thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@contextmanager
def worker(env: dict[str, str], log: Path) -> Iterator[None]:
    handle = log.open("ab")
    proc = subprocess.Popen(
        [STOREFLOW, "worker", "--workers", "1"],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        time.sleep(3)  # started and idle before the clock starts
        if proc.poll() is not None:
            raise SystemExit(f"the worker exited; see {log}")
        yield
    finally:
        proc.terminate()
        proc.wait(30)
        handle.close()


def deliver(base: str, integration_id: str, secret: str, payload: dict[str, Any]) -> float:
    """POST one signed product.updated webhook; the seconds until its answer."""
    from storeflow.providers.woocommerce import samples

    body = samples.php_json(payload)
    headers = samples.webhook_headers("product.updated", body, secret)
    request = urllib.request.Request(
        f"{base}/api/woocommerce/webhooks/{integration_id}", data=body, headers=headers
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as answer:
        answer.read()
        if answer.status != 200:
            raise SystemExit(f"the webhook answered {answer.status}")
    return time.perf_counter() - started


def stored(url: str, name: str = "ecommerce.back_in_stock") -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM events WHERE name = :name"), {"name": name}
                ).scalar_one()
            )
    finally:
        engine.dispose()


def idle(url: str, started: float, log: Path) -> float:
    """Wait until no job is pending or running (the consumers are done); seconds."""
    engine = create_engine(url)
    try:
        while True:
            with engine.connect() as conn:
                busy = conn.execute(
                    text("SELECT count(*) FROM jobs WHERE status IN ('pending', 'running')")
                ).scalar_one()
            if not busy:
                return time.perf_counter() - started
            if time.perf_counter() - started > 3600:
                raise SystemExit(f"jobs still pending after an hour; see {log}")
            time.sleep(0.2)
    finally:
        engine.dispose()


def wait_for(url: str, target: int, started: float, log: Path) -> float:
    while stored(url) < target:
        if time.perf_counter() - started > 1800:
            raise SystemExit(f"not all events were stored within 30 minutes; see {log}")
        time.sleep(0.1)
    return time.perf_counter() - started


def run(label: str, env: dict[str, str], scale: float) -> list[dict[str, Any]]:
    from storeflow.core.runtime import Runtime
    from storeflow.core.storage import migrate
    from storeflow.web.app import create_app

    url = env["STOREFLOW_DATABASE_URL"]
    migrate.upgrade(url)
    rt = Runtime.build(settings_for(env))
    company_id, integration_id, secret = prepare(rt)
    big = max(1, int(100_000 * scale))
    variants = max(1, int(1_000 * scale))
    variation_ids = list(range(20_001, 20_001 + variants))
    apply(rt, integration_id, [simple(1, 0, 1), simple(3, 0, 1)])
    apply(
        rt,
        integration_id,
        [variable(2, 0, 1, variation_ids)] + [variation(v, 2) for v in variation_ids],
    )
    print(f"  {label}: seeding {big:,} + {variants * 10:,} waiting entries", flush=True)
    waitlist(rt, company_id, integration_id, [("1", "1")], big)
    spread = [("2", str(v)) for v in variation_ids]
    waitlist(rt, company_id, integration_id, spread, 10)
    cases = [
        ("100k x 1", ["1"], big, simple(1, 5, 2)),
        ("10k x 1k", [v for _, v in spread], variants * 10, variable(2, 5, 2, variation_ids)),
    ]
    floors = {name: floor(rt, integration_id, vids) for name, vids, _, _ in cases}
    log = Path(env["STOREFLOW_VAR_DIR"]) / "worker.log"
    results = []
    app = create_app(runtime=rt)
    with serving(app) as base, worker(env, log):
        empty = deliver(base, integration_id, secret, simple(3, 5, 2))  # nobody waits
        idle(url, time.perf_counter(), log)
        for name, _, count, payload in cases:
            before = stored(url)
            started = time.perf_counter()
            answer = deliver(base, integration_id, secret, payload)
            seconds = wait_for(url, before + count, started, log)
            consumed = idle(url, started, log)
            results.append(
                {
                    "label": label,
                    "case": name,
                    "entries": count,
                    "answer_empty": empty,
                    "answer": answer,
                    "seconds": seconds,
                    "consumed": consumed,
                    "floor": floors[name],
                }
            )
            print(
                f"  {label} {name}: answer {answer * 1000:.0f} ms, "
                f"{seconds:.1f} s to {count:,} events, floor {floors[name]:.2f} s, "
                f"consumers done after {consumed:.1f} s",
                flush=True,
            )
    with rt.unit_of_work() as session:
        from storeflow.core.storage.tables import Event

        keys = session.scalar(
            select(func.count(func.distinct(Event.idempotency_key))).where(
                Event.name == "ecommerce.back_in_stock"
            )
        )
        total = session.scalar(
            select(func.count()).select_from(Event).where(Event.name == "ecommerce.back_in_stock")
        )
    if keys != total or total != sum(r["entries"] for r in results):
        raise SystemExit(f"{total} events for {keys} keys: duplicates or losses")
    rt.close()
    return results


def postgres(action: str) -> bool:
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)"))
            if action == "create":
                conn.execute(text(f"CREATE DATABASE {PG_NAME}"))
        admin.dispose()
        import redis

        redis.Redis.from_url(REDIS).flushdb()
    except Exception as exc:  # noqa: BLE001 - report and skip; the SQLite figures stand
        print(f"PostgreSQL/Redis not available, skipped: {exc}")
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the rows")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    work = Path(tempfile.mkdtemp(prefix="storeflow-bench-bis-"))
    try:
        sqlite_var = work / "sqlite"
        sqlite_var.mkdir()
        env = {
            "STOREFLOW_VAR_DIR": str(sqlite_var),
            "STOREFLOW_DATABASE_URL": f"sqlite:///{sqlite_var}/bench.db",
        }
        results += run("SQLite", env, args.scale)
        if not args.skip_postgres and postgres("create"):
            pg_var = work / "pg"
            pg_var.mkdir()
            env = {
                "STOREFLOW_VAR_DIR": str(pg_var),
                "STOREFLOW_DATABASE_URL": PG_BENCH,
                "STOREFLOW_REDIS_URL": REDIS,
            }
            try:
                results += run("PostgreSQL", env, args.scale)
            finally:
                postgres("drop")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nstoreflow back-in-stock benchmark: one restock each, {os.cpu_count()} cores")
    print(
        f"{'database':<12}{'case':<10}{'entries':>9}{'answer ms':>11}{'(empty)':>9}"
        f"{'seconds':>9}{'floor s':>9}{'ratio':>7}{'events/s':>10}{'consumed s':>12}"
    )
    for r in results:
        print(
            f"{r['label']:<12}{r['case']:<10}{r['entries']:>9,}{r['answer'] * 1000:>11.0f}"
            f"{r['answer_empty'] * 1000:>9.0f}{r['seconds']:>9.1f}{r['floor']:>9.2f}"
            f"{r['floor'] / r['seconds']:>7.2f}{r['entries'] / r['seconds']:>10,.0f}"
            f"{r['consumed']:>12.1f}"
        )
    print("target: ratio (floor seconds / storeflow seconds) >= 0.3")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
