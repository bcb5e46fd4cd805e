"""Shopify webhooks end to end: HMAC, dedupe, ordering, every topic into core records,
and the flows they drive (back in stock, replenishment, cart and checkout recovery)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest
from sqlalchemy import select

from storeflow.core import clock
from storeflow.core.commerce import waitlists
from storeflow.core.storage.tables import (
    Cart,
    CartActivity,
    Event,
    InboundDelivery,
    Integration,
    OrderLine,
    OrderRow,
    ProductRow,
    ReplenishmentReminder,
    StoreCustomer,
    Subscriber,
    VariantRow,
)
from storeflow.core.stores import integrations
from tests.providers import shopify_payloads as fx

HOOKS = "/api/shopify/webhooks"


@pytest.fixture
def settings(settings: Any) -> Any:
    return attrs.evolve(settings, shopify_api_key=fx.API_KEY, shopify_api_secret=fx.SECRET)


@attrs.frozen
class Shop:
    company_id: int
    integration_id: str
    api_key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def connect_shop(rt: Any, slug: str = "acme", domain: str = fx.SHOP) -> Shop:
    from storeflow.core import accounts

    with rt.unit_of_work() as session:
        company = accounts.create_company(session, slug, slug.title())
        key = accounts.create_api_key(session, company)
        row = integrations.create(session, company, "shopify", store_url=f"https://{domain}")
        return Shop(company.id, row.id, key)


@pytest.fixture
def shop(rt: Any) -> Shop:
    return connect_shop(rt)


def send(client: Any, topic: str, payload: Any, *, escape: bool = False, **options: Any) -> Any:
    body = payload if isinstance(payload, bytes) else fx.dumps(payload, escape_slashes=escape)
    secret = options.pop("secret", fx.SECRET)
    return client.post(HOOKS, data=body, headers=fx.headers(topic, body, secret=secret, **options))


def ago(minutes: float, *, shop_offset: bool = True) -> str:
    """A payload time ``minutes`` before now: with the shop's -05:00 offset, or as carts
    write it (UTC, milliseconds, ``Z``)."""
    from datetime import timezone

    when = clock.now() - timedelta(minutes=minutes)
    if shop_offset:
        return when.astimezone(timezone(timedelta(hours=-5))).isoformat(timespec="seconds")
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def ok(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def rows(rt: Any, model: Any, *where: Any) -> list[Any]:
    with rt.reading() as session:
        return list(session.scalars(select(model).where(*where).order_by(model.id)))


def events(rt: Any, name: str) -> list[Event]:
    return rows(rt, Event, Event.name == name)


def deliveries(rt: Any) -> list[InboundDelivery]:
    return rows(rt, InboundDelivery)


# --- authenticity ------------------------------------------------------------------------


@pytest.mark.parametrize("escape", [False, True], ids=["plain", "escaped-slashes"])
def test_escaped_and_unescaped_bodies_both_verify_and_map(client, rt, shop, escape):
    answer = ok(send(client, "orders/create", fx.order(), escape=escape))
    assert answer["duplicate"] is False
    [delivery] = deliveries(rt)
    assert delivery.status == "processed", delivery.error
    assert (b"\\/" in delivery.body) is escape  # stored byte for byte
    [order] = rows(rt, OrderRow)
    assert order.provider_order_id == str(fx.ORDER_ID)  # beyond 2**53, exact


def test_a_bad_or_missing_hmac_is_401_and_stores_nothing(client, rt, shop):
    body = fx.dumps(fx.order())
    forged = send(client, "orders/create", body, secret="not-the-secret")
    assert forged.status_code == 401
    assert forged.get_json()["error"]["code"] == "invalid_signature"
    sent = fx.headers("orders/create", body)
    del sent["X-Shopify-Hmac-Sha256"]
    assert client.post(HOOKS, data=body, headers=sent).status_code == 401
    # A body changed after signing (re-serialised with spaces) no longer verifies.
    sent = fx.headers("orders/create", body)
    assert client.post(HOOKS, data=body.replace(b":", b": "), headers=sent).status_code == 401
    assert deliveries(rt) == []


@pytest.mark.parametrize("topic", ["customers/redact", "shop/redact", "customers/data_request"])
def test_privacy_topics_with_a_bad_hmac_are_401(client, shop, topic):
    answer = send(client, topic, fx.customers_redact(), secret="wrong")
    assert answer.status_code == 401


def test_the_previous_secret_still_verifies_during_a_rotation(rt, shop):
    from storeflow.web.app import create_app

    rotated = attrs.evolve(
        rt.settings, shopify_api_secret="shpss_new", shopify_previous_api_secret=fx.SECRET
    )
    object.__setattr__(rt, "settings", rotated)
    client = create_app({"TESTING": True}, runtime=rt).test_client()
    assert ok(send(client, "customers/create", fx.customer()))["duplicate"] is False
    assert ok(send(client, "customers/update", fx.customer(), secret="shpss_new"))


def test_a_shop_domain_that_is_not_myshopify_is_refused(client, shop):
    answer = send(client, "orders/create", fx.order(), shop="demo-store.example.com")
    assert answer.status_code == 422
    assert answer.get_json()["error"]["code"] == "invalid_shop"


def test_an_unknown_shop_gets_404_but_privacy_topics_200(client, rt, shop):
    other = "nobody.myshopify.com"
    assert send(client, "orders/create", fx.order(), shop=other).status_code == 404
    assert ok(send(client, "shop/redact", fx.shop_redact(), shop=other))
    assert deliveries(rt) == []


def test_an_unsupported_topic_is_422_and_kept_as_failed(client, rt, shop):
    answer = send(client, "collections/create", {"id": 1})
    assert answer.status_code == 422
    [delivery] = deliveries(rt)
    assert delivery.status == "failed" and "unsupported_topic" in delivery.error


def test_an_authentic_body_that_is_not_json_is_400_and_replayable(client, rt, shop):
    answer = send(client, "orders/create", b'{"id":1,')
    assert answer.status_code == 400
    [delivery] = deliveries(rt)
    assert delivery.status == "failed" and delivery.error.startswith("malformed_json")


# --- dedupe and order ------------------------------------------------------------------------


def test_the_same_webhook_id_twice_has_no_second_effect(client, rt, shop):
    first = ok(send(client, "orders/create", fx.order(), webhook_id="wh-1"))
    again = ok(send(client, "orders/create", fx.order(), webhook_id="wh-1"))
    assert again["duplicate"] is True and first["deliveryId"]
    assert len(deliveries(rt)) == 1
    assert len(events(rt, "ecommerce.order_placed")) == 1


def test_one_event_id_across_topics_is_not_a_duplicate(client, rt, shop):
    # One merchant action: orders/create and customers/update share X-Shopify-Event-Id.
    ok(send(client, "orders/create", fx.order(), event_id="same-event"))
    answer = ok(send(client, "customers/update", fx.customer(), event_id="same-event"))
    assert answer["duplicate"] is False
    assert [d.status for d in deliveries(rt)] == ["processed", "processed"]


def test_an_older_update_arriving_late_never_overwrites_a_newer_one(client, rt, shop):
    newer = fx.order(financial_status="refunded", updated_at="2026-03-03T07:00:00-05:00")
    newer["refunds"] = [fx.refund("39.98")]
    ok(send(client, "orders/updated", newer))
    ok(send(client, "orders/create", fx.order()))  # the create arrives last (B3)
    [order] = rows(rt, OrderRow)
    assert (order.state, order.refunded_cents) == ("refunded", 3998)


# --- orders ---------------------------------------------------------------------------------


def test_an_order_becomes_an_order_with_lines_customer_and_event(client, rt, shop):
    ok(send(client, "orders/create", fx.order()))
    [order] = rows(rt, OrderRow)
    assert (order.email, order.total_cents, order.currency) == (fx.EMAIL, 3998, "USD")
    assert (order.order_number, order.status, order.state) == ("1001", "paid/unfulfilled", "placed")
    [line] = rows(rt, OrderLine)
    assert (line.provider_product_id, line.provider_variant_id) == (
        str(fx.PRODUCT_ID),
        str(fx.VARIANT_ID),
    )
    assert (line.quantity, line.price_cents, line.total_cents) == (2, 1999, 3998)
    [account] = rows(rt, StoreCustomer)
    assert account.provider_customer_id == str(fx.CUSTOMER_ID)
    [subscriber] = rows(rt, Subscriber)
    assert (subscriber.first_name, subscriber.last_name) == ("Bob", "Norman")
    [placed] = events(rt, "ecommerce.order_placed")
    assert placed.email == fx.EMAIL and placed.provider == "shopify"


def test_order_topics_follow_the_order_through_its_states(client, rt, shop):
    ok(send(client, "orders/create", fx.order(financial_status="pending")))
    [order] = rows(rt, OrderRow)
    assert order.awaiting_payment is True
    ok(send(client, "orders/paid", fx.order(updated_at="2026-03-01T08:00:00-05:00")))
    ok(
        send(
            client,
            "orders/fulfilled",
            fx.order(fulfillment_status="fulfilled", updated_at="2026-03-01T09:00:00-05:00"),
        )
    )
    assert len(events(rt, "ecommerce.order_fulfilled")) == 1
    cancelled = fx.order(
        cancelled_at="2026-03-01T10:00:00-05:00",
        cancel_reason="customer",
        updated_at="2026-03-01T10:00:00-05:00",
    )
    ok(send(client, "orders/cancelled", cancelled))
    [order] = rows(rt, OrderRow)
    assert (order.state, order.awaiting_payment) == ("cancelled", False)
    assert len(events(rt, "ecommerce.order_cancelled")) == 1


def test_refunds_arrive_with_orders_updated(client, rt, shop):
    ok(send(client, "orders/create", fx.order()))
    ok(send(client, "refunds/create", fx.refund()))
    updated = fx.order(
        financial_status="partially_refunded", updated_at="2026-03-02T07:00:01-05:00"
    )
    updated["refunds"] = [fx.refund()]
    ok(send(client, "orders/updated", updated))
    [order] = rows(rt, OrderRow)
    assert order.refunded_cents == 1999
    refunds_create = [d for d in deliveries(rt) if d.topic == "refunds/create"]
    assert refunds_create[0].status == "ignored"
    assert len(events(rt, "ecommerce.order_refunded")) == 1


def test_a_pos_order_without_email_is_ignored_with_its_reason(client, rt, shop):
    pos = fx.order(email=None, contact_email=None, customer=None, source_name="pos")
    ok(send(client, "orders/create", pos))
    [delivery] = deliveries(rt)
    assert delivery.status == "ignored" and "no usable email" in delivery.error
    assert rows(rt, OrderRow) == []


def test_a_custom_line_without_product_is_kept(client, rt, shop):
    custom = fx.line_item(
        id=1, product_id=None, variant_id=None, title="Gift wrap", price="5.0", quantity=1
    )
    ok(
        send(
            client,
            "orders/create",
            fx.order(line_items=[fx.line_item(), custom], total_price="44.98"),
        )
    )
    lines = rows(rt, OrderLine)
    assert [line.provider_product_id for line in lines] == [str(fx.PRODUCT_ID), "custom-1"]
    assert lines[1].price_cents == 500


# --- products and inventory --------------------------------------------------------------------


def test_a_product_with_tags_as_a_comma_string(client, rt, shop):
    ok(send(client, "products/create", fx.product(fx.variant(quantity=5)), escape=True))
    [product] = rows(rt, ProductRow)
    assert product.title == "Example T-Shirt" and product.status == "publish"
    assert product.categories == ["Shirts", "example", "mens", "t-shirt"]
    assert product.url == f"https://{fx.SHOP}/products/example-t-shirt"
    assert product.image_url.startswith("https://cdn.shopify.com/")
    [variant] = rows(rt, VariantRow)
    assert (variant.provider_variant_id, variant.stock_status, variant.stock_quantity) == (
        str(fx.VARIANT_ID),
        "instock",
        5,
    )


def test_products_delete_sends_only_the_id(client, rt, shop):
    ok(send(client, "products/create", fx.product()))
    ok(send(client, "products/delete", {"id": fx.PRODUCT_ID}))
    [product] = rows(rt, ProductRow)
    assert product.deleted is True


def test_inventory_levels_sum_over_locations_onto_the_variant(client, rt, shop):
    ok(send(client, "products/create", fx.product(fx.variant(quantity=0))))
    ok(send(client, "inventory_levels/update", fx.inventory_level(2, location_id=fx.LOCATION_A)))
    ok(send(client, "inventory_levels/update", fx.inventory_level(3, location_id=fx.LOCATION_B)))
    [variant] = rows(rt, VariantRow)
    assert (variant.stock_status, variant.stock_quantity) == ("instock", 5)
    # An older level for location A arriving late changes nothing.
    stale = fx.inventory_level(0, location_id=fx.LOCATION_A, updated_at="2026-03-01T06:00:00-05:00")
    ok(send(client, "inventory_levels/update", stale))
    [variant] = rows(rt, VariantRow)
    assert variant.stock_quantity == 5
    for location in (fx.LOCATION_A, fx.LOCATION_B):
        sold = fx.inventory_level(0, location_id=location, updated_at="2026-03-01T09:00:00-05:00")
        ok(send(client, "inventory_levels/update", sold))
    [variant] = rows(rt, VariantRow)
    assert (variant.stock_status, variant.stock_quantity) == ("outofstock", 0)
    [product] = rows(rt, ProductRow)
    assert product.stock_status == "outofstock"


def test_a_variant_that_may_be_oversold_stays_in_stock_at_zero(client, rt, shop):
    ok(send(client, "products/create", fx.product(fx.variant(quantity=0, policy="continue"))))
    ok(send(client, "inventory_levels/update", fx.inventory_level(0)))
    [variant] = rows(rt, VariantRow)
    assert variant.stock_status == "instock"


def test_a_level_before_its_product_is_kept_and_harmless(client, rt, shop):
    ok(send(client, "inventory_levels/update", fx.inventory_level(4)))
    assert deliveries(rt)[0].status == "processed"
    ok(send(client, "products/create", fx.product(fx.variant(quantity=4))))
    [variant] = rows(rt, VariantRow)
    assert variant.stock_quantity == 4


def _wait_for_the_shirt(rt: Any, shop: Shop, email: str = "ana@example.com") -> None:
    with rt.unit_of_work() as session:
        waitlists.request(
            session,
            session.get_one(Integration, shop.integration_id),
            email=email,
            provider_product_id=str(fx.PRODUCT_ID),
            provider_variant_id=str(fx.VARIANT_ID),
            product_title="Example T-Shirt",
            variant_title="Small",
        )


def test_a_restock_through_inventory_levels_fires_back_in_stock(client, rt, shop):
    ok(send(client, "products/create", fx.product(fx.variant(quantity=0))))
    _wait_for_the_shirt(rt, shop)
    assert events(rt, "ecommerce.back_in_stock") == []
    ok(send(client, "inventory_levels/update", fx.inventory_level(3, location_id=fx.LOCATION_B)))
    [back] = events(rt, "ecommerce.back_in_stock")
    assert back.email == "ana@example.com"
    assert back.properties["product"]["providerVariantId"] == str(fx.VARIANT_ID)


# --- customers -------------------------------------------------------------------------------------


def test_customers_create_and_update(client, rt, shop):
    ok(send(client, "customers/create", fx.customer()))
    renamed = fx.customer(first_name="Robert", updated_at="2026-03-02T07:00:00-05:00")
    ok(send(client, "customers/update", renamed))
    [subscriber] = rows(rt, Subscriber)
    assert (subscriber.email, subscriber.first_name) == (fx.EMAIL, "Robert")


def test_a_phone_only_customer_is_ignored(client, rt, shop):
    ok(send(client, "customers/create", fx.customer(email=None)))
    assert deliveries(rt)[0].status == "ignored"
    assert rows(rt, Subscriber) == []


# --- replenishment -----------------------------------------------------------------------------------


def test_a_shopify_order_schedules_a_replenishment_reminder(client, rt, shop):
    ok(send(client, "products/create", fx.product(fx.variant(quantity=9))))
    setting = client.put(
        f"/api/products/shopify/{fx.PRODUCT_ID}/replenishment",
        json={"enabled": True, "days": 30},
        headers=shop.auth,
    )
    assert setting.status_code == 200, setting.get_json()
    placed = ago(5)
    ok(
        send(
            client,
            "orders/create",
            fx.order(processed_at=placed, created_at=placed, updated_at=placed),
        )
    )
    [reminder] = rows(rt, ReplenishmentReminder)
    assert reminder.provider_product_id == str(fx.PRODUCT_ID)
    assert reminder.due_at - reminder.ordered_at == timedelta(days=30)


# --- carts and checkouts ------------------------------------------------------------------------------


def test_a_cart_has_no_email_and_the_checkout_names_the_shopper(client, rt, shop):
    ok(
        send(
            client, "carts/create", fx.cart(fx.cart_line(2), updated_at=ago(10, shop_offset=False))
        )
    )
    [cart] = rows(rt, Cart)
    assert cart.email is None and cart.session_key == fx.CART_TOKEN
    assert events(rt, "ecommerce.cart_started") == []  # anonymous: nobody to greet yet
    ok(
        send(client, "checkouts/create", fx.checkout(email=None, updated_at=ago(8)))
    )  # not typed yet
    assert rows(rt, Cart)[0].email is None
    typed = fx.checkout(email="Bob.Norman@Mail.example.com", updated_at=ago(6))
    ok(send(client, "checkouts/update", typed))
    [cart] = rows(rt, Cart)
    assert cart.email == fx.EMAIL
    assert cart.checkout_url and "recover?key=" in cart.checkout_url
    [started] = events(rt, "ecommerce.checkout_started")
    assert started.email == fx.EMAIL
    assert len(events(rt, "ecommerce.cart_started")) == 1
    types = [a.type for a in rows(rt, CartActivity)]
    assert types[:3] == ["cart_started", "checkout_started", "checkout_started"]


def test_the_order_converts_the_cart(client, rt, shop):
    ok(send(client, "carts/create", fx.cart(fx.cart_line(), updated_at=ago(10, shop_offset=False))))
    ok(send(client, "checkouts/update", fx.checkout(email=fx.EMAIL, updated_at=ago(8))))
    placed = ago(5)
    ok(send(client, "orders/create", fx.order(processed_at=placed, updated_at=placed)))
    [cart] = rows(rt, Cart)
    assert cart.status == "converted"


def test_an_emptied_cart_is_cleared(client, rt, shop):
    ok(send(client, "carts/create", fx.cart(fx.cart_line(), updated_at=ago(10, shop_offset=False))))
    ok(send(client, "carts/update", fx.cart(updated_at=ago(5, shop_offset=False))))
    [cart] = rows(rt, Cart)
    assert cart.status == "cleared"


def test_a_completed_checkout_is_ignored(client, rt, shop):
    ok(
        send(
            client,
            "checkouts/update",
            fx.checkout(email=fx.EMAIL, completed_at="2026-03-01T07:05:00-05:00"),
        )
    )
    assert deliveries(rt)[0].status == "ignored"


# --- app/uninstalled ------------------------------------------------------------------------------


def test_app_uninstalled_disconnects_and_forgets_the_token(client, rt, shop):
    with rt.unit_of_work() as session:
        row = session.get_one(Integration, shop.integration_id)
        integrations.store_access_token(row, "shpat_secret", rt.settings.secret_key)
    ok(send(client, "app/uninstalled", fx.shop_resource()))
    [row] = rows(rt, Integration)
    assert row.status == "disconnected" and row.access_token_ciphertext is None
    # shop/redact comes 48 hours later and is still taken.
    ok(send(client, "shop/redact", fx.shop_redact()))
    assert deliveries(rt)[-1].status == "processed"
