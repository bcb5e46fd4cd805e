"""Dot-paths: every form parses, resolves to a list, and the fast paths agree with the rule."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storeflow.rules import paths
from storeflow.rules.paths import PathError, parse, resolve

ORDER = {
    "orderId": "9001",
    "customer": {"address": {"city": "Lyon"}, "note": None},
    "lineItems": [
        {"providerProductId": "501", "providerVariantId": "601", "tags": ["a", "b"]},
        {"providerProductId": "77", "providerVariantId": None, "tags": []},
        {"title": "no ids"},
    ],
    "product": {"providerProductId": "501"},
    "matrix": [[1, 2], [3, None], "not a list"],
}


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("orderId", (("orderId", 0),)),
        ("product.providerVariantId", (("product", 0), ("providerVariantId", 0))),
        ("lineItems[].providerProductId", (("lineItems", 1), ("providerProductId", 0))),
        ("lineItems[]", (("lineItems", 1),)),
        ("matrix[][]", (("matrix", 2),)),
        ("lineItems[].tags[]", (("lineItems", 1), ("tags", 1))),
        ("subscriber.ordersCount", (("subscriber", 0), ("ordersCount", 0))),
        ("a_b.c-d", (("a_b", 0), ("c-d", 0))),
    ],
)
def test_every_path_form_parses(text: str, steps: tuple[tuple[str, int], ...]) -> None:
    path = parse(text)
    assert path.steps == steps
    assert str(path) == text
    assert path.has_array == any(expand for _, expand in steps)


@pytest.mark.parametrize(
    "text", ["", "a..b", ".a", "a.", "a[0]", "a[", "a]", "1a", "a b", "a.[]", "[]"]
)
def test_malformed_paths_are_rejected(text: str) -> None:
    with pytest.raises(PathError):
        parse(text)


def test_a_non_string_path_is_rejected() -> None:
    with pytest.raises(PathError, match="must be a string"):
        parse(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("orderId", ["9001"]),
        ("customer.address.city", ["Lyon"]),
        ("customer.address.zip", []),
        ("customer.note", []),  # null is absent
        ("missing.deeper.still", []),
        ("lineItems[].providerProductId", ["501", "77"]),
        ("lineItems[].providerVariantId", ["601"]),  # null and missing are skipped
        ("lineItems[].tags", [["a", "b"], []]),  # lists without [] are values
        ("lineItems[].tags[]", ["a", "b"]),
        ("matrix[][]", [1, 2, 3]),  # nested arrays flatten; nulls and non-lists skipped
        ("product.providerProductId", ["501"]),
        ("lineItems.providerProductId", []),  # a key on a list needs []
        ("orderId[]", []),  # [] on a scalar finds nothing
        ("product[].providerProductId", []),
    ],
)
def test_resolve(text: str, expected: list[Any]) -> None:
    assert resolve(ORDER, text) == expected
    assert resolve(ORDER, parse(text)) == expected


def test_resolve_reads_any_mapping_and_tuples() -> None:
    data = MappingProxyType({"items": ({"id": 1}, MappingProxyType({"id": 2}))})
    assert resolve(data, "items[].id") == [1, 2]


def test_resolve_on_non_mappings_finds_nothing() -> None:
    assert resolve(None, "a") == []
    assert resolve("text", "a.b") == []
    assert resolve([{"a": 1}], "a") == []


def test_tail_drops_the_first_segment() -> None:
    path = parse("subscriber.tags[]")
    assert path.head == "subscriber"
    assert path.tail() == parse("tags[]")
    assert path.tail().resolve({"tags": ["vip"]}) == ["vip"]
    assert parse("subscriber").tail().resolve({"a": 1}) == [{"a": 1}]


def test_parse_is_cached() -> None:
    assert parse("lineItems[].providerProductId") is parse("lineItems[].providerProductId")


# --- the specialised resolvers agree with the definition -------------------------------

KEYS = ["a", "b", "c"]
json_leaf = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from(["x", "y", ""]))
json_values = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=3),
    ),
    max_leaves=12,
)
path_steps = st.lists(st.tuples(st.sampled_from(KEYS), st.integers(0, 2)), min_size=1, max_size=3)


def reference_resolve(obj: Any, steps: list[tuple[str, int]]) -> list[Any]:
    """The definition, written as plainly as possible."""
    current = [obj]
    for key, expand in steps:
        current = [o[key] for o in current if isinstance(o, dict) and o.get(key) is not None]
        for _ in range(expand):
            current = [e for v in current if isinstance(v, list) for e in v if e is not None]
    return current


@given(json_values, path_steps)
def test_compiled_resolvers_match_the_definition(obj: Any, steps: list[tuple[str, int]]) -> None:
    text = ".".join(key + "[]" * expand for key, expand in steps)
    assert resolve(obj, text) == reference_resolve(obj, steps)


@given(json_values, st.sampled_from(KEYS), st.sampled_from(KEYS))
def test_array_field_fast_path_matches_generic(obj: Any, first: str, second: str) -> None:
    steps = ((first, 1), (second, 0))
    assert paths._array_field_resolver(first, second)(obj) == paths._generic_resolver(steps)(obj)
