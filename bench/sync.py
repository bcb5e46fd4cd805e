"""Store sync benchmark: a big store pushed as signed sync batches through real HTTP.

For each database (SQLite, then PostgreSQL when reachable) it migrates a fresh
database, starts ``storeflow serve`` (gunicorn) in a subprocess with
``STOREFLOW_VAR_DIR``/``STOREFLOW_DATABASE_URL`` set, and pushes, in pages of 500
through ``POST /api/woocommerce/sync/<resource>`` (installation token + Standard
Webhooks signature, like the plugin):

- products: variable products, each followed by its variations (20k + 60k),
- customers (50k),
- orders with 3 line items each (200k): mostly registered buyers, some guests,
  some refunded, some cancelled.

It prints items/s per resource and overall, and the server's peak RSS (the
largest gunicorn worker's VmHWM) after 10% of the orders and at the end. Then, in
the same run, the floor: the very rows the sync wrote, read back and inserted
with ``executemany`` (SQLAlchemy Core, one commit per 5,000 rows) into the same
tables of a fresh database; and the ratio sync/floor (target >= 0.3), and the RSS
ratio end/10% (target <= 1.3).

Usage: ``python bench/sync.py [--scale 0.1] [--skip-sqlite] [--skip-postgres]
[--workers 2] [--clients 3]``. ``--scale 1`` is the full size (about 330k items).
PostgreSQL: ``postgresql+psycopg://postgres@127.0.0.1:5432`` with databases
``storeflow_sync_bench`` and ``storeflow_sync_floor`` (dropped and created here;
``test`` is never touched beyond connecting to it to create them).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, select, text  # noqa: E402

STOREFLOW = str(Path(sys.executable).with_name("storeflow"))
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_BENCH = "postgresql+psycopg://postgres@127.0.0.1:5432/storeflow_sync_bench"
PG_FLOOR = "postgresql+psycopg://postgres@127.0.0.1:5432/storeflow_sync_floor"
PAGE = 500
# The tables a sync writes, parents first (the floor inserts them in this order).
DATA_TABLES = (
    "subscribers",
    "store_customers",
    "products",
    "variants",
    "orders",
    "order_lines",
    "events",
)


# --- the store --------------------------------------------------------------------------


def product_items(count: int) -> Iterator[dict[str, Any]]:
    """Variable products, each followed by its 3 variations."""
    from tests.providers import woocommerce_payloads as fx

    for number in range(count):
        parent, *variations = fx.catalogue(1, 3, first_id=1_000_000 + number * 4)
        yield {**parent, "name": f"Hoodie {number}", "slug": f"hoodie-{number}"}
        yield from variations


def customer_items(count: int) -> Iterator[dict[str, Any]]:
    from tests.providers import woocommerce_payloads as fx

    template = fx.customer()
    for number in range(count):
        email = f"customer{number}@example.com"
        yield {
            **template,
            "id": 10 + number,
            "email": email,
            "first_name": f"First{number % 997}",
            "username": f"customer{number}",
            "billing": {**template["billing"], "email": email},
        }


def _order_templates() -> list[dict[str, Any]]:
    from tests.providers import woocommerce_payloads as fx

    templates = []
    for status, refunds in (
        ("completed", []),
        ("completed", []),
        ("processing", []),
        ("completed", [fx.refund(id=1, total="-10.00")]),
        ("refunded", [fx.refund(id=1, total="-175.00")]),
        ("cancelled", []),
        ("on-hold", []),
    ):
        templates.append(
            fx.order(
                status=status,
                refunds=refunds,
                total="175.00",
                line_items=[
                    fx.variation_line_item(id=1, quantity=1, unit_price="45.00"),
                    fx.variation_line_item(id=2, quantity=2, unit_price="40.00"),
                    fx.line_item(id=3, quantity=1, unit_price="45.00"),
                ],
            )
        )
    return templates


def order_items(count: int, customers: int, products: int) -> Iterator[dict[str, Any]]:
    """Orders over two years; 80% by registered customers, 20% by guests."""
    templates = _order_templates()
    for number in range(count):
        template = templates[number % len(templates)]
        registered = number % 5 != 0
        customer = number % max(1, customers)
        email = f"customer{customer}@example.com" if registered else f"guest{number}@example.com"
        day = number * 730 // max(1, count)
        created = f"2024-{1 + day // 61 % 12:02d}-{1 + day % 28:02d}T10:{number % 60:02d}:00"
        lines = []
        for position, line in enumerate(template["line_items"]):
            parent = 1_000_000 + ((number * 7 + position * 13) % max(1, products)) * 4
            lines.append(
                {
                    **line,
                    "id": number * 3 + position,
                    "product_id": parent,
                    "variation_id": parent + 1 + position if position < 2 else 0,
                }
            )
        order_id = 5_000_000 + number
        yield {
            **template,
            "id": order_id,
            "number": str(order_id),
            "customer_id": 10 + customer if registered else 0,
            "billing": {**template["billing"], "email": email},
            "date_created_gmt": created,
            "date_modified_gmt": created,
            "date_created": created,
            "date_modified": created,
            "line_items": lines,
            "refunds": [{**r, "id": order_id * 10 + i} for i, r in enumerate(template["refunds"])],
        }


# --- the server ---------------------------------------------------------------------------


def setup(url: str, var: Path) -> tuple[str, str]:
    """Migrate, create a company + connected integration; return (token, signing secret)."""
    os.environ["STOREFLOW_VAR_DIR"] = str(var)
    os.environ["STOREFLOW_DATABASE_URL"] = url
    from storeflow.core import accounts
    from storeflow.core.storage import db, migrate
    from storeflow.core.stores import integrations

    migrate.upgrade(url)
    engine = db.make_engine(url)
    token = "sfit_" + secrets.token_urlsafe(32)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with db.unit_of_work(db.make_sessionmaker(engine)) as session:
        company = accounts.create_company(session, "bench", "Bench")
        row = integrations.create(session, company, "woocommerce", store_url="https://bench.test")
        row.installation_token_hash = accounts.hash_token(token)
        row.signing_secret = secret
    engine.dispose()
    return token, secret


def wait_http(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not start")


def worker_peak_rss_mb(server_pid: int) -> float:
    """The largest peak RSS (VmHWM) among the gunicorn workers, in MiB."""
    try:
        children = Path(f"/proc/{server_pid}/task/{server_pid}/children").read_text().split()
    except OSError:
        return 0.0
    peak = 0
    for pid in children:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


class Pusher:
    """Sends pages from a producer thread through ``clients`` HTTP connections."""

    def __init__(self, port: int, token: str, secret: str, clients: int) -> None:
        self.port, self.token, self.secret, self.clients = port, token, secret, clients
        self.errors: list[str] = []
        self.items = 0
        self.lock = threading.Lock()

    def _signed(self, resource: str, body: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
        from storeflow.core.testing import plugin_client

        data = json.dumps(body, separators=(",", ":")).encode()
        headers = plugin_client.signed_headers(self.token, self.secret, data)
        return f"/api/woocommerce/sync/{resource}", data, headers

    def push(
        self, resource: str, items: Iterator[dict[str, Any]], total: int, on_page: Any = None
    ) -> float:
        pages: queue.Queue[Any] = queue.Queue(maxsize=self.clients * 2)

        def produce() -> None:
            page: list[dict[str, Any]] = []
            number = 0
            sent = 0
            for item in items:
                page.append(item)
                if len(page) == PAGE:
                    sent += len(page)
                    number += 1
                    body = {"syncRunId": "bench", "page": number, "isLast": sent >= total}
                    pages.put(self._signed(resource, {**body, "items": page}))
                    page = []
            if page:
                number += 1
                pages.put(
                    self._signed(
                        resource,
                        {"syncRunId": "bench", "page": number, "isLast": True, "items": page},
                    )
                )
            for _ in range(self.clients):
                pages.put(None)

        def send() -> None:
            while (job := pages.get()) is not None:
                if self.errors:
                    continue  # drain: the run is lost anyway
                path, data, headers = job
                # gunicorn's sync workers close every connection: one per page.
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
                try:
                    conn.request("POST", path, body=data, headers=headers)
                    response = conn.getresponse()
                    answer = json.loads(response.read())
                except (OSError, ValueError) as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                finally:
                    conn.close()
                if response.status != 200 or answer.get("failed"):
                    self.errors.append(f"{response.status}: {str(answer)[:300]}")
                with self.lock:
                    self.items += answer.get("accepted", 0)
                    if on_page is not None:
                        on_page(self.items)

        producer = threading.Thread(target=produce, daemon=True)
        senders = [threading.Thread(target=send) for _ in range(self.clients)]
        started = time.perf_counter()
        producer.start()
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
        elapsed = time.perf_counter() - started
        if self.errors:
            raise SystemExit(f"{len(self.errors)} pages failed, e.g. {self.errors[0]}")
        if self.items != total:
            raise SystemExit(f"{resource}: the server accepted {self.items} of {total} items")
        return elapsed


# --- the floor ----------------------------------------------------------------------------


def floor_seconds(source_url: str, target_url: str) -> tuple[float, int]:
    """Insert the rows the sync wrote into a fresh copy of the schema; time the inserts."""
    from storeflow.core.storage import migrate
    from storeflow.core.storage.tables import Base

    migrate.upgrade(target_url)
    source = create_engine(source_url)
    target = create_engine(target_url)
    tables = Base.metadata.tables
    with source.connect() as src, target.begin() as dst:
        for name in ("companies", "integrations"):  # parents, not timed
            rows = [dict(r._mapping) for r in src.execute(select(tables[name]))]
            dst.execute(tables[name].insert(), rows)
    elapsed = 0.0
    copied = 0
    with source.connect() as src:
        for name in DATA_TABLES:
            table = tables[name]
            last = 0
            while True:
                chunk = [
                    dict(r._mapping)
                    for r in src.execute(
                        select(table).where(table.c.id > last).order_by(table.c.id).limit(5000)
                    )
                ]
                if not chunk:
                    break
                last = chunk[-1]["id"]
                started = time.perf_counter()
                with target.begin() as dst:
                    dst.execute(table.insert(), chunk)
                elapsed += time.perf_counter() - started
                copied += len(chunk)
    source.dispose()
    target.dispose()
    return elapsed, copied


# --- one database -------------------------------------------------------------------------


def run(label: str, url: str, floor_url: str, var: Path, args: Any) -> dict[str, Any]:
    sizes = {
        "products": int(20_000 * args.scale),
        "customers": int(50_000 * args.scale),
        "orders": int(200_000 * args.scale),
    }
    token, secret = setup(url, var)
    port = 18500 + os.getpid() % 500
    env = {
        **os.environ,
        "STOREFLOW_VAR_DIR": str(var),
        "STOREFLOW_DATABASE_URL": url,
        "PYTHONPATH": str(ROOT),
        # gunicorn >= 23 opens a control socket at $XDG_RUNTIME_DIR/gunicorn.ctl (else
        # ~/.gunicorn/): keep ours private, another server on the machine must not share it.
        "XDG_RUNTIME_DIR": str(var),
    }
    log = open(var / "server.log", "ab")  # noqa: SIM115
    server = subprocess.Popen(
        [STOREFLOW, "serve", "--port", str(port), "--workers", str(args.workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    figures: dict[str, Any] = {"label": label}
    try:
        wait_http(port)
        pusher = Pusher(port, token, secret, args.clients)
        total_items = 0
        total_seconds = 0.0
        streams = {
            "products": (product_items(sizes["products"]), sizes["products"] * 4),
            "customers": (customer_items(sizes["customers"]), sizes["customers"]),
            "orders": (
                order_items(sizes["orders"], sizes["customers"], sizes["products"]),
                sizes["orders"],
            ),
        }
        rss_mark: dict[str, float] = {}
        for resource, (items, count) in streams.items():
            pusher.items = 0
            on_page = None
            if resource == "orders":
                tenth = max(1, count // 10)

                def on_page(done: int, tenth: int = tenth) -> None:
                    if done >= tenth and "tenth" not in rss_mark:
                        rss_mark["tenth"] = worker_peak_rss_mb(server.pid)

            seconds = pusher.push(resource, items, count, on_page)
            figures[resource] = count / seconds
            total_items += count
            total_seconds += seconds
            print(
                f"  {label} {resource:9} {count:>8} items {seconds:7.1f} s {count / seconds:8.0f}/s"
            )
        figures["items"] = total_items
        figures["sync"] = total_items / total_seconds
        figures["rss_tenth"] = rss_mark.get("tenth", 0.0)
        figures["rss_end"] = worker_peak_rss_mb(server.pid)
    except BaseException:
        print((var / "server.log").read_text()[-3000:], file=sys.stderr)
        raise
    finally:
        server.terminate()
        server.wait(60)
        log.close()
    seconds, rows = floor_seconds(url, floor_url)
    figures["floor"] = total_items / seconds
    figures["rows"] = rows
    figures["ratio"] = figures["sync"] / figures["floor"]
    figures["rss_ratio"] = figures["rss_end"] / figures["rss_tenth"] if figures["rss_tenth"] else 0
    return figures


def postgres_ready() -> bool:
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in ("storeflow_sync_bench", "storeflow_sync_floor"):
                conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
                conn.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        return True
    except Exception as exc:  # noqa: BLE001 - report and skip
        print(f"PostgreSQL skipped: {exc}")
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    base = Path(tempfile.mkdtemp(prefix="storeflow-bench-sync-"))
    try:
        if not args.skip_sqlite:
            var = base / "sqlite"
            var.mkdir()
            results.append(
                run(
                    "sqlite",
                    f"sqlite:///{var / 'storeflow.db'}",
                    f"sqlite:///{var / 'floor.db'}",
                    var,
                    args,
                )
            )
            report(results[-1:])
        if not args.skip_postgres and postgres_ready():
            var = base / "postgres"
            var.mkdir()
            results.append(run("postgres", PG_BENCH, PG_FLOOR, var, args))
            report(results[-1:])
    finally:
        shutil.rmtree(base, ignore_errors=True)
    report(results)


def report(results: list[dict[str, Any]]) -> None:
    print()
    print(
        f"{'database':10} {'items':>8} {'sync/s':>9} {'floor/s':>9} {'ratio':>6}   "
        f"{'RSS@10%':>8} {'RSS@end':>8} {'ratio':>6}   products/s customers/s orders/s"
    )
    for r in results:
        print(
            f"{r['label']:10} {r['items']:>8} {r['sync']:>9.0f} {r['floor']:>9.0f} "
            f"{r['ratio']:>6.2f}   {r['rss_tenth']:>7.0f}M {r['rss_end']:>7.0f}M "
            f"{r['rss_ratio']:>6.2f}   {r['products']:>10.0f} {r['customers']:>11.0f} "
            f"{r['orders']:>8.0f}"
        )
    print("targets: sync/floor >= 0.3; RSS at the end <= 1.3x RSS after 10% of the orders")


if __name__ == "__main__":
    main()
