"""Benchmark: the replenishment due sweep with 1M pending reminders against 10k pending.

    .venv/bin/python bench/replenishment.py [--pending 1000000] [--due 10000]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/<db>] [--skip-sqlite]

For each database (a fresh SQLite file; PostgreSQL when ``--postgres-url`` or
``STOREFLOW_BENCH_POSTGRES_URL`` names one, whose ``public`` schema is DROPPED and
migrated again) it stores ``--pending`` pending reminders of which ``--due`` are due,
and times one sweep transaction that fires the due ones
(``storeflow.core.commerce.replenishment.fire_due``: select a batch by the partial
due index, append one ``ecommerce.replenishment_due`` event and its event job per
reminder, mark them fired; then commit). Then the same with only ``--due`` pending,
all due. It prints both times, the reminders fired per second and their ratio
(target: at most 2, i.e. the sweep's cost follows what is due, not what is pending).
Each figure is the best of three sweeps; between sweeps the fired reminders are
made pending again and their events and jobs deleted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, text, update  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from storeflow.core import accounts, clock  # noqa: E402
from storeflow.core.commerce import replenishment  # noqa: E402
from storeflow.core.storage import db, migrate  # noqa: E402
from storeflow.core.storage.tables import (  # noqa: E402
    Event,
    Job,
    ProductRow,
    ReplenishmentReminder,
    Subscriber,
)
from storeflow.core.stores import integrations  # noqa: E402

PRODUCTS = 100
CHUNK = 20_000


def fresh(url: str) -> None:
    if url.startswith("postgresql"):
        engine = db.make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    else:
        path = Path(url.removeprefix("sqlite:///"))
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
    migrate.upgrade(url)


def populate(sessions: sessionmaker[Session], pending: int, due: int) -> None:
    """``pending`` reminders over PRODUCTS products; the first ``due`` are due now."""
    subscribers = max(1, -(-pending // PRODUCTS))
    now = clock.now()
    with db.unit_of_work(sessions) as session:
        company = accounts.create_company(session, "bench", "Bench")
        store = integrations.create(session, company, "woocommerce", store_url="https://b.example")
        company_id, integration_id = company.id, store.id
        session.execute(
            ProductRow.__table__.insert(),
            [
                {
                    "company_id": company_id,
                    "integration_id": integration_id,
                    "provider": "woocommerce",
                    "provider_product_id": str(1000 + n),
                    "title": f"Product {n}",
                    "categories": [],
                    "deleted": False,
                    "type": "simple",
                    "status": "publish",
                    "slug": f"p{n}",
                    "updated_at": now,
                }
                for n in range(PRODUCTS)
            ],
        )
        for start in range(0, subscribers, CHUNK):
            session.execute(
                Subscriber.__table__.insert(),
                [
                    {
                        "company_id": company_id,
                        "email": f"b{n}@example.com",
                        "first_name": "",
                        "last_name": "",
                        "status": "active",
                        "tags": [],
                        "attributes": {},
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(start, min(start + CHUNK, subscribers))
                ],
            )
    with db.unit_of_work(sessions) as session:
        product_ids = [
            row[0] for row in session.execute(text("SELECT id FROM products ORDER BY id"))
        ]
        subscriber_ids = [
            row[0] for row in session.execute(text("SELECT id FROM subscribers ORDER BY id"))
        ]
    for start in range(0, pending, CHUNK):
        rows: list[dict[str, Any]] = []
        for n in range(start, min(start + CHUNK, pending)):
            # Due ones are spread over subscribers and products, as real traffic is.
            subscriber = subscriber_ids[n % len(subscriber_ids)]
            product_index = (n // len(subscriber_ids)) % PRODUCTS
            ordered = now - timedelta(days=31) if n < due else now + timedelta(minutes=n % 500_000)
            rows.append(
                {
                    "company_id": company_id,
                    "integration_id": integration_id,
                    "provider": "woocommerce",
                    "subscriber_id": subscriber,
                    "product_id": product_ids[product_index],
                    "key": f"product:{1000 + product_index}",
                    "match": "product",
                    "provider_product_id": str(1000 + product_index),
                    "provider_variant_id": str(1000 + product_index),
                    "title": f"Product {product_index}",
                    "variant_title": "",
                    "quantity": 1,
                    "days": 30,
                    "provider_order_id": str(n),
                    "order_event_id": n + 1,
                    "ordered_at": ordered,
                    "due_at": ordered + timedelta(days=30),
                    "status": "pending",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        with db.unit_of_work(sessions) as session:
            session.execute(ReplenishmentReminder.__table__.insert(), rows)
    with sessions() as session, session.begin():
        session.execute(text("ANALYZE"))


def reset(sessions: sessionmaker[Session]) -> None:
    with db.unit_of_work(sessions) as session:
        session.execute(delete(Job))
        session.execute(delete(Event))
        session.execute(
            update(ReplenishmentReminder)
            .where(ReplenishmentReminder.status == "fired")
            .values(status="pending", fired_event_id=None)
        )


def one_sweep(sessions: sessionmaker[Session], due: int) -> float:
    started = time.perf_counter()
    with db.unit_of_work(sessions) as session:
        fired = replenishment.fire_due(session, batch=500, limit=due)
    elapsed = time.perf_counter() - started
    if fired != due:
        raise SystemExit(f"fired {fired}, expected {due}")
    return elapsed


def measure(url: str, pending: int, due: int) -> float:
    fresh(url)
    engine = db.make_engine(url)
    sessions = db.make_sessionmaker(engine)
    try:
        started = time.perf_counter()
        populate(sessions, pending, due)
        print(
            f"    stored {pending:,} pending ({due:,} due) in {time.perf_counter() - started:.0f} s"
        )
        best = float("inf")
        for _ in range(3):
            best = min(best, one_sweep(sessions, due))
            reset(sessions)
        return best
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pending", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--postgres-url", default=os.environ.get("STOREFLOW_BENCH_POSTGRES_URL"))
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    targets = []
    with tempfile.TemporaryDirectory(prefix="storeflow-bench-") as tmp:
        if not args.skip_sqlite:
            targets.append(("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}"))
        if args.postgres_url:
            targets.append(("postgres", args.postgres_url))
        results = []
        for name, url in targets:
            print(f"{name}:")
            large = measure(url, args.pending, args.due)
            small = measure(url, args.due, args.due)
            results.append((name, large, small))
    print()
    print(f"{'database':10} {'pending':>10} {'due':>7} {'sweep s':>8} {'fired/s':>9}")
    for name, large, small in results:
        for pending, seconds in ((args.pending, large), (args.due, small)):
            print(
                f"{name:10} {pending:>10,} {args.due:>7,} {seconds:>8.2f} "
                f"{args.due / seconds:>9,.0f}"
            )
        ratio = large / small
        verdict = "ok" if ratio <= 2 else "OVER TARGET"
        print(f"{name:10} ratio {args.pending:,} / {args.due:,} pending: {ratio:.2f} ({verdict})")


if __name__ == "__main__":
    main()
