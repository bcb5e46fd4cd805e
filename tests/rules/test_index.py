"""The rule index: the same answers as a linear scan, without looking at unrelated rules."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from storeflow.rules.compiler import CompiledSequence, MatchResult, compile_sequence
from storeflow.rules.index import PRODUCT_PATHS, RuleIndex, naive_match
from storeflow.rules.operators import OPERATORS, check_value
from storeflow.rules.schema import Enrollment, Filter, Sequence, Tag, Trigger, structure_sequence

ORDER = "ecommerce.order_placed"


def sequence(
    id: str,
    event: str = ORDER,
    filters: list[dict[str, Any]] | None = None,
    status: str = "active",
    priority: int = 50,
) -> CompiledSequence:
    data = {
        "id": id,
        "name": id,
        "status": status,
        "priority": priority,
        "trigger": {"event": event, "filters": filters or []},
        "steps": [{"tag": {"add": ["x"]}}],
    }
    return compile_sequence(structure_sequence(data))


def on_product(id: str, *product_ids: Any, **kwargs: Any) -> CompiledSequence:
    operator = "equals" if len(product_ids) == 1 else "one_of"
    value = product_ids[0] if len(product_ids) == 1 else list(product_ids)
    return sequence(
        id,
        filters=[{"path": "lineItems[].providerProductId", "operator": operator, "value": value}],
        **kwargs,
    )


def order(*product_ids: Any, **extra: Any) -> dict[str, Any]:
    return {"lineItems": [{"providerProductId": pid} for pid in product_ids], **extra}


def ids(matches: list[tuple[CompiledSequence, MatchResult]]) -> list[str]:
    return [s.id for s, _ in matches]


def test_candidates_are_only_the_products_named_and_the_product_agnostic() -> None:
    store_wide = sequence("thanks")
    coffee = on_product("coffee", "501", "502")
    unrelated = [on_product(f"p{n}", str(1000 + n)) for n in range(500)]
    cart = sequence("cart", event="ecommerce.cart_started")
    index = RuleIndex([store_wide, coffee, *unrelated, cart])
    assert [s.id for s in index.candidates(ORDER, order("502", "77"))] == ["thanks", "coffee"]
    assert [s.id for s in index.candidates(ORDER, order("1007"))] == ["thanks", "p7"]
    assert index.candidates("ecommerce.back_in_stock", order("501")) == []
    assert len(index) == 503


def test_ids_match_whatever_their_json_type() -> None:
    index = RuleIndex([on_product("as-number", 501), on_product("as-string", "501")])
    assert ids(index.match(ORDER, order("501"))) == ["as-number", "as-string"]
    assert ids(index.match(ORDER, order(501.0))) == ["as-number", "as-string"]
    assert ids(index.match(ORDER, order("0501"))) == ["as-number"]  # two strings compare exactly


def test_every_product_path_is_indexed() -> None:
    sequences = [
        sequence(f"s{n}", filters=[{"path": path, "operator": "equals", "value": "9"}])
        for n, path in enumerate(PRODUCT_PATHS)
    ]
    index = RuleIndex(sequences)
    event = {"lineItems": [{"providerVariantId": "9"}], "product": {"providerProductId": "9"}}
    assert [s.id for s in index.candidates(ORDER, event)] == ["s1", "s2"]
    assert ids(index.match(ORDER, event)) == ["s1", "s2"]


def test_only_active_sequences_match() -> None:
    index = RuleIndex(
        [
            on_product("paused", "1", status="paused"),
            on_product("draft", "1", status="draft"),
            on_product("live", "1"),
        ]
    )
    assert ids(index.match(ORDER, order("1"))) == ["live"]


def test_results_are_ordered_by_priority_then_id() -> None:
    index = RuleIndex(
        [
            sequence("b", priority=10),
            on_product("c", "1", priority=90),
            sequence("a", priority=10),
            on_product("z", "1", priority=90),
        ]
    )
    assert ids(index.match(ORDER, order("1"))) == ["c", "z", "a", "b"]
    assert all(result == MatchResult(True, []) for _, result in index.match(ORDER, order("1")))


def test_the_other_filters_still_apply_to_indexed_candidates() -> None:
    coffee = sequence(
        "big-coffee",
        filters=[
            {"path": "totalCents", "operator": "greater_than", "value": 5000},
            {"path": "lineItems[].providerProductId", "operator": "equals", "value": "501"},
        ],
    )
    index = RuleIndex([coffee])
    assert ids(index.match(ORDER, order("501", totalCents=6000))) == ["big-coffee"]
    assert index.match(ORDER, order("501", totalCents=10)) == []


def test_a_sequence_named_twice_by_one_order_matches_once() -> None:
    index = RuleIndex([on_product("coffee", "501", "502")])
    assert ids(index.match(ORDER, order("501", "502", "501"))) == ["coffee"]


def test_a_matching_field_sequence_needs_its_key() -> None:
    restock = sequence(
        "restock",
        event="ecommerce.back_in_stock",
        filters=[{"path": "product.providerProductId", "operator": "equals", "value": "5"}],
    )
    index = RuleIndex([restock])
    assert ids(
        index.match(
            "ecommerce.back_in_stock",
            {"product": {"providerProductId": "5", "providerVariantId": "6"}},
        )
    ) == ["restock"]
    assert index.match("ecommerce.back_in_stock", {"product": {"providerProductId": "5"}}) == []


# --- hypothesis: the index answers exactly what the scan answers ------------------------

EVENTS = [ORDER, "ecommerce.back_in_stock"]
# Few ids, in every JSON shape that equality treats specially, so that collisions
# between "501", 501, 501.0 and "0501" (and "true"/True) are common.
PRODUCT_IDS = ["501", 501, 501.0, "0501", "77", "true", True, "True"]
OTHER_PATHS = [
    "totalCents",
    "lineItems[].quantity",
    "subscriber.ordersCount",
    "subscriber.tags",
    "currency",
]
OTHER_VALUES = [0, 1, 2, "2", 1500, "EUR", "vip", 2.5]


@st.composite
def filters(draw: st.DrawFn, product: bool = False) -> Filter:
    path = draw(st.sampled_from(PRODUCT_PATHS if product else list(PRODUCT_PATHS) + OTHER_PATHS))
    pool = PRODUCT_IDS if path in PRODUCT_PATHS else OTHER_VALUES
    # Product paths mostly get the indexable operators, but not always.
    indexable = ["equals", "one_of"] * (6 if product else 1)
    operator = draw(st.sampled_from([*indexable, *OPERATORS]))
    if operator in ("exists", "not_exists"):
        value = None
    elif operator == "one_of":
        value = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4))
    elif operator in ("greater_than", "less_than"):
        value = draw(st.sampled_from([0, 1, 2, 1500, "2"]))
    else:
        value = draw(st.sampled_from(pool).filter(lambda v: check_value(operator, v) is None))
    return Filter(path=path, operator=operator, value=value)


@st.composite
def sequences(draw: st.DrawFn, number: int) -> CompiledSequence:
    product_filter = draw(filters(product=True))
    other = draw(st.lists(filters(), max_size=2))
    position = draw(st.integers(0, len(other)))
    # Most sequences carry an indexable product filter somewhere among their filters.
    chosen = (
        other[:position] + [product_filter] + other[position:] if draw(st.integers(0, 3)) else other
    )
    enrollment = draw(
        st.sampled_from(
            [
                None,
                None,
                None,
                Enrollment(mode="matching_field", field_path="product.providerVariantId"),
            ]
        )
    )
    return compile_sequence(
        Sequence(
            id=draw(st.sampled_from(["a", "b", "c", f"s{number}"])),  # duplicate ids happen
            name="n",
            status=draw(st.sampled_from(["active", "active", "active", "paused", "draft"])),
            priority=draw(st.sampled_from([0, 50, 50, 100])),
            trigger=Trigger(event=draw(st.sampled_from(EVENTS)), filters=chosen),
            enrollment=enrollment,
            steps=[Tag(add=["x"])],
        )
    )


rule_sets = st.integers(0, 25).flatmap(lambda n: st.tuples(*(sequences(i) for i in range(n))))
ids_or_missing = st.one_of(st.sampled_from(PRODUCT_IDS), st.none())
line_items = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "providerProductId": ids_or_missing,
            "providerVariantId": ids_or_missing,
            "quantity": st.sampled_from([1, 2, "3"]),
        },
    ),
    max_size=4,
)
event_properties = st.fixed_dictionaries(
    {
        "lineItems": line_items,
        "product": st.fixed_dictionaries(
            {}, optional={"providerProductId": ids_or_missing, "providerVariantId": ids_or_missing}
        ),
    },
    optional={
        "totalCents": st.sampled_from([0, 1500, "2000", 99999]),
        "currency": st.sampled_from(["EUR", "USD"]),
    },
)
subscribers = st.fixed_dictionaries(
    {},
    optional={
        "ordersCount": st.sampled_from([0, 1, 2, "2"]),
        "tags": st.lists(st.sampled_from(["vip", "x"]), max_size=2),
    },
)


@settings(max_examples=250, deadline=None)
@given(rule_sets, st.sampled_from(EVENTS), event_properties, subscribers)
def test_index_match_equals_naive_match(
    rules: tuple[CompiledSequence, ...],
    event: str,
    properties: dict[str, Any],
    subscriber: dict[str, Any],
) -> None:
    index = RuleIndex(rules)
    indexed = index.match(event, properties, subscriber)
    scanned = naive_match(rules, event, properties, subscriber)
    assert [s for s, _ in indexed] == [s for s, _ in scanned]  # same objects, same order
    assert [r for _, r in indexed] == [r for _, r in scanned]
    assert [s for s, _ in index.naive_match(event, properties, subscriber)] == [
        s for s, _ in scanned
    ]
    # and each is exactly what the sequence itself says
    expected = {
        id(s)
        for s in rules
        if s.status == "active" and s.match(event, properties, subscriber).matched
    }
    assert {id(s) for s, _ in indexed} == expected


@st.composite
def product_rules(draw: st.DrawFn, number: int) -> CompiledSequence:
    """One indexable filter and nothing else: the part of the index most likely to miss."""
    path = draw(st.sampled_from(PRODUCT_PATHS))
    if draw(st.booleans()):
        trigger_filter = Filter(
            path=path, operator="equals", value=draw(st.sampled_from(PRODUCT_IDS))
        )
    else:
        values = draw(st.lists(st.sampled_from(PRODUCT_IDS), min_size=1, max_size=3))
        trigger_filter = Filter(path=path, operator="one_of", value=values)
    return compile_sequence(
        Sequence(
            id=f"p{number}",
            name="n",
            trigger=Trigger(event=ORDER, filters=[trigger_filter]),
            stop=[],
            steps=[Tag(add=["x"])],
        )
    )


product_rule_sets = st.integers(1, 8).flatmap(
    lambda n: st.tuples(*(product_rules(i) for i in range(n)))
)
one_id = st.sampled_from(PRODUCT_IDS)
product_events = st.fixed_dictionaries(
    {
        "lineItems": st.lists(
            st.fixed_dictionaries({"providerProductId": one_id, "providerVariantId": one_id}),
            max_size=3,
        ),
        "product": st.fixed_dictionaries(
            {"providerProductId": one_id, "providerVariantId": one_id}
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(product_rule_sets, product_events)
def test_index_never_misses_a_product_rule(
    rules: tuple[CompiledSequence, ...], properties: dict[str, Any]
) -> None:
    indexed = RuleIndex(rules).match(ORDER, properties, {})
    assert [s for s, _ in indexed] == [s for s, _ in naive_match(rules, ORDER, properties, {})]
