"""The Shopify provider without a database: signatures, dedupe keys, decoding, mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storeflow import (
    BadRequest,
    MoneyError,
    StoreContext,
    Unauthenticated,
    ValidationFailed,
    WebhookRequest,
    errors,
    records,
)
from storeflow.providers.shopify import mapping, oauth, plugin, signature, wire
from tests.providers import shopify_payloads as fx

PROVIDER = plugin.ShopifyProvider()
STORE = StoreContext(integration_id="int_1", company_id=1, store_url=f"https://{fx.SHOP}")


def request(topic: str, body: bytes, **headers: str) -> WebhookRequest:
    sent = {k.lower(): v for k, v in fx.headers(topic, body).items()}
    sent.update({k.lower(): v for k, v in headers.items()})
    return WebhookRequest(headers=sent, body=body, content_type="application/json")


def mapped(topic: str, payload: Any) -> records.Mapped:
    body = fx.dumps(payload)
    return PROVIDER.map_webhook(topic, PROVIDER.parse_payload(topic, body), STORE)


# --- signatures and dedupe -----------------------------------------------------------------


def test_the_signature_is_base64_of_the_raw_body_not_hex() -> None:
    body = fx.dumps(fx.inventory_level(3))
    value = signature.sign(body, fx.SECRET)
    assert len(value) == 44 and value.endswith("=")
    assert signature.verify(body, value, [fx.SECRET])
    assert not signature.verify(body, value, ["other"])
    assert not signature.verify(body, "not base64 \u00e9", [fx.SECRET])
    assert not signature.verify(body, None, [fx.SECRET])


def test_events_delivery_headers_without_the_x_prefix_verify() -> None:
    body = fx.dumps(fx.inventory_level(3))
    sent = {
        "shopify-hmac-sha256": signature.sign(body, fx.SECRET),
        "shopify-topic": "inventory_levels/update",
        "shopify-shop-domain": fx.SHOP,
        "shopify-webhook-id": "w-1",
    }
    verified = PROVIDER.verify_webhook(WebhookRequest(headers=sent, body=body), fx.SECRET)
    assert verified.topic == "inventory_levels/update"
    assert verified.headers["x-shopify-shop-domain"] == fx.SHOP
    assert verified.dedupe_key == "webhook:w-1"


def test_dedupe_prefers_the_webhook_id_then_topic_and_event_id() -> None:
    body = fx.dumps(fx.order())
    by_webhook = PROVIDER.verify_webhook(
        request("orders/create", body, **{"X-Shopify-Webhook-Id": "a"}), fx.SECRET
    )
    assert by_webhook.dedupe_key == "webhook:a"
    bare = request("orders/create", body)
    del bare.headers["x-shopify-webhook-id"]
    one = PROVIDER.verify_webhook(bare, fx.SECRET)
    other_topic = request(
        "orders/updated", body, **{"X-Shopify-Event-Id": bare.headers["x-shopify-event-id"]}
    )
    del other_topic.headers["x-shopify-webhook-id"]
    two = PROVIDER.verify_webhook(other_topic, fx.SECRET)
    assert one.dedupe_key != two.dedupe_key  # one Event-Id, two topics: two deliveries


def test_a_tampered_body_is_unauthenticated() -> None:
    body = fx.dumps(fx.order())
    sent = request("orders/create", body)
    with pytest.raises(Unauthenticated):
        PROVIDER.verify_webhook(WebhookRequest(headers=sent.headers, body=body + b" "), fx.SECRET)


def test_the_oauth_query_hmac_is_hex_over_the_sorted_parameters() -> None:
    params = {"shop": fx.SHOP, "code": "abc", "timestamp": "1", "state": "s"}
    params["hmac"] = signature.sign_query(params, fx.SECRET)
    assert signature.query_message(params) == f"code=abc&shop={fx.SHOP}&state=s&timestamp=1"
    assert len(params["hmac"]) == 64 and signature.verify_query(params, [fx.SECRET])
    assert not signature.verify_query({**params, "shop": "x.myshopify.com"}, [fx.SECRET])


@pytest.mark.parametrize(
    "shop, valid",
    [
        ("demo-store.myshopify.com", True),
        ("Demo-Store.MyShopify.com", True),
        ("demo.myshopify.com.evil.com", False),
        ("evil.com/demo.myshopify.com", False),
        ("demo.myshopify.com:443", False),
        ("-demo.myshopify.com", False),
        ("a.b.myshopify.com", False),
        ("", False),
    ],
)
def test_shop_domains(shop: str, valid: bool) -> None:
    assert (oauth.valid_shop(shop) is not None) is valid


# --- decoding ---------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=300), topic=st.sampled_from(sorted(plugin.TOPICS)))
def test_parse_payload_raises_only_clear_errors(body: bytes, topic: str) -> None:
    try:
        PROVIDER.parse_payload(topic, body)
    except (BadRequest, ValidationFailed):
        pass


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_FIELDS = st.sampled_from(
    [
        "id",
        "token",
        "email",
        "line_items",
        "customer",
        "updated_at",
        "total_price",
        "variants",
        "inventory_item_id",
        "location_id",
        "available",
        "refunds",
        "currency",
        "cart_token",
        "tags",
    ]
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    topic=st.sampled_from(sorted(plugin.TOPICS)), doc=st.dictionaries(_FIELDS, _JSON, max_size=8)
)
def test_mapping_arbitrary_documents_fails_only_as_storeflow_errors(
    topic: str, doc: dict[str, Any]
) -> None:
    body = json.dumps(doc).encode()
    try:
        PROVIDER.map_webhook(topic, PROVIDER.parse_payload(topic, body), STORE)
    except (errors.StoreflowError, MoneyError):
        pass


def test_ids_beyond_2_53_and_tags_as_a_comma_string() -> None:
    assert wire.loads(b'{"id":820982911946154508}')["id"] == 820982911946154508
    assert wire.tags("tag1, tag2,,  ", "$.tags") == ("tag1", "tag2")
    assert wire.tags(["a", " b "], "$.tags") == ("a", "b")


def test_times_with_the_shop_offset_and_with_z_and_milliseconds() -> None:
    assert wire.timestamp("2021-12-31T19:00:00-05:00", "$") == datetime(2022, 1, 1, tzinfo=UTC)
    assert wire.timestamp("2022-01-01T00:00:00.000Z", "$") == datetime(2022, 1, 1, tzinfo=UTC)
    with pytest.raises(ValidationFailed) as caught:
        wire.timestamp("yesterday", "$.updated_at")
    assert caught.value.details[0]["path"] == "$.updated_at"


def test_a_missing_required_id_names_its_path() -> None:
    with pytest.raises(ValidationFailed) as caught:
        PROVIDER.parse_payload("inventory_levels/update", b'{"inventory_item_id":1}')
    assert caught.value.details == [{"path": "$.location_id", "message": "required"}]


# --- mapping -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, status, state",
    [
        ({}, "paid/unfulfilled", "placed"),
        ({"financial_status": "authorized"}, "authorized/unfulfilled", "placed"),
        ({"fulfillment_status": "partial"}, "paid/partial", "placed"),
        ({"fulfillment_status": "fulfilled"}, "paid/fulfilled", "fulfilled"),
        ({"financial_status": "refunded"}, "refunded/unfulfilled", "refunded"),
        ({"financial_status": "voided"}, "cancelled", "cancelled"),
        ({"cancelled_at": "2026-03-01T10:00:00-05:00"}, "cancelled", "cancelled"),
    ],
)
def test_order_states(fields: dict[str, Any], status: str, state: str) -> None:
    [order, *_] = mapped("orders/updated", fx.order(**fields)).records
    assert isinstance(order, records.Order)
    assert (order.status, order.state) == (status, state)


def test_money_is_exact_and_refunds_are_the_successful_refund_transactions() -> None:
    failed = fx.refund("5.00", id=2)
    failed["transactions"][0]["status"] = "failure"
    document = fx.order(total_price="39.98", refunds=[fx.refund("10.0"), failed])
    [order, *_] = mapped("orders/updated", document).records
    assert isinstance(order, records.Order)
    assert order.total.minor == 3998
    assert [r.amount.minor for r in order.refunds] == [1000]


def test_discounts_lower_the_line_total() -> None:
    item = fx.line_item(total_discount="5.00", quantity=2)
    [order, *_] = mapped("orders/create", fx.order(line_items=[item])).records
    assert isinstance(order, records.Order)
    assert order.line_items[0].total.minor == 2 * 1999 - 500


def test_a_product_links_each_variant_to_its_inventory_item() -> None:
    product = fx.product(
        fx.variant(quantity=2),
        fx.variant(
            variant_id=fx.VARIANT_2_ID,
            item_id=fx.ITEM_2_ID,
            quantity=0,
            policy="continue",
            title="Large",
        ),
    )
    recs = mapped("products/update", product).records
    record, *links = recs
    assert isinstance(record, records.Product) and record.type == "variable"
    assert [(v.stock_status, v.stock_quantity) for v in record.variants] == [
        ("instock", 2),
        ("instock", None),
    ]
    assert [(link.inventory_item_id, link.oversell) for link in links] == [
        (str(fx.ITEM_ID), False),
        (str(fx.ITEM_2_ID), True),
    ]


def test_an_untracked_variant_before_2024_07_is_always_in_stock() -> None:
    product = fx.product(fx.variant(quantity=0, inventory_management=None))
    [record, *_] = mapped("products/update", product).records
    assert isinstance(record, records.Product)
    assert record.variants[0].stock_status == "instock"


def test_a_cart_line_with_properties_as_an_object_and_currency_from_the_bags() -> None:
    line = fx.cart_line(3, properties={"engraving": "B"})
    [activity] = mapped("carts/update", fx.cart(line)).records
    assert isinstance(activity, records.CartActivity)
    assert activity.email is None and activity.session_key == fx.CART_TOKEN
    assert activity.currency == "USD" and activity.lines[0].quantity == 3
    assert activity.lines[0].provider_variant_id == str(fx.VARIANT_ID)


def test_a_checkout_without_email_is_anonymous_then_named() -> None:
    [anonymous] = mapped("checkouts/create", fx.checkout(email=None)).records
    [named] = mapped("checkouts/update", fx.checkout(email=" Bob.Norman@mail.example.com ")).records
    assert isinstance(anonymous, records.CartActivity) and isinstance(named, records.CartActivity)
    assert anonymous.email is None and named.email == fx.EMAIL
    assert anonymous.session_key == named.session_key == fx.CART_TOKEN
    assert anonymous.event_id != named.event_id
    assert named.checkout_url and named.checkout_url.endswith("key=example-secret-token")


def test_privacy_requests_map_to_erasures_and_exports() -> None:
    [erase] = mapped("customers/redact", fx.customers_redact()).records
    assert erase == records.Erasure(
        scope="customer",
        emails=(fx.EMAIL,),
        phones=(fx.PHONE,),
        provider_customer_ids=(str(fx.CUSTOMER_ID),),
        provider_order_ids=(str(fx.ORDER_ID),),
    )
    [store] = mapped("shop/redact", fx.shop_redact()).records
    assert store == records.Erasure(scope="store")
    [export] = mapped("customers/data_request", fx.data_request(77)).records
    assert isinstance(export, records.DataRequest) and export.request_id == "77"


def test_every_subscribed_topic_maps(tmp_path: Any) -> None:
    samples = {
        "orders": fx.order(),
        "refunds/create": fx.refund(),
        "products/delete": {"id": fx.PRODUCT_ID},
        "products": fx.product(),
        "inventory_levels": fx.inventory_level(1),
        "checkouts/delete": {"id": 1, "cart_token": fx.CART_TOKEN},
        "checkouts": fx.checkout(email=fx.EMAIL),
        "carts": fx.cart(fx.cart_line()),
        "customers/delete": {"id": fx.CUSTOMER_ID},
        "customers": fx.customer(),
        "app/uninstalled": fx.shop_resource(),
    }
    for topic in plugin.SUBSCRIBED:
        payload = next(v for k, v in samples.items() if topic.startswith(k))
        result = mapped(topic, payload)
        assert result.records or (result.ignored and result.ignored.reason), topic
    assert set(plugin.SUBSCRIBED) >= mapping.ORDER_TOPICS
