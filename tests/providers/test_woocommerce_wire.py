"""Decoding and validating WooCommerce bodies: what real stores send must parse, and
anything else must fail as BadRequest or ValidationFailed with a ``$.`` path."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storeflow.core.errors import BadRequest, ValidationFailed
from storeflow.providers.woocommerce import wire
from storeflow.providers.woocommerce.plugin import WooCommerceProvider
from tests.providers import woocommerce_payloads as fx

PROVIDER = WooCommerceProvider()
MINIMAL_ORDER = {"id": 1, "status": "processing", "currency": "USD", "total": "0.00"}


def order_with(**fields: Any) -> dict[str, Any]:
    return {**MINIMAL_ORDER, **fields}


def validation_paths(obj: Any, cls: type) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        wire.structure(obj, cls)
    assert caught.value.code == "validation_failed"
    assert caught.value.status == 422
    return [detail["path"] for detail in caught.value.details]


# --- loads -------------------------------------------------------------------------


def test_loads_undoes_php_escaping() -> None:
    body = (
        b'{"name":"Caf\\u00e9 \\ud83d\\ude00 \\u20ac",'
        b'"permalink":"https:\\/\\/shop.example.com\\/product\\/hoodie\\/"}'
    )
    assert wire.loads(body) == {
        "name": "Caf\u00e9 \U0001f600 \u20ac",
        "permalink": "https://shop.example.com/product/hoodie/",
    }


def test_loads_keeps_numbers_exact() -> None:
    decoded = wire.loads(
        b'{"price":3.3333333333333335,"half":12.5,"int":3,"big":18446744073709551617}'
    )
    assert decoded["price"] == Decimal("3.3333333333333335")
    assert isinstance(decoded["half"], Decimal)
    assert decoded["int"] == 3 and isinstance(decoded["int"], int)
    assert decoded["big"] == 2**64 + 1


def test_loads_accepts_a_byte_order_mark() -> None:
    assert wire.loads(b'\xef\xbb\xbf{"id":1}') == {"id": 1}


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"webhook_id=17",
        b'{"id":1,}',
        b"\xff\xfe{}",  # not UTF-8
        b'{"name":"caf\xe9"}',  # Latin-1, not UTF-8
        b"NaN",
        b'{"total":Infinity}',
        b"[" * 100_000 + b"]" * 100_000,  # nesting deep enough to exhaust recursion
        b'{"id":' + b"9" * 5000 + b"}",  # beyond Python's int digit limit
    ],
)
def test_loads_rejects_malformed_bodies_as_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest) as caught:
        wire.loads(body)
    # storeflow's parser names absurd nesting itself (issue 16).
    deep = body.startswith(b"[" * 1000)
    assert caught.value.code == ("json_too_deep" if deep else "malformed_json")
    assert caught.value.status == 400


# --- ids ---------------------------------------------------------------------------


def test_ids_above_2_pow_53_stay_exact_strings() -> None:
    big = 2**53 + 1
    body = fx.php_json(
        fx.order(
            id=2**64 + 7,
            customer_id=big,
            line_items=[fx.line_item(id=big + 2, product_id=big + 4, variation_id=big + 6)],
        )
    )
    order = wire.structure(wire.loads(body), wire.Order)
    assert order.id == "18446744073709551623"
    assert order.customer_id == str(big)
    item = order.line_items[0]
    assert (item.id, item.product_id, item.variation_id) == (
        str(big + 2),
        str(big + 4),
        str(big + 6),
    )


@pytest.mark.parametrize(
    ("value", "expected"), [(727, "727"), ("727", "727"), ("0727", "727"), (" 5 ", "5"), (0, "0")]
)
def test_ids_may_be_numeric_strings(value: Any, expected: str) -> None:
    assert wire.structure({"id": value}, wire.Deleted).id == expected


@pytest.mark.parametrize("value", [-1, "abc", "12a", "", 1.5, Decimal("727"), True, None, [], {}])
def test_ids_of_other_shapes_are_rejected_with_their_path(value: Any) -> None:
    assert validation_paths({"id": value}, wire.Deleted) == ["$.id"]


# --- wrong types report $.paths ------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"line_items": "abc"}, "$.line_items"),
        ({"line_items": [{"quantity": "abc", "total": "1.00"}]}, "$.line_items[0].quantity"),
        ({"line_items": [{"quantity": 2.5, "total": "1.00"}]}, "$.line_items[0].quantity"),
        ({"line_items": [{"quantity": True, "total": "1.00"}]}, "$.line_items[0].quantity"),
        ({"line_items": [{"quantity": 1, "total": {}}]}, "$.line_items[0].total"),
        ({"line_items": [{"quantity": 1, "total": "1,50"}]}, "$.line_items[0].total"),
        ({"line_items": [{"quantity": 1}]}, "$.line_items[0].total"),
        ({"line_items": [{"quantity": 1, "total": "1", "price": "x"}]}, "$.line_items[0].price"),
        ({"line_items": [None]}, "$.line_items[0]"),
        (
            {"line_items": [{"quantity": 1, "total": "1", "meta_data": 5}]},
            "$.line_items[0].meta_data",
        ),
        ({"billing": "ana@example.com"}, "$.billing"),
        ({"billing": {"email": ["a@b.c"]}}, "$.billing.email"),
        ({"refunds": [{"id": 730, "total": "lots"}]}, "$.refunds[0].total"),
        ({"currency": "dollars"}, "$.currency"),
        ({"currency": None}, "$.currency"),
        ({"total": None}, "$.total"),
        ({"total": "1e999"}, "$.total"),
        ({"status": True}, "$.status"),
        ({"status": {"a": 1}}, "$.status"),
        ({"date_created_gmt": "yesterday"}, "$.date_created_gmt"),
        ({"date_modified_gmt": 1710000000}, "$.date_modified_gmt"),
        ({"customer_id": "guest"}, "$.customer_id"),
    ],
)
def test_wrong_types_fail_with_the_field_path(fields: dict[str, Any], path: str) -> None:
    assert validation_paths(order_with(**fields), wire.Order) == [path]


def test_missing_required_fields_are_listed() -> None:
    with pytest.raises(ValidationFailed) as caught:
        wire.structure({"id": 1}, wire.Order)
    assert caught.value.details == [
        {"path": "$.status", "message": "required field missing"},
        {"path": "$.currency", "message": "required field missing"},
        {"path": "$.total", "message": "required field missing"},
    ]
    assert "$.status" in caught.value.message


def test_the_message_names_the_problem() -> None:
    with pytest.raises(ValidationFailed) as caught:
        wire.structure(order_with(line_items=[{"quantity": "abc", "total": "1"}]), wire.Order)
    assert caught.value.details[0]["message"] == "expected an integer, got the string 'abc'"


def test_top_level_must_be_an_object() -> None:
    assert validation_paths("order", wire.Order) == ["$"]
    assert validation_paths(17, wire.Product) == ["$"]


def test_details_are_capped() -> None:
    items = [{"quantity": "x", "total": "1"}] * 200
    with pytest.raises(ValidationFailed) as caught:
        wire.structure(order_with(line_items=items), wire.Order)
    assert len(caught.value.details) == wire.MAX_DETAILS
    assert "199 more" in caught.value.message


def test_quantities_written_as_numeric_strings_are_read() -> None:
    order = wire.structure(order_with(line_items=[{"quantity": "3", "total": "9"}]), wire.Order)
    assert order.line_items[0].quantity == 3


# --- tolerance ---------------------------------------------------------------------


def test_a_minimal_order_needs_only_the_required_fields() -> None:
    order = wire.structure(MINIMAL_ORDER, wire.Order)
    assert order.billing == wire.Billing()
    assert order.line_items == ()
    assert order.date_created_gmt is None


def test_extra_keys_are_ignored() -> None:
    payload = fx.order(brands=[{"id": 1}], global_unique_id="", some_plugin_field={"x": [1]})
    payload["line_items"][0]["cogs_value"] = "1.00"
    order = wire.structure(wire.loads(fx.php_json(payload)), wire.Order)
    assert order.id == "727"


def test_empty_php_objects_arriving_as_lists_are_accepted() -> None:
    payload = order_with(
        billing=[],
        shipping=[],
        line_items=[{"quantity": 1, "total": "1.00", "image": []}],
        _links=[],
    )
    order = wire.structure(payload, wire.Order)
    assert order.billing.email == ""
    assert order.line_items[0].image.src == ""


def test_php_lists_with_holes_arriving_as_objects_are_accepted() -> None:
    meta = {"0": {"key": "a", "value": 1}, "2": {"key": "b", "value": 2}, "10": {"key": "c"}}
    order = wire.structure(order_with(meta_data=meta), wire.Order)
    assert [entry.key for entry in order.meta_data] == ["a", "b", "c"]


def test_an_object_with_other_keys_is_not_an_array() -> None:
    assert validation_paths(order_with(line_items={"first": {}}), wire.Order) == ["$.line_items"]


def test_null_strings_read_as_empty() -> None:
    order = wire.structure(order_with(billing={"email": None, "first_name": None}), wire.Order)
    assert order.billing.email == ""
    assert order.billing.first_name == ""


def test_null_sku_and_parent_name_stay_none() -> None:
    item = {"quantity": 1, "total": "1.00", "sku": None, "parent_name": None}
    line = wire.structure(order_with(line_items=[item]), wire.Order).line_items[0]
    assert line.sku is None and line.parent_name is None


def test_unpaired_surrogates_are_rejected() -> None:
    payload = wire.loads(
        b'{"id":1,"status":"processing","currency":"USD","total":"1","number":"\\ud800"}'
    )
    assert validation_paths(payload, wire.Order) == ["$.number"]


def test_meta_data_values_are_mixed() -> None:
    meta = [
        {"id": 1, "key": "s", "value": "yes"},
        {"id": 2, "key": "n", "value": Decimal("1.5")},
        {"id": 3, "key": "l", "value": [1, "two"]},
        {"id": 4, "key": "o", "value": {"nested": {"x": None}}},
        {"id": 5, "key": "empty_object", "value": []},
    ]
    order = wire.structure(order_with(meta_data=meta), wire.Order)
    assert [entry.value for entry in order.meta_data] == [
        "yes",
        Decimal("1.5"),
        [1, "two"],
        {"nested": {"x": None}},
        [],
    ]


# --- dates and money ---------------------------------------------------------------


def test_gmt_dates_get_utc_and_local_dates_stay_naive() -> None:
    order = wire.structure(
        order_with(date_created="2017-03-22T16:28:02", date_created_gmt="2017-03-22T19:28:02"),
        wire.Order,
    )
    assert order.date_created_gmt == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)
    assert order.date_created == datetime(2017, 3, 22, 16, 28, 2)
    assert order.date_created.tzinfo is None


def test_a_gmt_date_with_an_offset_is_converted_to_utc() -> None:
    order = wire.structure(order_with(date_modified_gmt="2017-03-22T21:28:02+02:00"), wire.Order)
    assert order.date_modified_gmt == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)


@pytest.mark.parametrize("value", [None, ""])
def test_unset_dates_are_none(value: str | None) -> None:
    order = wire.structure(order_with(date_modified_gmt=value, date_paid_gmt=value), wire.Order)
    assert order.date_modified_gmt is None
    assert order.date_paid_gmt is None


def test_money_stays_exact_decimal_until_mapping() -> None:
    body = fx.php_json(
        order_with(
            total="29.35",
            line_items=[{"quantity": 3, "total": "10.00", "price": 3.3333333333333335}],
            refunds=[{"id": 730, "total": "-5.00"}],
        )
    )
    order = wire.structure(wire.loads(body), wire.Order)
    assert order.total == Decimal("29.35")
    assert order.line_items[0].price == Decimal("3.3333333333333335")
    assert order.refunds[0].total == Decimal("-5.00")


def test_float_prices_from_callers_are_read_by_their_shortest_text() -> None:
    # A sync item decoded without parse_float=Decimal still yields the written digits.
    order = wire.structure(
        order_with(line_items=[{"quantity": 3, "total": "10.00", "price": 3.3333333333333335}]),
        wire.Order,
    )
    assert order.line_items[0].price == Decimal("3.3333333333333335")


def test_product_prices_may_be_empty() -> None:
    product = wire.structure(
        {"id": 5, "price": "", "regular_price": "", "sale_price": "9"}, wire.Product
    )
    assert (product.price, product.regular_price, product.sale_price) == (None, None, Decimal("9"))


def test_currency_is_upper_cased() -> None:
    assert wire.structure(order_with(currency="clp"), wire.Order).currency == "CLP"


# --- products ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False, "parent"])
def test_manage_stock_is_a_bool_or_parent(value: bool | str) -> None:
    assert wire.structure({"id": 1, "manage_stock": value}, wire.Product).manage_stock == value


@pytest.mark.parametrize("value", ["yes", "true", 1, None])
def test_manage_stock_rejects_other_values(value: Any) -> None:
    assert validation_paths({"id": 1, "manage_stock": value}, wire.Product) == ["$.manage_stock"]


def test_a_variation_payload_parses() -> None:
    body = fx.php_json(fx.variation(id=733, parent_id=732, manage_stock="parent", stock_quantity=7))
    product = PROVIDER.parse_payload("product.updated", body)
    assert isinstance(product, wire.Product)
    assert (product.type, product.id, product.parent_id) == ("variation", "733", "732")
    assert product.manage_stock == "parent"
    assert product.stock_quantity == 7
    assert product.categories == ()
    assert [(a.name, a.option) for a in product.attributes] == [
        ("Color", "Blue"),
        ("Size", "Large"),
    ]


def test_a_variable_product_lists_variation_ids() -> None:
    product = PROVIDER.parse_payload("product.created", fx.php_json(fx.product_variable()))
    assert product.variations == ("733", "734")
    assert product.attributes[0].options == ("Blue", "Green")


# --- REST error objects ------------------------------------------------------------


def test_a_rest_error_object_is_reported_as_such() -> None:
    with pytest.raises(ValidationFailed) as caught:
        PROVIDER.parse_payload("order.updated", fx.php_json(fx.rest_error()))
    assert caught.value.code == "woocommerce_rest_error"
    assert "woocommerce_rest_cannot_view" in caught.value.message
    assert "401" in caught.value.message


def test_a_not_found_rest_error_is_reported_too() -> None:
    body = fx.php_json(
        fx.rest_error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", status=404)
    )
    with pytest.raises(ValidationFailed) as caught:
        PROVIDER.parse_payload("order.created", body)
    assert caught.value.code == "woocommerce_rest_error"
    assert "woocommerce_rest_shop_order_invalid_id" in caught.value.message


def test_a_resource_with_a_code_field_is_not_an_error() -> None:
    assert wire.rest_error({"id": 9, "code": "SUMMER", "message": "x"}) is None
    assert wire.rest_error({"code": 5, "message": "x"}) is None


# --- parse_payload by topic --------------------------------------------------------


@pytest.mark.parametrize(
    ("topic", "payload", "cls"),
    [
        ("order.created", fx.order(), wire.Order),
        ("order.updated", fx.guest_order(), wire.Order),
        ("order.restored", fx.order(), wire.Order),
        ("product.updated", fx.product_simple(), wire.Product),
        ("product.created", fx.variation(), wire.Product),
        ("customer.created", fx.customer(), wire.Customer),
        ("customer.updated", fx.customer(date_modified_gmt=None), wire.Customer),
        ("order.deleted", fx.deleted(727), wire.Deleted),
        ("product.deleted", fx.deleted(794), wire.Deleted),
        ("customer.deleted", fx.deleted(25), wire.Deleted),
        ("ORDER.Updated", fx.order(), wire.Order),
    ],
)
def test_parse_payload_picks_the_class_from_the_topic(
    topic: str, payload: dict[str, Any], cls: type
) -> None:
    parsed = PROVIDER.parse_payload(topic, fx.php_json(payload))
    assert isinstance(parsed, cls)
    assert parsed.id == str(payload["id"])


def test_parse_payload_reads_escaped_non_ascii_text() -> None:
    body = fx.php_json(fx.guest_order())
    assert b"Caf\\u00e9 Mug" in body and b"https:\\/\\/" in body
    order = PROVIDER.parse_payload("order.created", body)
    assert order.line_items[0].name == "Caf\u00e9 Mug"
    assert order.billing.last_name == "Garc\u00eda"


@pytest.mark.parametrize(
    "topic",
    ["coupon.created", "action.woocommerce_add_to_cart", "order", "order.exploded", "", "order."],
)
def test_unsupported_topics_are_refused_before_the_body_is_read(topic: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        PROVIDER.parse_payload(topic, b"not even json")
    assert caught.value.code == "unsupported_topic"


def test_parse_payload_reports_malformed_json() -> None:
    with pytest.raises(BadRequest) as caught:
        PROVIDER.parse_payload("order.updated", b'{"id":')
    assert caught.value.code == "malformed_json"


# --- properties --------------------------------------------------------------------

TOPICS = [
    "order.created",
    "order.updated",
    "order.deleted",
    "product.updated",
    "product.deleted",
    "customer.created",
    "customer.deleted",
]
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.decimals(allow_nan=False, allow_infinity=False).map(str)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["", "0", "parent", "2017-03-22T16:28:02", "-5.00", "1e999", "\ud800"])
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=8) | st.sampled_from(["id", "0", "1"]), inner, max_size=4
        )
    ),
    max_leaves=12,
)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode("utf-8", "surrogatepass")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a fixture, to mutate one of them."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(value))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return copy


SAMPLES = {
    "order.updated": fx.order(refunds=[fx.refund()]),
    "product.updated": fx.variation(),
    "customer.updated": fx.customer(),
}


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(topic=st.sampled_from(TOPICS), body=st.binary(max_size=200))
def test_parse_payload_on_arbitrary_bytes_fails_only_as_bad_input(topic: str, body: bytes) -> None:
    with contextlib.suppress(BadRequest, ValidationFailed):
        PROVIDER.parse_payload(topic, body)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(topic=st.sampled_from(TOPICS), value=JSON_VALUES)
def test_parse_payload_on_arbitrary_json_fails_only_as_bad_input(topic: str, value: Any) -> None:
    with contextlib.suppress(BadRequest, ValidationFailed):
        PROVIDER.parse_payload(topic, _json_bytes(value))


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(data=st.data(), topic=st.sampled_from(sorted(SAMPLES)), new=JSON_VALUES)
def test_parse_payload_on_mutated_payloads_fails_only_as_bad_input(
    data: st.DataObject, topic: str, new: Any
) -> None:
    sample = SAMPLES[topic]
    path = data.draw(st.sampled_from(_paths(sample)))
    with contextlib.suppress(BadRequest, ValidationFailed):
        PROVIDER.parse_payload(topic, _json_bytes(_replace(sample, path, new)))
