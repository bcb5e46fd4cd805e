"""Shopify's privacy topics really erase: after customers/redact no table and no stored
raw body holds the customer's personal data; after shop/redact none of the shop's."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from sqlalchemy import select

from storeflow.core.commerce import privacy
from storeflow.core.storage.tables import (
    Base,
    DataExport,
    InboundDelivery,
    OrderRow,
    ReplenishmentReminder,
    Subscriber,
    WaitlistEntry,
)
from tests.providers import shopify_payloads as fx
from tests.test_shopify_webhooks import _wait_for_the_shirt, ago, connect_shop, ok, rows, send

BOB = (fx.EMAIL, "Bob Norman", "Norman", "557734881234", "555-625-1199", "Chestnut Street")
CAROL_EMAIL = "carol.ito@mail.example.com"
CAROL = (CAROL_EMAIL, "Carol Ito", "Ito Lane")
DAVE_EMAIL = "dave@globex.example.com"


@pytest.fixture
def settings(settings: Any) -> Any:
    return attrs.evolve(settings, shopify_api_key=fx.API_KEY, shopify_api_secret=fx.SECRET)


def everything(rt: Any) -> list[tuple[str, str]]:
    """Every value of every row of every table, as lower-case text (bodies decoded)."""
    found = []
    with rt.reading() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                for value in row:
                    if value is None:
                        continue
                    if isinstance(value, bytes):
                        text = value.decode("utf-8", "replace")
                    elif isinstance(value, dict | list):
                        text = json.dumps(value)
                    else:
                        text = str(value)
                    found.append((table.name, text.lower()))
    return found


def holding(rt: Any, needles: tuple[str, ...]) -> set[tuple[str, str]]:
    """(table, needle) for every table where one of the needles still appears."""
    values = everything(rt)
    return {
        (table, needle)
        for needle in needles
        for table, text in values
        if needle.lower() in text or needle.lower() in text.replace("\\/", "/")
    }


def carol_address() -> dict[str, Any]:
    return fx.address(
        first_name="Carol",
        last_name="Ito",
        name="Carol Ito",
        address1="12 Ito Lane",
        phone="555-000-7777",
    )


def carol_order() -> dict[str, Any]:
    carol = fx.customer(
        id=706405506930370999,
        email=CAROL_EMAIL,
        first_name="Carol",
        last_name="Ito",
        phone="+15550007777",
        default_address=carol_address(),
        addresses=[carol_address()],
    )
    return fx.order(
        id=820982911946154999,
        name="#1002",
        email=CAROL_EMAIL,
        contact_email=CAROL_EMAIL,
        phone="+15550007777",
        customer=carol,
        billing_address=carol_address(),
        shipping_address=carol_address(),
        processed_at=ago(20),
        updated_at=ago(20),
    )


def bob_everywhere(client: Any, rt: Any, shop: Any) -> None:
    """Bob as a customer, a buyer, a cart and checkout, a waiter and a data request."""
    ok(send(client, "products/create", fx.product(fx.variant(quantity=0))))
    remind = client.put(
        f"/api/products/shopify/{fx.PRODUCT_ID}/replenishment",
        json={"enabled": True, "days": 30},
        headers=shop.auth,
    )
    assert remind.status_code == 200, remind.get_json()
    ok(send(client, "customers/create", fx.customer()))
    ok(send(client, "carts/create", fx.cart(fx.cart_line(), updated_at=ago(30, shop_offset=False))))
    ok(send(client, "checkouts/update", fx.checkout(email=fx.EMAIL, updated_at=ago(28))))
    ok(send(client, "orders/create", fx.order(processed_at=ago(25), updated_at=ago(25))))
    _wait_for_the_shirt(rt, shop, email=fx.EMAIL)
    ok(send(client, "inventory_levels/update", fx.inventory_level(2)))  # back in stock: events
    ok(send(client, "customers/data_request", fx.data_request()))
    ok(send(client, "orders/create", carol_order()))


def test_customers_redact_leaves_no_personal_data_of_the_customer(client, rt):
    shop = connect_shop(rt)
    bob_everywhere(client, rt, shop)
    # Seen before: the scan finds Bob (so an empty result below is not a blind scan).
    assert {table for table, _ in holding(rt, BOB)} >= {
        "subscribers",
        "orders",
        "events",
        "carts",
        "cart_activities",
        "waitlist_entries",
        "store_customers",
        "inbound_deliveries",
        "data_exports",
    }
    assert len(rows(rt, ReplenishmentReminder)) == 2  # Bob's and Carol's
    ok(send(client, "customers/redact", fx.customers_redact()))
    assert holding(rt, BOB) == set()
    # Rows that name Bob only by id go too; Carol's stay.
    [carol] = rows(rt, Subscriber)
    assert carol.email == CAROL_EMAIL
    assert [r.subscriber_id for r in rows(rt, ReplenishmentReminder)] == [carol.id]
    assert rows(rt, WaitlistEntry) == []
    # Carol, the other customer of the shop, is untouched.
    assert {t for t, _ in holding(rt, CAROL)} >= {"subscribers", "orders", "inbound_deliveries"}
    statuses = [d.status for d in rows(rt, InboundDelivery)]
    assert "failed" not in statuses and statuses[-1] == "processed"


def test_redact_by_customer_id_alone_finds_the_customer(client, rt):
    connect_shop(rt)
    ok(send(client, "orders/create", fx.order(processed_at=ago(25), updated_at=ago(25))))
    request = fx.customers_redact()
    request["customer"] = {"id": fx.CUSTOMER_ID, "email": None, "phone": None}
    request["orders_to_redact"] = []
    ok(send(client, "customers/redact", request))
    assert holding(rt, BOB) == set()


def test_a_redact_for_someone_unknown_is_200_and_erases_nothing_else(client, rt):
    connect_shop(rt)
    ok(send(client, "orders/create", carol_order()))
    request = fx.customers_redact()
    request["customer"] = {"id": 1, "email": "nobody@example.com", "phone": None}
    request["orders_to_redact"] = []
    ok(send(client, "customers/redact", request))
    assert len(rows(rt, OrderRow)) == 1
    assert {t for t, _ in holding(rt, CAROL)} >= {"subscribers", "orders", "inbound_deliveries"}


def test_shop_redact_removes_all_of_the_shops_personal_data_and_nothing_of_another(client, rt):
    shop = connect_shop(rt)
    connect_shop(rt, "globex", "globex-store.myshopify.com")
    bob_everywhere(client, rt, shop)
    dave = fx.order(
        id=5,
        email=DAVE_EMAIL,
        contact_email=DAVE_EMAIL,
        phone=None,
        customer=None,
        billing_address=None,
        shipping_address=None,
        processed_at=ago(3),
        updated_at=ago(3),
    )
    ok(send(client, "orders/create", dave, shop="globex-store.myshopify.com"))
    ok(send(client, "app/uninstalled", fx.shop_resource()))
    ok(send(client, "shop/redact", fx.shop_redact()))
    assert holding(rt, BOB + CAROL) == set()
    assert {t for t, _ in holding(rt, (DAVE_EMAIL,))} >= {
        "subscribers",
        "orders",
        "inbound_deliveries",
    }


def test_a_data_request_produces_an_export_the_merchant_downloads(client, rt):
    shop = connect_shop(rt)
    ok(send(client, "orders/create", fx.order(processed_at=ago(25), updated_at=ago(25))))
    ok(send(client, "customers/data_request", fx.data_request(4242)))
    ok(send(client, "customers/data_request", fx.data_request(4242)))  # a retry: one export
    assert len(rows(rt, DataExport)) == 1
    answer = client.get("/api/shopify/data-requests/4242", headers=shop.auth)
    assert answer.status_code == 200, answer.get_json()
    data = answer.get_json()["data"]
    assert [s["email"] for s in data["subscribers"]] == [fx.EMAIL]
    assert [o["orderId"] for o in data["orders"]] == [str(fx.ORDER_ID)]
    assert data["orders"][0]["lines"][0]["quantity"] == 2
    assert any(e["name"] == "ecommerce.order_placed" for e in data["events"])
    other = connect_shop(rt, "globex", "globex-store.myshopify.com")
    assert client.get("/api/shopify/data-requests/4242", headers=other.auth).status_code == 404
    assert client.get("/api/shopify/data-requests/4242").status_code == 401


def test_the_body_scan_matches_what_belongs_to_the_customer() -> None:
    emails, phones, names = {fx.EMAIL}, {fx.PHONE}, {"bob norman"}
    ids, orders = {str(fx.CUSTOMER_ID)}, {str(fx.ORDER_ID)}

    def mentions(payload: Any) -> bool:
        return privacy._mentions(fx.dumps(payload), emails, phones, names, ids, orders)

    assert mentions(fx.order(email=None, contact_email=None, customer=None))  # its order id
    assert mentions({"customer": {"id": fx.CUSTOMER_ID}})
    assert mentions({"phone": "+55 7734 881234"})  # formatted differently
    assert mentions({"note": "ship to BOB NORMAN"}) is False  # a name inside free text
    assert mentions(fx.cart(fx.cart_line())) is False  # carts carry nobody
    assert mentions(fx.inventory_level(3)) is False
    assert privacy._mentions(b"not json " + fx.EMAIL.encode(), emails, phones, names, ids, orders)


def test_subscribers_known_elsewhere_keep_their_other_data(client, rt):
    shop = connect_shop(rt)
    with rt.unit_of_work() as session:
        from storeflow.core.storage.tables import Company
        from storeflow.core.stores import integrations

        company = session.get_one(Company, shop.company_id)
        other = integrations.create(
            session, company, "woocommerce", store_url="https://wc.example.com"
        )
        other_id = other.id
    ok(send(client, "orders/create", fx.order(processed_at=ago(25), updated_at=ago(25))))
    from storeflow.core.commerce import ingest, records
    from storeflow.core.stores.provider import StoreContext

    with rt.unit_of_work() as session:
        store = StoreContext(integration_id=other_id, company_id=shop.company_id)
        buyer = records.Customer(provider_customer_id="77", email=fx.EMAIL, first_name="Bob")
        ingest.apply(session, store, "woocommerce", records.Mapped(records=(buyer,)), live=False)
    ok(send(client, "shop/redact", fx.shop_redact()))
    [subscriber] = rows(rt, Subscriber)
    assert subscriber.email == fx.EMAIL  # the WooCommerce store knows Bob too
    assert rows(rt, OrderRow) == []  # the Shopify order is gone
