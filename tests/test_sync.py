"""Store sync batches (``POST /api/woocommerce/sync/<resource>``) and native webhooks
map WooCommerce REST objects into the same idempotent, order-safe upserts."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storeflow.core.commerce import orders
from storeflow.core.storage.tables import (
    Event,
    Integration,
    Job,
    OrderLine,
    OrderRow,
    ProductRow,
    StoreCustomer,
    Subscriber,
    SyncRun,
    VariantRow,
)
from tests.providers import woocommerce_payloads as fx
from tests.synckit import counts, live_events, plugin_for
from tests.test_webhook_flow import send

BIG = 2**53 + 1  # not representable as a double: must survive as an exact string


@pytest.fixture
def plugin(rt, client, tenant):
    return plugin_for(rt, client, tenant.integration_id)


@pytest.fixture
def other_plugin(rt, client, other_tenant):
    return plugin_for(rt, client, other_tenant.integration_id)


def product_rows(rt, company_id):
    with rt.unit_of_work() as session:
        products = {
            p.provider_product_id: p
            for p in session.scalars(select(ProductRow).where(ProductRow.company_id == company_id))
        }
        variants = {
            v.provider_variant_id: v
            for v in session.scalars(select(VariantRow).where(VariantRow.company_id == company_id))
        }
        return products, variants


# --- products ---------------------------------------------------------------------------


def test_products_batch_with_simple_variable_and_variations(rt, plugin, tenant, client):
    items = [
        fx.product_simple(id=794, categories=("Clothing", "T-Shirts")),
        fx.product_variable(id=732, variation_ids=(733, 734)),
        fx.variation(id=733, parent_id=732, manage_stock="parent", stock_quantity=7),
        fx.variation(
            id=734,
            parent_id=732,
            options=(("Color", "Green"), ("Size", "Medium")),
            price="39.50",
            sku="HOODIE-GREEN-M",
            stock_status="outofstock",
            stock_quantity=0,
        ),
    ]
    body = plugin.ok("products", items)
    assert body == {
        "success": True,
        "accepted": 4,
        "upserted": 4,
        "skippedStale": 0,
        "unchanged": 0,
        "ignored": 0,
        "failed": [],
        "runFinished": False,
    }
    products, variants = product_rows(rt, tenant.company_id)
    assert set(products) == {"794", "732"}
    assert set(variants) == {"794", "733", "734"}
    simple = products["794"]
    assert simple.title == "Premium Quality" and simple.price_cents == 2199
    assert simple.categories == ["Clothing", "T-Shirts"]
    assert simple.url == "https://shop.example.com/product/premium-quality/"
    assert simple.image_url.endswith("T_2_front.jpg")
    assert (simple.stock_status, simple.stock_quantity) == ("instock", 12)
    hoodie = products["732"]
    assert hoodie.type == "variable" and hoodie.title == "Hoodie"
    assert variants["733"].product_id == hoodie.id
    assert variants["733"].title == "Blue, Large" and variants["733"].stock_quantity == 7
    assert variants["734"].stock_status == "outofstock" and variants["734"].price_cents == 3950

    product = client.get("/api/products/woocommerce/732", headers=tenant.auth).get_json()
    assert product["success"] is True
    shape = product["product"]
    assert shape["title"] == "Hoodie" and shape["deleted"] is False
    assert shape["categories"] == ["Clothing", "Hoodies"]
    assert [v["providerVariantId"] for v in shape["variants"]] == ["733", "734"]
    assert shape["variants"][1]["waitlist"] == {"waiting": 0, "notified": 0}
    assert shape["replenishment"] == {
        "enabled": False,
        "days": None,
        "match": "product",
        "suggestedDays": None,
        "sampleSize": 0,
    }
    assert shape["pendingReminders"] == 0
    simple_json = client.get("/api/products/woocommerce/794", headers=tenant.auth).get_json()
    (variant,) = simple_json["product"]["variants"]
    assert variant["providerVariantId"] == "794" and variant["priceCents"] == 2199
    assert simple_json["product"]["currency"] == "USD"


def test_variation_update_with_parent_id_before_and_after_its_parent(rt, client, tenant):
    # The variation arrives first (webhooks are not ordered): a placeholder parent.
    update = fx.variation(
        id=201, parent_id=101, manage_stock="parent", date_modified_gmt="2025-02-01T10:00:00"
    )
    assert send(client, tenant, "product.updated", update).status_code == 200
    products, variants = product_rows(rt, tenant.company_id)
    assert products["101"].title == "" and variants["201"].product_id == products["101"].id
    assert send(client, tenant, "product.created", fx.product_variable(id=101)).status_code == 200
    # A newer variation update: sold out.
    sold_out = fx.variation(
        id=201,
        parent_id=101,
        manage_stock="parent",
        stock_status="outofstock",
        stock_quantity=0,
        date_modified_gmt="2025-02-02T10:00:00",
    )
    assert send(client, tenant, "product.updated", sold_out).status_code == 200
    # The first one again, late: stale.
    late = fx.variation(id=201, parent_id=101, date_modified_gmt="2025-02-01T11:00:00")
    assert send(client, tenant, "product.updated", late).status_code == 200
    products, variants = product_rows(rt, tenant.company_id)
    assert products["101"].title == "Hoodie" and products["101"].categories == [
        "Clothing",
        "Hoodies",
    ]
    assert (variants["201"].stock_status, variants["201"].stock_quantity) == ("outofstock", 0)
    assert len(products) == 1 and len(variants) == 1


def test_an_older_product_payload_after_a_newer_one_is_skipped(rt, plugin, tenant, client):
    newer = fx.product_simple(id=794, price="25.00", date_modified_gmt="2025-03-01T12:00:00")
    older = fx.product_simple(id=794, price="19.00", date_modified_gmt="2025-02-01T12:00:00")
    assert plugin.ok("products", [newer])["upserted"] == 1
    body = plugin.ok("products", [older])
    assert (body["upserted"], body["skippedStale"], body["unchanged"]) == (0, 1, 0)
    # The same through a webhook.
    assert send(client, tenant, "product.updated", older).status_code == 200
    products, variants = product_rows(rt, tenant.company_id)
    assert products["794"].price_cents == 2500 and variants["794"].price_cents == 2500


def test_deleted_products_are_marked_deleted_not_lost(rt, client, tenant, plugin):
    from datetime import timedelta

    from storeflow.core import clock

    plugin.ok("products", [fx.product_simple(id=794), fx.product_variable(id=732)])
    assert send(client, tenant, "product.deleted", fx.deleted(794)).status_code == 200
    products, _ = product_rows(rt, tenant.company_id)
    assert products["794"].deleted is True and products["794"].title == "Premium Quality"
    listed = client.get("/api/products", headers=tenant.auth).get_json()
    assert [p["providerProductId"] for p in listed["products"]] == ["732"]
    one = client.get("/api/products/woocommerce/794", headers=tenant.auth).get_json()
    assert one["product"]["deleted"] is True
    # A late payload from before the deletion does not bring it back ...
    plugin.ok("products", [fx.product_simple(id=794)])
    assert product_rows(rt, tenant.company_id)[0]["794"].deleted is True
    # ... a product.restored modified after the deletion does.
    clock.travel(timedelta(minutes=5))
    restored_at = clock.now().strftime("%Y-%m-%dT%H:%M:%S")
    restored = fx.product_simple(id=794, date_modified_gmt=restored_at)
    assert send(client, tenant, "product.restored", restored).status_code == 200
    assert product_rows(rt, tenant.company_id)[0]["794"].deleted is False
    # A deletion of an id never seen keeps a tombstone, so a late payload stays dead.
    assert send(client, tenant, "product.deleted", fx.deleted(999)).status_code == 200
    plugin.ok("products", [fx.product_simple(id=999)])
    assert product_rows(rt, tenant.company_id)[0]["999"].deleted is True


def test_product_list_search_and_paging(rt, plugin, tenant, client):
    plugin.ok("products", fx.catalogue(3, 2, first_id=500))
    listed = client.get("/api/products?limit=2", headers=tenant.auth).get_json()
    assert listed["total"] == 3 and len(listed["products"]) == 2
    assert all(len(p["variants"]) == 2 for p in listed["products"])
    found = client.get("/api/products?search=hoodie%201", headers=tenant.auth).get_json()
    assert [p["title"] for p in found["products"]] == ["Hoodie 1"]
    by_sku = client.get("/api/products?search=h503-0", headers=tenant.auth).get_json()
    assert [p["providerProductId"] for p in by_sku["products"]] == ["503"]
    wildcard = client.get("/api/products?search=%25", headers=tenant.auth).get_json()
    assert wildcard["total"] == 0
    assert (
        client.get("/api/products?provider=shopify", headers=tenant.auth).get_json()["total"] == 0
    )
    assert client.get("/api/products?limit=x", headers=tenant.auth).status_code == 422
    missing = client.get("/api/products/woocommerce/1", headers=tenant.auth)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "product_not_found"


# --- customers and guests -----------------------------------------------------------------


def test_customers_batch(rt, plugin, tenant):
    items = [
        fx.customer(id=25, email="John.Doe@Example.com "),
        fx.customer(id=26, email="mia@example.com", first_name="", last_name=""),
    ]
    items[1]["billing"]["first_name"], items[1]["billing"]["last_name"] = "Mia", "Wong"
    assert plugin.ok("customers", items)["upserted"] == 2
    with rt.unit_of_work() as session:
        people = {s.email: s for s in session.scalars(select(Subscriber))}
        assert set(people) == {"john.doe@example.com", "mia@example.com"}
        assert (people["mia@example.com"].first_name, people["mia@example.com"].last_name) == (
            "Mia",
            "Wong",
        )
        accounts = {c.provider_customer_id: c for c in session.scalars(select(StoreCustomer))}
        assert accounts["25"].subscriber_id == people["john.doe@example.com"].id
    # A renamed account (newer) renames the subscriber; the old version is stale.
    renamed = fx.customer(
        id=25,
        email="john.doe@example.com",
        first_name="Johnny",
        date_modified_gmt="2025-04-01T00:00:00",
    )
    assert plugin.ok("customers", [renamed])["upserted"] == 1
    assert plugin.ok("customers", [items[0]])["skippedStale"] == 1
    with rt.unit_of_work() as session:
        john = session.scalars(
            select(Subscriber).where(Subscriber.email == "john.doe@example.com")
        ).one()
        assert john.first_name == "Johnny"


def test_guest_order_then_account_creation_with_the_same_email(rt, client, tenant, plugin):
    guest = fx.guest_order(id=1201, email="Ana@Example.com", date_created_gmt="2025-03-01T10:00:00")
    assert send(client, tenant, "order.created", guest).status_code == 200
    account = fx.customer(id=30, email=" ana@example.COM", first_name="Ana", last_name="García")
    assert send(client, tenant, "customer.created", account).status_code == 200
    later = fx.order(
        id=1300, customer_id=30, email="ana@example.com", first_name="Ana", last_name="García"
    )
    plugin.ok("orders", [later])
    with rt.unit_of_work() as session:
        (ana,) = session.scalars(select(Subscriber)).all()
        assert ana.email == "ana@example.com"
        assert session.scalars(select(StoreCustomer)).one().subscriber_id == ana.id
        assert {o.subscriber_id for o in session.scalars(select(OrderRow))} == {ana.id}
    profile = client.get("/api/subscribers/ANA@example.com", headers=tenant.auth).get_json()
    assert profile["attributes"]["ordersCount"] == 2
    assert profile["subscriber"]["firstName"] == "Ana"
    # The deleted WordPress user keeps the subscriber and the history.
    assert send(client, tenant, "customer.deleted", fx.deleted(30)).status_code == 200
    with rt.unit_of_work() as session:
        assert session.scalars(select(StoreCustomer)).one().deleted is True
        assert session.scalars(select(Subscriber)).one().email == "ana@example.com"


# --- orders: history vs live ----------------------------------------------------------------


def test_synced_orders_are_history_and_start_nothing(rt, plugin, tenant, client):
    old = fx.order(id=5, status="completed", date_created_gmt="2023-01-05T10:00:00")
    refunded = fx.order(
        id=6,
        status="processing",
        refunds=[fx.refund(id=60, total="-5.00")],
        date_created_gmt="2023-02-05T10:00:00",
    )
    assert plugin.ok("orders", [old, refunded])["upserted"] == 2
    assert live_events(rt, tenant.company_id) == []
    with rt.unit_of_work() as session:
        names = sorted(e.name for e in session.scalars(select(Event)))
        assert names == [
            "ecommerce.order_fulfilled",
            "ecommerce.order_placed",
            "ecommerce.order_placed",
            "ecommerce.order_refunded",
        ]
        assert session.scalars(select(Job).where(Job.kind == "event")).all() == []
    profile = client.get("/api/subscribers/john.doe@example.com", headers=tenant.auth).get_json()
    assert profile["attributes"]["ordersCount"] == 2
    assert profile["attributes"]["firstOrderAt"].startswith("2023-01-05T10:00:00")


def test_an_order_first_delivered_as_processing_is_placed_once(rt, client, tenant):
    first = fx.order(id=727, status="processing", date_modified_gmt="2025-03-02T09:20:00")
    assert send(client, tenant, "order.created", first).status_code == 200
    same_state_again = fx.order(
        id=727, status="processing", date_modified_gmt="2025-03-02T09:25:00"
    )
    assert send(client, tenant, "order.updated", same_state_again).status_code == 200
    done = fx.order(id=727, status="completed", date_modified_gmt="2025-03-03T09:00:00")
    assert send(client, tenant, "order.updated", done).status_code == 200
    assert send(client, tenant, "order.updated", done).status_code == 200  # re-sent
    names = [name for name, _ in live_events(rt, tenant.company_id)]
    assert names == ["ecommerce.order_placed", "ecommerce.order_fulfilled"]


@pytest.mark.parametrize("status", ["cancelled", "failed"])
def test_cancelled_and_failed_orders(rt, client, tenant, status):
    send(client, tenant, "order.created", fx.order(id=8, status="pending"))
    late = fx.order(id=8, status=status, date_modified_gmt="2025-03-05T00:00:00")
    send(client, tenant, "order.updated", late)
    names = [name for name, _ in live_events(rt, tenant.company_id)]
    assert names == ["ecommerce.order_placed", "ecommerce.order_cancelled"]


def test_each_refund_is_one_refunded_event(rt, client, tenant):
    send(client, tenant, "order.created", fx.order(id=9, status="processing"))
    partial = fx.order(
        id=9, refunds=[fx.refund(id=91, total="-5.00")], date_modified_gmt="2025-03-05T00:00:00"
    )
    send(client, tenant, "order.updated", partial)
    full = fx.order(
        id=9,
        status="refunded",
        refunds=[fx.refund(id=91, total="-5.00"), fx.refund(id=92, total="-70.00")],
        date_modified_gmt="2025-03-06T00:00:00",
    )
    send(client, tenant, "order.updated", full)
    keys = [key.split(":order:")[1] for _, key in live_events(rt, tenant.company_id)]
    assert keys == ["9:placed", "9:refund:91", "9:refund:92"]
    with rt.unit_of_work() as session:
        order = session.scalars(select(OrderRow)).one()
        assert (order.total_cents, order.refunded_cents, order.state) == (7500, 7500, "refunded")


@pytest.mark.parametrize("first", ["sync", "webhook"])
def test_the_same_order_by_sync_and_by_webhook_in_either_order(rt, client, tenant, plugin, first):
    payload = fx.order(id=727, status="processing")
    if first == "sync":
        plugin.ok("orders", [payload])
        assert send(client, tenant, "order.created", payload).status_code == 200
    else:
        assert send(client, tenant, "order.created", payload).status_code == 200
        body = plugin.ok("orders", [payload])
        assert (body["upserted"], body["skippedStale"], body["unchanged"]) == (0, 1, 1)
    assert counts(rt, tenant.company_id)["orders"] == 1
    with rt.unit_of_work() as session:
        (placed,) = session.scalars(select(Event)).all()
        # History stays history: a webhook for a synced order starts nothing.
        assert placed.name == "ecommerce.order_placed" and placed.live is (first == "webhook")
    profile = client.get("/api/subscribers/john.doe@example.com", headers=tenant.auth).get_json()
    assert profile["attributes"]["ordersCount"] == 1
    assert profile["attributes"]["totalSpent"] == 75  # 25 + 45 + 5 shipping


def test_a_newer_status_seen_live_after_a_sync_is_a_live_transition(rt, client, tenant, plugin):
    plugin.ok("orders", [fx.order(id=727, status="processing")])
    done = fx.order(id=727, status="completed", date_modified_gmt="2025-03-04T00:00:00")
    send(client, tenant, "order.updated", done)
    assert [name for name, _ in live_events(rt, tenant.company_id)] == ["ecommerce.order_fulfilled"]


def test_order_lines_are_replaced_not_appended(rt, plugin, tenant):
    plugin.ok("orders", [fx.order(id=727)])
    edited = fx.order(
        id=727, line_items=[fx.line_item(quantity=3)], date_modified_gmt="2025-03-09T00:00:00"
    )
    plugin.ok("orders", [edited])
    with rt.unit_of_work() as session:
        (line,) = session.scalars(select(OrderLine)).all()
        assert line.quantity == 3


def test_trashed_order_is_kept_and_leaves_the_revenue(rt, client, tenant, plugin):
    plugin.ok("orders", [fx.order(id=727), fx.order(id=728)])
    assert send(client, tenant, "order.deleted", fx.deleted(727)).status_code == 200
    with rt.unit_of_work() as session:
        assert {o.provider_order_id: o.deleted for o in session.scalars(select(OrderRow))} == {
            "727": True,
            "728": False,
        }
    profile = client.get("/api/subscribers/john.doe@example.com", headers=tenant.auth).get_json()
    assert profile["attributes"]["ordersCount"] == 1


def test_checkout_drafts_in_a_batch_are_ignored(rt, plugin, tenant):
    body = plugin.ok("orders", [fx.order(id=1, status="checkout-draft"), fx.order(id=2)])
    assert (body["accepted"], body["upserted"], body["ignored"]) == (2, 1, 1)


# --- identity and encoding --------------------------------------------------------------


def test_ids_above_2_pow_53_survive_as_strings(rt, plugin, tenant, client):
    order = fx.order(
        id=727,
        customer_id=BIG,
        line_items=[fx.line_item(product_id=BIG, variation_id=0, quantity=1)],
    )
    order["id"] = str(BIG)  # some plugins send ids as strings
    plugin.ok("orders", [order])
    plugin.ok("products", [fx.product_simple(id=BIG)])
    with rt.unit_of_work() as session:
        assert session.scalars(select(OrderRow.provider_order_id)).one() == str(BIG)
        assert session.scalars(select(StoreCustomer.provider_customer_id)).one() == str(BIG)
    product = client.get(f"/api/products/woocommerce/{BIG}", headers=tenant.auth).get_json()
    assert product["product"]["providerProductId"] == str(BIG)
    profile = client.get("/api/subscribers/john.doe@example.com", headers=tenant.auth).get_json()
    assert profile["purchasedProducts"][0]["providerProductId"] == str(BIG)
    assert profile["purchasedProducts"][0]["title"] == "Premium Quality"  # from the catalogue


def test_php_escaped_batches_verify_and_parse(rt, plugin, tenant):
    order = fx.order(id=727, first_name="Jos\u00e9", email="jose@example.com")
    body = fx.php_json(fx.sync_batch([order]))
    assert b"\\/" in body and b"\\u00e9" in body
    response = plugin.sync("orders", [order], php=True)
    assert response.status_code == 200, response.get_json()
    with rt.unit_of_work() as session:
        assert session.scalars(select(Subscriber)).one().first_name == "Jos\u00e9"
        line = session.scalars(select(OrderLine).order_by(OrderLine.position)).first()
        assert line.title == "Caf\u00e9 Mug"


# --- one bad item never fails the batch ---------------------------------------------------


def test_bad_items_are_reported_and_the_rest_land(rt, plugin, tenant):
    wrong_type = fx.order(id=3)
    wrong_type["line_items"][0]["quantity"] = "lots"
    items = [
        fx.order(id=1),
        fx.order(id=2, email=""),
        wrong_type,
        fx.rest_error(),
        "not an object",
        fx.order(id=4),
    ]
    body = plugin.ok("orders", items)
    assert body["accepted"] == 2 and body["upserted"] == 2
    failed = {f["index"]: f for f in body["failed"]}
    assert sorted(failed) == [1, 2, 3, 4]
    assert failed[1]["id"] == "2" and failed[1]["code"] == "missing_email"
    assert (
        failed[2]["code"] == "validation_failed"
        and "line_items[0].quantity" in failed[2]["message"]
    )
    assert failed[3]["code"] == "woocommerce_rest_error" and failed[3]["id"] is None
    assert failed[4]["code"] == "validation_failed"
    with rt.unit_of_work() as session:
        assert sorted(session.scalars(select(OrderRow.provider_order_id))) == ["1", "4"]
        integration = session.get_one(Integration, tenant.integration_id)
        assert "4 of 6 item(s) failed" in integration.last_sync_error


def test_a_database_failure_on_one_item_isolates_it(rt, plugin, tenant, monkeypatch):
    """The bulk write fails; every item is retried in its own SAVEPOINT."""
    real = orders._write_lines

    def flaky(session, store, rows):
        if any(oid == "666" for oid, row in rows.items() if row.winner is not None):
            raise IntegrityError("INSERT INTO order_lines", {}, Exception("boom"))
        return real(session, store, rows)

    monkeypatch.setattr(orders, "_write_lines", flaky)
    body = plugin.ok("orders", [fx.order(id=1), fx.order(id=666), fx.order(id=2)])
    assert body["upserted"] == 2
    assert body["failed"] == [
        {"index": 1, "id": "666", "code": "conflict", "message": body["failed"][0]["message"]}
    ]
    with rt.unit_of_work() as session:
        assert sorted(session.scalars(select(OrderRow.provider_order_id))) == ["1", "2"]
        assert len(session.scalars(select(OrderLine)).all()) == 4
        assert len(session.scalars(select(Event)).all()) == 2


# --- re-runs, progress, last sync ---------------------------------------------------------


def test_a_rerun_of_the_same_sync_is_a_no_op(rt, plugin, tenant):
    products = fx.catalogue(4, 2)
    people = [fx.customer(id=20 + n, email=f"c{n}@example.com") for n in range(3)]
    history = [fx.order(id=100 + n, email=f"c{n % 3}@example.com", customer_id=0) for n in range(6)]
    for run in ("run-1", "run-2"):
        results = [
            plugin.ok("products", products, sync_run_id=run),
            plugin.ok("customers", people, sync_run_id=run),
            plugin.ok("orders", history, sync_run_id=run),
        ]
        if run == "run-1":
            before = counts(rt, tenant.company_id)
            assert [r["upserted"] for r in results] == [12, 3, 6]
    assert counts(rt, tenant.company_id) == before
    assert [(r["upserted"], r["skippedStale"], r["unchanged"]) for r in results] == [
        (0, 12, 12),
        (0, 3, 3),
        (0, 6, 6),
    ]


def test_sync_runs_count_pages_and_set_last_sync_at(rt, plugin, tenant, client):
    plugin.ok("products", fx.catalogue(2, 1), sync_run_id="run-9", page=1, is_last=False)
    plugin.ok(
        "products", fx.catalogue(1, 1, first_id=90), sync_run_id="run-9", page=2, is_last=True
    )
    plugin.ok("customers", [fx.customer()], sync_run_id="run-9")
    with rt.unit_of_work() as session:
        assert session.get_one(Integration, tenant.integration_id).last_sync_at is None
    body = plugin.ok(
        "orders", [fx.order(id=1), fx.order(id=2, email="")], sync_run_id="run-9", page=1
    )
    assert body["runFinished"] is True
    with rt.unit_of_work() as session:
        integration = session.get_one(Integration, tenant.integration_id)
        assert integration.last_sync_at is not None
        assert "1 of 2 item(s) failed" in integration.last_sync_error
        runs = {r.resource: r for r in session.scalars(select(SyncRun))}
        assert (runs["products"].pages, runs["products"].items, runs["products"].last_page) == (
            2,
            6,
            2,
        )
        assert runs["orders"].failed == 1 and runs["orders"].finished_at is not None
    progress = client.get(
        f"/api/integrations/{tenant.integration_id}/sync-runs", headers=tenant.auth
    ).get_json()
    assert progress["lastSyncAt"] is not None and progress["total"] == 3
    assert {r["resource"]: r["upserted"] for r in progress["syncRuns"]} == {
        "products": 6,
        "customers": 1,
        "orders": 1,
    }
    # A later clean run clears the error.
    for resource in ("products", "customers", "orders"):
        plugin.ok(resource, [], sync_run_id="run-10")
    with rt.unit_of_work() as session:
        assert session.get_one(Integration, tenant.integration_id).last_sync_error is None

    from storeflow.web.cli import cli

    result = CliRunner().invoke(
        cli, ["sync", "status", "--integration", tenant.integration_id], obj=rt
    )
    assert result.exit_code == 0, result.output
    assert "run-9\tproducts\t2\t6\t6\t0\t0\t0\tfinished" in result.output
    as_json = CliRunner().invoke(cli, ["sync", "status", "--json"], obj=rt)
    assert json.loads(as_json.output)["syncRuns"][0]["syncRunId"] == "run-10"


def test_a_command_run_finishes_with_its_own_resources(rt, plugin, tenant):
    # Plugin commands (heartbeat sync commands) belong to the connection feature.
    commands = pytest.importorskip("storeflow.core.stores.commands")
    with rt.unit_of_work() as session:
        integration = session.get_one(Integration, tenant.integration_id)
        command, _ = commands.request_sync(session, integration, resources=["orders"])
        command_id = command.id
    body = plugin.ok("orders", [fx.order()], sync_run_id=command_id)
    assert body["runFinished"] is True


# --- bad input and authentication ---------------------------------------------------------


def test_bad_batches_get_contract_errors(rt, plugin, tenant):
    def post_raw(body: bytes, resource: str = "orders", content_type: str = "application/json"):
        from storeflow.core.testing import plugin_client

        headers = plugin_client.signed_headers(plugin.token, plugin.secret, body)
        headers["Content-Type"] = content_type
        return plugin.client.post(f"/api/woocommerce/sync/{resource}", data=body, headers=headers)

    cases = [
        (post_raw(b'{"syncRunId": "r", "items": ['), 400, "malformed_json"),
        (post_raw(b"{}", content_type="text/plain"), 415, "unsupported_media_type"),
        (plugin.post("/api/woocommerce/sync/orders", [1, 2]), 422, "validation_failed"),
        (plugin.post("/api/woocommerce/sync/orders", {"syncRunId": "r"}), 422, "validation_failed"),
        (
            plugin.post(
                "/api/woocommerce/sync/orders",
                {"syncRunId": "r", "page": "1", "isLast": "yes", "items": {}},
            ),
            422,
            "validation_failed",
        ),
        (plugin.sync("orders", [{"id": n} for n in range(501)]), 422, "validation_failed"),
        (plugin.sync("coupons", [fx.order()]), 404, "unknown_resource"),
        (plugin.sync("orders", [fx.order()], sync_run_id=""), 422, "validation_failed"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, response.get_json()
        body = response.get_json()
        assert body["success"] is False and body["error"]["code"] == code
    wrong = plugin.post(
        "/api/woocommerce/sync/orders",
        {"syncRunId": "r", "page": "1", "isLast": "yes", "items": {}},
    )
    paths = {d["path"] for d in wrong.get_json()["error"]["details"]}
    assert paths == {"$.page", "$.isLast", "$.items"}
    assert counts(rt, tenant.company_id)["orders"] == 0


def test_a_huge_batch_is_413(rt, plugin):
    pad = "x" * (rt.settings.webhook_body_limit + 10)
    response = plugin.sync("orders", [{"pad": pad}])
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


def test_missing_or_wrong_auth_is_401(rt, plugin, client, tenant):
    body = json.dumps(fx.sync_batch([fx.order()])).encode()
    response = client.post(
        "/api/woocommerce/sync/orders", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "missing_credentials"
    from storeflow.core.testing import plugin_client

    headers = plugin_client.signed_headers("sfit_nope", plugin.secret, body)
    assert (
        client.post("/api/woocommerce/sync/orders", data=body, headers=headers).status_code == 401
    )
    assert counts(rt, tenant.company_id)["orders"] == 0


def test_repeated_webhook_id_has_no_second_effect(rt, plugin, tenant):
    first = plugin.post(
        "/api/woocommerce/sync/orders", fx.sync_batch([fx.order()]), webhook_id="msg_1"
    )
    again = plugin.post(
        "/api/woocommerce/sync/orders", fx.sync_batch([fx.order()]), webhook_id="msg_1"
    )
    assert again.get_json() == first.get_json()
    with rt.unit_of_work() as session:
        assert session.scalars(select(SyncRun)).one().pages == 1


# --- tenancy ------------------------------------------------------------------------------


def test_a_store_token_writes_only_its_own_company(
    rt, plugin, other_plugin, tenant, other_tenant, client
):
    # A's token with B's signing secret: refused.
    forged = type(plugin)(client, plugin.token, other_plugin.secret)
    assert forged.sync("orders", [fx.order()]).status_code == 401
    plugin.ok("orders", [fx.order(email="a@a.example")])
    plugin.ok("products", [fx.product_simple(id=794)])
    assert counts(rt, other_tenant.company_id) == {
        "products": 0,
        "variants": 0,
        "subscribers": 0,
        "orders": 0,
        "lines": 0,
        "events": 0,
    }
    # B's key sees nothing of A: products, one product, sync runs, subscriber.
    assert client.get("/api/products", headers=other_tenant.auth).get_json()["total"] == 0
    assert client.get("/api/products", headers=tenant.auth).get_json()["total"] == 1
    assert client.get("/api/products/woocommerce/794", headers=other_tenant.auth).status_code == 404
    runs = f"/api/integrations/{tenant.integration_id}/sync-runs"
    assert client.get(runs, headers=other_tenant.auth).status_code == 404
    assert client.get(runs, headers=tenant.auth).status_code == 200
    assert client.get("/api/subscribers/a@a.example", headers=other_tenant.auth).status_code == 404
    # The same product id in B's store is B's own product.
    other_plugin.ok("products", [fx.product_simple(id=794, name="Other Shirt")])
    mine = client.get("/api/products/woocommerce/794", headers=tenant.auth).get_json()
    theirs = client.get("/api/products/woocommerce/794", headers=other_tenant.auth).get_json()
    assert (mine["product"]["title"], theirs["product"]["title"]) == (
        "Premium Quality",
        "Other Shirt",
    )


def test_admin_routes_need_a_key(client, tenant):
    for path in (
        "/api/products",
        "/api/products/woocommerce/1",
        f"/api/integrations/{tenant.integration_id}/sync-runs",
    ):
        response = client.get(path)
        assert response.status_code == 401 and response.get_json()["success"] is False


def test_pages_are_mapped_outside_the_write_transaction(rt, plugin, monkeypatch):
    """SQLite holds its write lock for a whole transaction: mapping 500 items must not."""
    import sqlite3

    from storeflow.core.commerce import sync
    from tests.conftest import is_postgres

    if is_postgres():
        pytest.skip("SQLite's database-wide write lock")
    path = rt.settings.database_url.removeprefix("sqlite:///")
    real = sync.map_batch
    seen = []

    def spy(*args, **kwargs):
        conn = sqlite3.connect(path, timeout=0)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            seen.append("free")
        except sqlite3.OperationalError:
            seen.append("locked")
        finally:
            conn.close()
        return real(*args, **kwargs)

    monkeypatch.setattr(sync, "map_batch", spy)
    plugin.ok("orders", [fx.order()])
    assert seen == ["free"]
