"""Benchmark: time to first byte of each admin page with 10k products and 100k subscribers.

    .venv/bin/python bench/pages.py [--products 10000] [--subscribers 100000]
        [--events 200000] [--orders 50000] [--messages 20000] [--repeat 5]

A fresh SQLite file is migrated and filled (one company with a webhook store: products
with two variants each, subscribers, orders with a line each, events over the last
two weeks, a sequence whose enrollments sent messages, failed deliveries, waitlist
entries), then served by a real HTTP server (werkzeug, in a thread) to a signed-in
session. For each page it prints the best time to first byte over ``--repeat``
requests, and a floor measured in the same run: the same core/rules read functions
the page calls, in one unit of work, without Flask, HTTP or templates. Target: every
page under one second.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import re
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from argon2 import PasswordHasher  # noqa: E402
from sqlalchemy import text  # noqa: E402

from storeflow.core import accounts, clock, config, operator  # noqa: E402
from storeflow.core.commerce import (  # noqa: E402
    catalog,
    events,
    profiles,
    replenishment,
    subscribers,
    sync,
    waitlists,
)
from storeflow.core.runtime import Runtime  # noqa: E402
from storeflow.core.storage import migrate  # noqa: E402
from storeflow.core.storage.tables import (  # noqa: E402
    Enrollment,
    EnrollmentStep,
    Event,
    InboundDelivery,
    Message,
    OrderLine,
    OrderRow,
    ProductRow,
    Subscriber,
    User,
    VariantRow,
    WaitlistEntry,
)
from storeflow.core.stores import commands, health, integrations  # noqa: E402
from storeflow.rules import dryrun, enrollments, ledger, runner, schema, sequences  # noqa: E402
from storeflow.web.app import create_app  # noqa: E402
from tests.live_server import serving  # noqa: E402

CHUNK = 20_000
PASSWORD = "bench-password"
ORDER = "ecommerce.order_placed"
# The dry-run replays every trigger event of its period: one day here is ~3,600 orders
# (the bench's 50k order events fall in two weeks); its cost follows that count.
DRY_RUN_DAYS = 1


def chunks(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]


def insert(session: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for part in chunks(rows):
        session.execute(table.__table__.insert(), part)


def populate(rt: Runtime, args: argparse.Namespace) -> dict[str, Any]:
    now = clock.now()
    with rt.unit_of_work() as session:
        company = accounts.create_company(session, "bench", "Bench")
        store = integrations.create(session, company, "woocommerce", store_url="https://b.example")
        user = User(
            email="owner@bench.example.com",
            password_hash=PasswordHasher().hash(PASSWORD),
            session_version=0,
        )
        session.add(user)
        session.flush()
        accounts.add_member(session, user, company, "owner")
        cid, iid = company.id, store.id
        seq = runner.save_sequence(
            session,
            cid,
            schema.structure_sequence(
                {
                    "id": "thanks",
                    "name": "Thanks",
                    "trigger": {"event": ORDER},
                    "steps": [
                        {"email": {"subject": "Thanks {{ subscriber.email }}", "body": "Hi"}}
                    ],
                }
            ),
        )
        seq_id = seq.id
    base = {"company_id": cid, "integration_id": iid}
    with rt.unit_of_work() as session:
        insert(
            session,
            ProductRow,
            [
                {
                    **base,
                    "provider": "woocommerce",
                    "provider_product_id": str(1000 + n),
                    "title": f"Product {n:05d} {'coffee' if n % 10 == 0 else 'tea'}",
                    "type": "variable",
                    "status": "publish",
                    "slug": f"p{n}",
                    "categories": [],
                    "price_cents": 1000 + n,
                    "currency": "USD",
                    "image_url": f"https://b.example/img/{n}.jpg",
                    "stock_status": "instock",
                    "deleted": False,
                    "updated_at": now,
                }
                for n in range(args.products)
            ],
        )
        pids = [r[0] for r in session.execute(text("SELECT id FROM products ORDER BY id"))]
        insert(
            session,
            VariantRow,
            [
                {
                    **base,
                    "product_id": pid,
                    "provider_variant_id": f"{1000 + n}-{v}",
                    "title": f"Size {v}",
                    "sku": f"SKU-{n}-{v}",
                    "price_cents": 1000 + n,
                    "stock_status": "outofstock" if v else "instock",
                    "deleted": False,
                }
                for n, pid in enumerate(pids)
                for v in range(2)
            ],
        )
        insert(
            session,
            Subscriber,
            [
                {
                    "company_id": cid,
                    "email": f"s{n:06d}@example.com",
                    "first_name": f"First{n}",
                    "last_name": "Last",
                    "status": "active",
                    "tags": [],
                    "attributes": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(args.subscribers)
            ],
        )
        sids = [r[0] for r in session.execute(text("SELECT id FROM subscribers ORDER BY id"))]
    with rt.unit_of_work() as session:
        insert(
            session,
            OrderRow,
            [
                {
                    **base,
                    "provider": "woocommerce",
                    "provider_order_id": str(n),
                    "order_number": str(n),
                    "subscriber_id": sids[n % len(sids)],
                    "email": f"s{n % len(sids):06d}@example.com",
                    "status": "completed",
                    "state": "fulfilled",
                    "currency": "USD",
                    "total_cents": 2500,
                    "refunded_cents": 0,
                    "ordered_at": now - timedelta(minutes=n * 7),
                    "deleted": False,
                    "awaiting_payment": False,
                    "updated_at": now,
                }
                for n in range(args.orders)
            ],
        )
        oids = [r[0] for r in session.execute(text("SELECT id FROM orders ORDER BY id"))]
        insert(
            session,
            OrderLine,
            [
                {
                    "company_id": cid,
                    "order_id": oid,
                    "position": 0,
                    "provider_product_id": str(1000 + n % args.products),
                    "provider_variant_id": f"{1000 + n % args.products}-0",
                    "title": f"Product {n % args.products:05d}",
                    "quantity": 1,
                    "price_cents": 2500,
                    "total_cents": 2500,
                }
                for n, oid in enumerate(oids)
            ],
        )
        insert(
            session,
            Event,
            [
                {
                    "company_id": cid,
                    "name": ORDER if n % 4 == 0 else "ecommerce.cart_started",
                    "idempotency_key": f"bench:{n}",
                    "subscriber_id": sids[n % len(sids)],
                    "email": f"s{n % len(sids):06d}@example.com",
                    "provider": "woocommerce",
                    "integration_id": iid,
                    "occurred_at": now - timedelta(seconds=(n * 1_209_600) // args.events),
                    "properties": {"orderNumber": str(n)},
                    "live": True,
                    "created_at": now,
                }
                for n in range(args.events)
            ],
        )
    with rt.unit_of_work() as session:
        eids = [
            r[0]
            for r in session.execute(
                text("SELECT id FROM events WHERE name = :n ORDER BY id LIMIT :k"),
                {"n": ORDER, "k": args.messages},
            )
        ]
        insert(
            session,
            Enrollment,
            [
                {
                    "company_id": cid,
                    "sequence_id": seq_id,
                    "subscriber_id": sids[(n * 4) % len(sids)],
                    "email": f"s{(n * 4) % len(sids):06d}@example.com",
                    "status": "completed",
                    "entry_event_id": eid,
                    "entry_event_name": ORDER,
                    "entry_properties": {},
                    "next_step": 1,
                    "enrolled_at": now - timedelta(minutes=n),
                    "subscriber_snapshot": {},
                }
                for n, eid in enumerate(eids)
            ],
        )
        rows = list(session.execute(text("SELECT id, subscriber_id, email FROM enrollments")))
        insert(
            session,
            EnrollmentStep,
            [
                {
                    "company_id": cid,
                    "enrollment_id": rid,
                    "position": 0,
                    "kind": "email",
                    "status": "done",
                    "due_at": now,
                    "done_at": now,
                }
                for rid, _, _ in rows
            ],
        )
        insert(
            session,
            Message,
            [
                {
                    "company_id": cid,
                    "enrollment_id": rid,
                    "sequence_id": seq_id,
                    "step": 0,
                    "subscriber_id": sid,
                    "email": email,
                    "subject": "Thanks",
                    "status": "sent",
                    "message_id": f"<bench-{rid}@example.com>",
                    "created_at": now - timedelta(minutes=n),
                    "sent_at": now - timedelta(minutes=n),
                }
                for n, (rid, sid, email) in enumerate(rows)
            ],
        )
        insert(
            session,
            InboundDelivery,
            [
                {
                    **base,
                    "provider": "woocommerce",
                    "kind": "webhook",
                    "topic": "product.updated",
                    "dedupe_key": f"bench-delivery-{n}",
                    "headers": {},
                    "body": b"{}",
                    "status": "failed",
                    "error": "bench: not processable",
                    "received_at": now,
                }
                for n in range(20)
            ],
        )
        insert(
            session,
            WaitlistEntry,
            [
                {
                    **base,
                    "provider": "woocommerce",
                    "provider_product_id": str(1000 + n % 50),
                    "provider_variant_id": f"{1000 + n % 50}-1",
                    "subscriber_id": sids[n],
                    "email": f"s{n:06d}@example.com",
                    "product_title": f"Product {n % 50:05d}",
                    "status": "waiting",
                    "cycle": 1,
                    "requested_at": now,
                    "updated_at": now,
                }
                for n in range(min(5000, len(sids)))
            ],
        )
        session.execute(text("ANALYZE"))
    busy = sids[0]  # s000000: the most orders, events and messages
    return {"company_id": cid, "integration_id": iid, "subscriber_id": busy}


# --- the floor: what each page reads, without Flask, HTTP or templates ----------------------


def floors(rt: Runtime, ids: dict[str, Any]) -> dict[str, Callable[[Any], Any]]:
    cid, iid, sid = ids["company_id"], ids["integration_id"], ids["subscriber_id"]
    now = clock.now()
    since = now - timedelta(days=14)
    min_samples = rt.settings.replenishment_min_samples

    def products(s: Any, search: str | None) -> Any:
        rows, _ = catalog.list_products(s, cid, search=search, limit=25, offset=0)
        return product_views(s, rows)

    def product_page(s: Any) -> Any:
        row = catalog.get_product(s, cid, "woocommerce", "1000")
        assert row is not None
        return product_views(s, [row])

    def product_views(s: Any, rows: list[Any]) -> Any:
        ids_ = [r.id for r in rows]
        return (
            catalog.variants_of(s, ids_),
            replenishment.overview(s, rows, min_samples=min_samples),
            waitlists.counts(s, ids_),
        )

    def store(s: Any, row: Any) -> Any:
        return (
            commands.latest_sync(s, row.id),
            sync.runs(s, integration_id=row.id, limit=3),
            health.recent_failures(s, row.id),
            commands.recent(s, row.id),
        )

    def profile(s: Any) -> Any:
        sub = subscribers.of_company(s, cid, sid)
        runs, _ = enrollments.page(s, cid, email=sub.email, limit=50, offset=0)
        mails, _ = ledger.page(s, cid, email=sub.email, limit=50, offset=0)
        return (
            profiles.combined(s, sub.id),
            profiles.per_store(s, sub.id),
            profiles.purchased_products(s, sub.id),
            replenishment.pending_for_subscriber(s, sub.id),
            waitlists.active_entries(s, sub.id),
            events.recent(s, cid, email=sub.email, limit=50),
            enrollments.step_history(s, [r.id for r in runs]),
            mails,
        )

    def sequence(s: Any) -> Any:
        row = sequences.get(s, cid, "thanks")
        assert row is not None
        return enrollments.step_counts(s, row.id), enrollments.active_count(s, row.id)

    def dry_run(s: Any) -> Any:
        row = sequences.get(s, cid, "thanks")
        assert row is not None
        company = accounts.company_by_id(s, cid)
        seq = schema.structure_sequence(row.definition)
        report = dryrun.simulate(s, company, seq, days=DRY_RUN_DAYS, limit=200, now=clock.now())
        s.rollback()
        return report.rendered(), sequence(s)

    return {
        "/dashboard": lambda s: (
            events.daily_counts(s, cid, since),
            ledger.daily_sent(s, cid, since),
            ledger.attributed_revenue(s, cid, now - timedelta(days=30)),
            integrations.listing(s, company_id=cid),
        ),
        "/settings/integrations": lambda s: [
            store(s, row) for row in integrations.listing(s, company_id=cid)
        ],
        f"/settings/integrations/{iid}": lambda s: store(s, integrations.get(s, iid, cid)),
        "/settings/products": lambda s: products(s, None),
        "/settings/products?q=coffee&page=1": lambda s: products(s, "coffee"),
        "/settings/products/woocommerce/1000": product_page,
        "/subscribers": lambda s: subscribers.search(s, cid, None, limit=25, offset=0),
        "/subscribers?q=s0999": lambda s: subscribers.search(s, cid, "s0999", limit=25, offset=0),
        f"/subscribers/{sid}": profile,
        "/sequences": lambda s: [
            enrollments.active_count(s, r.id) for r in sequences.listing(s, cid)
        ],
        "/sequences/thanks": sequence,
        f"POST /sequences/thanks/dry-run (days={DRY_RUN_DAYS})": dry_run,
        "/operations": lambda s: (
            operator.jobs(s, status="dead", company_id=cid, limit=50),
            [
                health.recent_failures(s, r.id, limit=50)
                for r in integrations.listing(s, company_id=cid)
            ],
            ledger.page(s, cid, status="unknown", limit=50, offset=0),
        ),
    }


def best(repeat: int, run: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


class Browser:
    """A signed-in HTTP client that measures the time to the first byte of the answer."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.cookie = ""
        page = self.request("GET", "/signin")[1]
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token
        status, _ = self.request(
            "POST",
            "/signin",
            f"csrf_token={token.group(1)}&email=owner%40bench.example.com&password={PASSWORD}",
        )
        assert status == 303, status
        dashboard = self.request("GET", "/dashboard")[1]
        found = re.search(r'name="csrf_token" value="([^"]+)"', dashboard)
        assert found
        self.csrf = found.group(1)

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        answer = conn.getresponse()
        for name, value in answer.getheaders():
            if name.lower() == "set-cookie":
                self.cookie = value.split(";", 1)[0]
        data = answer.read().decode()
        conn.close()
        return answer.status, data

    def ttfb(self, target: str) -> float:
        method, _, path = target.split(" (")[0].rpartition(" ")
        method = method or "GET"
        body = f"csrf_token={self.csrf}&days={DRY_RUN_DAYS}" if method == "POST" else None
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        headers = {"Cookie": self.cookie}
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        start = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        answer = conn.getresponse()  # returns once the status line and headers arrived
        first = time.perf_counter() - start
        answer.read()
        conn.close()
        assert answer.status == 200, (target, answer.status)
        return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate.upgrade(url)
        settings = config.Settings(
            var_dir=Path(tmp) / "var", database_url=url, secret_key="bench", queue_immediate=True
        )
        rt = Runtime.build(settings)
        started = time.perf_counter()
        ids = populate(rt, args)
        print(
            f"populated {args.products} products, {args.subscribers} subscribers, {args.events} "
            f"events, {args.orders} orders, {args.messages} messages "
            f"in {time.perf_counter() - started:.1f} s (SQLite)"
        )
        app = create_app(runtime=rt)
        reads = floors(rt, ids)
        print(f"{'page':<44} {'TTFB ms':>8} {'floor ms':>9} {'ratio':>6}")
        worst = 0.0
        with serving(rt, lambda: app) as base:
            client = Browser(base)
            for target, read in reads.items():
                client.ttfb(target)  # warm: templates compiled, pages cached by SQLite

                def floor(read: Callable[[Any], Any] = read) -> None:
                    with rt.unit_of_work() as session:
                        read(session)

                floor()
                page = best(args.repeat, lambda target=target: client.ttfb(target))
                bare = best(args.repeat, floor)
                worst = max(worst, page)
                label = target.replace(ids["integration_id"], "<id>")
                print(f"{label:<44} {page * 1000:>8.1f} {bare * 1000:>9.1f} {page / bare:>6.2f}")
        rt.close()
    print(f"slowest page: {worst * 1000:.0f} ms (target: under 1000 ms)")


if __name__ == "__main__":
    main()
