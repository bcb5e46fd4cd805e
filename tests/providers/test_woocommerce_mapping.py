"""WooCommerce wire objects -> core records, through the provider as core calls it."""

from __future__ import annotations

import importlib.metadata
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storeflow.core.commerce.money import Money
from storeflow.core.commerce.records import (
    Customer,
    CustomerDeleted,
    Mapped,
    Order,
    OrderDeleted,
    Product,
    ProductDeleted,
    Refund,
)
from storeflow.core.errors import BadRequest, Unmappable, ValidationFailed
from storeflow.core.plugins import build_plugin_manager, providers
from storeflow.core.stores.provider import Provider, StoreContext
from storeflow.providers.woocommerce import mapping, plugin
from storeflow.providers.woocommerce.plugin import WooCommerceProvider
from tests.providers import woocommerce_payloads as fx

PROVIDER = WooCommerceProvider()
STORE = StoreContext(integration_id="int_1", company_id=1, currency="USD", timezone="UTC")


def deliver(topic: str, payload: dict[str, Any], store: StoreContext = STORE) -> Mapped:
    """What core does with one delivery: parse the PHP-encoded body, then map it."""
    parsed = PROVIDER.parse_payload(topic, fx.php_json(payload))
    return PROVIDER.map_webhook(topic, parsed, store)


def only_record(mapped: Mapped) -> Any:
    assert mapped.ignored is None
    assert len(mapped.records) == 1
    return mapped.records[0]


def map_order(payload: dict[str, Any], store: StoreContext = STORE) -> Order:
    record = only_record(deliver("order.updated", payload, store))
    assert isinstance(record, Order)
    return record


# --- buyers ------------------------------------------------------------------------


def test_guest_order_takes_the_email_from_billing() -> None:
    order = map_order(fx.guest_order(email="  Ana.Garcia@Example.COM "))
    assert order.email == "ana.garcia@example.com"
    assert order.customer is None
    assert (order.first_name, order.last_name) == ("Ana", "Garc\u00eda")


def test_registered_buyer_also_becomes_the_orders_customer() -> None:
    order = map_order(fx.order(customer_id=25, email="John.Doe@example.com"))
    assert order.email == "john.doe@example.com"
    assert order.customer == Customer(
        provider_customer_id="25", email="john.doe@example.com", first_name="John", last_name="Doe"
    )


@pytest.mark.parametrize("email", ["", None, "   ", "not-an-email", "a@b@c"])
def test_an_order_without_a_usable_email_is_unmappable(email: str | None) -> None:
    with pytest.raises(Unmappable) as caught:
        deliver("order.created", fx.order(id=4242, email=email, created_via="admin"))
    assert caught.value.code == "missing_email"
    assert "4242" in caught.value.message
    assert "billing.email" in caught.value.message


# --- status -> state ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("pending", "placed"),
        ("processing", "placed"),
        ("on-hold", "placed"),
        ("created", "placed"),
        ("completed", "fulfilled"),
        ("cancelled", "cancelled"),
        ("failed", "cancelled"),
        ("refunded", "refunded"),
        ("wc-completed", "fulfilled"),
        ("Processing", "placed"),
    ],
)
def test_status_maps_to_state(status: str, state: str) -> None:
    order = map_order(fx.order(status=status))
    assert order.state == state
    assert order.status == status  # the provider's value, verbatim


def test_an_order_first_delivered_as_processing_is_placed() -> None:
    # Payloads are built at delivery time: order.created already shows "processing".
    order = only_record(deliver("order.created", fx.order(status="processing")))
    assert order.state == "placed"


@pytest.mark.parametrize("status", ["checkout-draft", "draft", "auto-draft", "trash", "new"])
def test_draft_orders_are_ignored(status: str) -> None:
    mapped = deliver("order.updated", fx.order(status=status, email=""))
    assert mapped.records == ()
    assert mapped.ignored is not None
    assert status in mapped.ignored.reason


def test_unknown_plugin_statuses_are_ignored_with_a_reason() -> None:
    mapped = deliver("order.updated", fx.order(status="shipped"))
    assert mapped.records == ()
    assert mapped.ignored is not None
    assert "shipped" in mapped.ignored.reason
    assert "STATE_BY_STATUS" in mapped.ignored.reason


# --- money, dates, numbers ---------------------------------------------------------


def test_order_money_uses_the_order_currency() -> None:
    payload = fx.guest_order(
        currency="CLP",
        line_items=[fx.line_item(unit_price="9000", quantity=2, currency="CLP")],
        shipping_total="0",
    )
    assert payload["total"] == "18000"
    order = map_order(payload)
    assert order.currency == "CLP"
    assert order.total == Money(18000, "CLP")
    assert order.line_items[0].price == Money(9000, "CLP")
    assert order.line_items[0].total == Money(18000, "CLP")


def test_three_decimal_currency() -> None:
    payload = fx.order(
        currency="KWD",
        line_items=[fx.line_item(unit_price="1.250", quantity=1, currency="KWD")],
        shipping_total="0.500",
    )
    order = map_order(payload)
    assert order.total == Money(1750, "KWD")
    assert order.line_items[0].price == Money(1250, "KWD")


def test_unit_price_comes_from_the_price_number() -> None:
    item = fx.line_item(quantity=3, total="10.00", subtotal="12.00")
    assert item["price"] == 3.3333333333333335
    line = map_order(fx.order(line_items=[item])).line_items[0]
    assert line.price == Money(333, "USD")
    assert line.total == Money(1000, "USD")  # the exact string, after the discount
    assert line.quantity == 3


def test_unit_price_without_a_price_field_is_total_over_quantity() -> None:
    item = fx.line_item(quantity=4, total="10.00")
    del item["price"]
    assert map_order(fx.order(line_items=[item])).line_items[0].price == Money(250, "USD")


def test_refund_totals_become_positive_amounts() -> None:
    order = map_order(
        fx.order(status="completed", refunds=[fx.refund(id=730, total="-5.00", reason="Broken")])
    )
    assert order.refunds == (
        Refund(provider_refund_id="730", amount=Money(500, "USD"), reason="Broken"),
    )


def test_fully_refunded_order() -> None:
    order = map_order(
        fx.order(status="refunded", total="75.00", refunds=[fx.refund(total="-75.00")])
    )
    assert order.state == "refunded"
    assert order.refunds[0].amount == Money(7500, "USD")


def test_dates_come_from_the_gmt_fields() -> None:
    payload = fx.order(
        date_created_gmt="2025-03-02T09:15:04", date_modified_gmt="2025-03-02T09:20:00"
    )
    order = map_order(payload, StoreContext("i", 1, timezone="America/New_York"))
    assert order.ordered_at == datetime(2025, 3, 2, 9, 15, 4, tzinfo=UTC)
    assert order.modified_at == datetime(2025, 3, 2, 9, 20, tzinfo=UTC)


def test_missing_gmt_dates_fall_back_to_local_time_in_the_store_timezone() -> None:
    payload = fx.order(date_created="2025-03-02T10:15:04")
    for key in ("date_created_gmt", "date_modified_gmt", "date_modified"):
        del payload[key]
    order = map_order(payload, StoreContext("i", 1, timezone="Europe/Paris"))
    assert order.ordered_at == datetime(2025, 3, 2, 9, 15, 4, tzinfo=UTC)
    assert order.modified_at is None


@pytest.mark.parametrize(("zone", "hour"), [("UTC+5:30", 4), ("-03:00", 13), ("Nowhere/Else", 10)])
def test_wordpress_offsets_resolve_local_times(zone: str, hour: int) -> None:
    payload = fx.order(date_created="2025-03-02T10:00:00")
    del payload["date_created_gmt"]
    order = map_order(payload, StoreContext("i", 1, timezone=zone))
    assert order.ordered_at.hour == hour
    assert order.ordered_at.tzinfo == UTC


def test_an_order_without_any_creation_date_is_unmappable() -> None:
    payload = fx.order()
    del payload["date_created_gmt"], payload["date_created"]
    with pytest.raises(Unmappable) as caught:
        deliver("order.updated", payload)
    assert caught.value.code == "missing_date"


def test_order_ids_above_2_pow_53_survive() -> None:
    big = 2**53 + 1
    order = map_order(fx.order(id=big, line_items=[fx.line_item(product_id=big + 2)]))
    assert order.provider_order_id == "9007199254740993"
    assert order.order_number == "9007199254740993"
    assert order.line_items[0].provider_product_id == "9007199254740995"


def test_order_number_may_be_non_numeric() -> None:
    assert map_order(fx.order(number="WC-1001")).order_number == "WC-1001"


# --- line items --------------------------------------------------------------------


def test_simple_line_item_variant_is_the_product() -> None:
    line = map_order(fx.order()).line_items[0]
    assert (line.provider_product_id, line.provider_variant_id) == ("93", "93")
    assert line.variant_title == ""
    assert line.title == "Caf\u00e9 Mug"
    assert line.sku == "MUG-1"
    assert line.image_url is None  # image.src is ""
    assert line.provider_line_id == "315"


def test_variation_line_item() -> None:
    line = map_order(fx.order()).line_items[1]
    assert (line.provider_product_id, line.provider_variant_id) == ("732", "733")
    assert line.title == "Hoodie"  # parent_name, not "Hoodie - Blue, Large"
    assert line.variant_title == "Blue, Large"
    assert line.image_url == "https://shop.example.com/wp-content/uploads/2025/01/hoodie-blue.jpg"


def test_hidden_meta_is_not_part_of_the_variant_title() -> None:
    item = fx.variation_line_item()
    item["meta_data"].append(
        {
            "id": 9,
            "key": "_reduced_stock",
            "value": "1",
            "display_key": "_reduced_stock",
            "display_value": "1",
        }
    )
    assert map_order(fx.order(line_items=[item])).line_items[0].variant_title == "Blue, Large"


def test_variant_title_falls_back_to_the_generated_name() -> None:
    item = fx.variation_line_item()
    item["meta_data"] = []
    assert map_order(fx.order(line_items=[item])).line_items[0].variant_title == "Blue, Large"


def test_deleted_products_keep_their_line() -> None:
    item = fx.line_item(product_id=0, sku=None, name="Old &amp; Gone")
    line = map_order(fx.order(line_items=[item])).line_items[0]
    assert (line.provider_product_id, line.sku, line.title) == ("0", "", "Old & Gone")


def test_html_entities_in_names_are_decoded() -> None:
    item = fx.line_item(name="Ship Your Idea &ndash; Color: Black")
    assert (
        map_order(fx.order(line_items=[item])).line_items[0].title
        == "Ship Your Idea \u2013 Color: Black"
    )


# --- products ----------------------------------------------------------------------


def test_simple_product_has_one_variant_with_its_own_id() -> None:
    product = only_record(
        deliver("product.updated", fx.product_simple(categories=["Bags &amp; Shoes", "Sale"]))
    )
    assert isinstance(product, Product)
    assert product.provider_product_id == "794"
    assert product.parent_id is None
    assert product.title == "Premium Quality"
    assert product.price == Money(2199, "USD")
    assert product.url == "https://shop.example.com/product/premium-quality/"
    assert product.image_url == "https://shop.example.com/wp-content/uploads/2025/01/T_2_front.jpg"
    assert product.categories == ("Bags & Shoes", "Sale")
    assert product.modified_at == datetime(2025, 1, 10, 8, 30, tzinfo=UTC)
    (variant,) = product.variants
    assert variant.provider_variant_id == "794"
    assert (variant.sku, variant.price, variant.stock_status, variant.stock_quantity) == (
        "PQ-001",
        Money(2199, "USD"),
        "instock",
        12,
    )


def test_product_prices_use_the_store_currency() -> None:
    store = StoreContext("i", 1, currency="CLP")
    product = only_record(deliver("product.updated", fx.product_simple(price="18000"), store))
    assert product.price == Money(18000, "CLP")


def test_a_product_without_a_price() -> None:
    product = only_record(deliver("product.updated", fx.product_simple(price="")))
    assert product.price is None
    assert product.variants[0].price is None


def test_variable_product_has_no_variants() -> None:
    product = only_record(deliver("product.updated", fx.product_variable(price="42.00")))
    assert product.type == "variable"
    assert product.variants == ()
    assert product.price == Money(4200, "USD")
    assert product.categories == ("Clothing", "Hoodies")


def test_variable_subscription_is_variable_too() -> None:
    product = only_record(
        deliver("product.updated", fx.product_variable(type="variable-subscription"))
    )
    assert product.variants == ()


def test_variation_updates_one_variant_of_its_parent() -> None:
    payload = fx.variation(
        id=733, parent_id=732, manage_stock="parent", stock_quantity=7, stock_status="instock"
    )
    product = only_record(deliver("product.updated", payload))
    assert isinstance(product, Product)
    assert product.provider_product_id == "732"
    assert product.parent_id == "732"
    assert product.title == ""
    assert product.type == "variation"
    assert product.categories == ()
    (variant,) = product.variants
    assert variant.provider_variant_id == "733"
    assert variant.title == "Blue, Large"
    assert variant.price == Money(4500, "USD")
    assert (variant.stock_status, variant.stock_quantity) == ("instock", 7)
    assert variant.url == payload["permalink"]
    assert variant.image_url == payload["images"][0]["src"]


def test_variation_going_out_of_stock() -> None:
    payload = fx.variation(manage_stock=True, stock_quantity=0, stock_status="outofstock")
    variant = only_record(deliver("product.updated", payload)).variants[0]
    assert (variant.stock_status, variant.stock_quantity) == ("outofstock", 0)


def test_variation_without_option_values_uses_its_name() -> None:
    payload = fx.variation()
    payload["attributes"] = []
    assert only_record(deliver("product.updated", payload)).variants[0].title == "Blue, Large"


def test_variation_without_parent_is_unmappable() -> None:
    with pytest.raises(Unmappable) as caught:
        deliver("product.updated", fx.variation(parent_id=0))
    assert caught.value.code == "missing_parent"


def test_v2_placeholder_images_are_skipped() -> None:
    payload = fx.product_simple(image_srcs=[])
    payload["images"] = [
        {"id": 0, "src": "https://shop.example.com/wp-content/uploads/woocommerce-placeholder.png"}
    ]
    product = only_record(deliver("product.updated", payload))
    assert product.image_url is None and product.image_urls == ()


def test_rest_variation_shape_with_a_single_image() -> None:
    payload = fx.variation()
    payload["image"] = payload.pop("images")[0]
    variant = only_record(deliver("product.updated", payload)).variants[0]
    assert variant.image_url == payload["image"]["src"]


# --- customers and deletions -------------------------------------------------------


def test_customer() -> None:
    customer = only_record(deliver("customer.created", fx.customer(email=" John.Doe@Example.com")))
    assert customer == Customer(
        provider_customer_id="25",
        email="john.doe@example.com",
        first_name="John",
        last_name="Doe",
        modified_at=datetime(2025, 2, 21, 16, 12, 3, tzinfo=UTC),
        created_at=datetime(2025, 2, 21, 16, 9, 28, tzinfo=UTC),
    )


def test_customer_names_fall_back_to_billing() -> None:
    payload = fx.customer(first_name="", last_name="")
    payload["billing"]["first_name"], payload["billing"]["last_name"] = "Jo", "Dee"
    customer = only_record(deliver("customer.updated", payload))
    assert (customer.first_name, customer.last_name) == ("Jo", "Dee")


def test_never_modified_customer() -> None:
    customer = only_record(deliver("customer.updated", fx.customer(date_modified_gmt=None)))
    assert customer.modified_at is None


def test_customer_without_email_uses_billing_or_fails() -> None:
    with_billing = fx.customer(email="", billing_email="Billing@Example.com")
    assert only_record(deliver("customer.updated", with_billing)).email == "billing@example.com"
    with pytest.raises(Unmappable):
        deliver("customer.updated", fx.customer(email="", billing_email=""))


@pytest.mark.parametrize(
    ("topic", "record"),
    [
        ("order.deleted", OrderDeleted("727")),
        ("product.deleted", ProductDeleted("727")),
        ("customer.deleted", CustomerDeleted("727")),
    ],
)
def test_deletions(topic: str, record: object) -> None:
    assert deliver(topic, fx.deleted(727)) == Mapped(records=(record,))


def test_map_deleted_accepts_plural_names_and_refuses_others() -> None:
    assert mapping.map_deleted("orders", "5") == Mapped(records=(OrderDeleted("5"),))
    with pytest.raises(Unmappable):
        mapping.map_deleted("coupon", "5")


# --- sync items and replays --------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "item", "record_type"),
    [
        ("orders", fx.order(), Order),
        ("products", fx.product_simple(), Product),
        ("products", fx.variation(), Product),
        ("customers", fx.customer(), Customer),
    ],
)
def test_sync_items_are_plain_decoded_dicts(
    resource: str, item: dict[str, Any], record_type: type
) -> None:
    assert isinstance(only_record(PROVIDER.map_sync_item(resource, item, STORE)), record_type)


def test_sync_item_with_float_prices_stays_exact() -> None:
    # Decoded by a caller without parse_float=Decimal: 3.3333333333333335 is a float.
    item = json.loads(fx.php_json(fx.order(line_items=[fx.line_item(quantity=3, total="10.00")])))
    assert isinstance(item["line_items"][0]["price"], float)
    order = only_record(PROVIDER.map_sync_item("orders", item, STORE))
    assert order.line_items[0].price == Money(333, "USD")


def test_sync_item_errors() -> None:
    with pytest.raises(ValidationFailed) as caught:
        PROVIDER.map_sync_item("coupons", {"id": 1}, STORE)
    assert caught.value.code == "unsupported_resource"
    with pytest.raises(ValidationFailed) as caught:
        PROVIDER.map_sync_item("orders", fx.rest_error(), STORE)
    assert caught.value.code == "woocommerce_rest_error"
    with pytest.raises(ValidationFailed) as caught:
        PROVIDER.map_sync_item("orders", {"id": 1, "status": "processing"}, STORE)
    assert caught.value.details[0]["path"] == "$.currency"


def test_map_webhook_accepts_a_decoded_payload_for_replays() -> None:
    mapped = PROVIDER.map_webhook("order.updated", fx.order(), STORE)
    assert isinstance(only_record(mapped), Order)
    mapped = PROVIDER.map_webhook("order.updated", fx.php_json(fx.order()), STORE)
    assert isinstance(only_record(mapped), Order)


# --- registration ------------------------------------------------------------------


def test_the_provider_implements_the_protocol() -> None:
    assert isinstance(PROVIDER, Provider)
    assert PROVIDER.name == "woocommerce"


def test_registered_through_the_plugin_manager() -> None:
    pm = build_plugin_manager(
        load_entrypoints=False, extra=["storeflow.providers.woocommerce.plugin"]
    )
    found = providers(pm)
    assert isinstance(found["woocommerce"], WooCommerceProvider)


def test_declared_as_a_storeflow_providers_entry_point() -> None:
    points = importlib.metadata.entry_points(group="storeflow.providers")
    (point,) = [p for p in points if p.name == "woocommerce"]
    assert point.load() is plugin


# --- property: mapping never fails with a bare exception ---------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.sampled_from(
        ["", "0", "-5.00", "18000", "1e13", "abc", "parent", "variation", "2017-03-22T16:28:02"]
    )
    | st.text(max_size=10)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
SAMPLES = {
    "order.updated": fx.order(refunds=[fx.refund()]),
    "product.updated": fx.variation(),
    "customer.updated": fx.customer(),
}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(
    data=st.data(),
    topic=st.sampled_from(sorted(SAMPLES)),
    new=JSON_VALUES,
    currency=st.sampled_from(["USD", "CLP", "KWD"]),
)
def test_mapping_mutated_payloads_fails_only_with_contract_errors(
    data: st.DataObject, topic: str, new: Any, currency: str
) -> None:
    payload = json.loads(json.dumps(SAMPLES[topic]))
    path = data.draw(st.sampled_from(_paths(payload)[1:]))
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    try:
        mapped = deliver(topic, payload, StoreContext("i", 1, currency=currency))
    except (BadRequest, ValidationFailed, Unmappable):
        return
    assert isinstance(mapped, Mapped)
    for record in mapped.records:
        for money in _money_fields(record):
            assert isinstance(money.minor, int)


def _money_fields(record: Any) -> list[Money]:
    found: list[Money] = []
    for name in getattr(type(record), "__attrs_attrs__", ()):
        value = getattr(record, name.name)
        if isinstance(value, Money):
            found.append(value)
        elif isinstance(value, tuple):
            for item in value:
                found.extend(_money_fields(item))
    return found


ODD_VALUES = [None, "", 0, "0", -1, True, [], {}, "x", "1e13", 2**64]


@pytest.mark.parametrize("topic", sorted(SAMPLES))
def test_every_field_set_to_an_odd_value_fails_only_with_contract_errors(topic: str) -> None:
    # Exhaustive where the property above samples: each path of a real payload, each
    # value that commonly trips mappers (null, "", 0, wrong container, overflow).
    sample = SAMPLES[topic]
    for path in _paths(sample)[1:]:
        for value in ODD_VALUES:
            payload = json.loads(json.dumps(sample))
            target = payload
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
            try:
                deliver(topic, payload)
            except (BadRequest, ValidationFailed, Unmappable):
                pass


# --- back-in-stock: variations from the REST endpoint, stock managed by the parent -------


def rest_variation(**overrides: Any) -> dict[str, Any]:
    """An item of ``/products/<id>/variations``: no ``type``, one ``image``, no ``images``."""
    payload = fx.variation(**overrides)
    del payload["type"]
    images = payload.pop("images")
    payload["image"] = images[0] if images else None
    return payload


def test_a_variation_from_the_variations_endpoint_is_a_variation() -> None:
    item = rest_variation(id=733, parent_id=732)
    [record] = PROVIDER.map_sync_item("products", item, STORE).records
    assert isinstance(record, Product)
    assert (record.provider_product_id, record.parent_id) == ("732", "732")
    [variant] = record.variants
    assert variant.provider_variant_id == "733"
    assert variant.image_url == item["image"]["src"]
    assert variant.title == "Blue, Large"


def test_a_simple_product_without_parent_stays_a_product() -> None:
    payload = fx.product_simple()
    assert payload["parent_id"] == 0
    record = only_record(deliver("product.updated", payload))
    assert record.parent_id is None and record.variants[0].provider_variant_id == "794"


def test_a_grouped_product_with_a_parent_id_stays_a_product() -> None:
    payload = fx.product_simple(type="grouped", parent_id=90)
    record = only_record(deliver("product.updated", payload))
    assert record.parent_id is None and record.provider_product_id == "794"


@pytest.mark.parametrize(("manage_stock", "follows"), [("parent", True), (True, False)])
def test_a_variation_says_whether_its_parent_manages_its_stock(manage_stock, follows) -> None:
    payload = fx.variation(manage_stock=manage_stock, stock_quantity=4)
    [variant] = only_record(deliver("product.updated", payload)).variants
    assert variant.stock_from_parent is follows
    assert variant.stock_quantity == 4


@pytest.mark.parametrize(("manage_stock", "quantity"), [(True, 9), (False, None)])
def test_a_variable_product_counts_stock_only_when_it_manages_it(manage_stock, quantity) -> None:
    payload = fx.product_variable(manage_stock=manage_stock, stock_quantity=9)
    record = only_record(deliver("product.updated", payload))
    assert record.variants == ()
    assert record.stock_quantity == quantity
