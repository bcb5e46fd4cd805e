"""Operators on resolved value lists: each one both ways, arrays, numbers vs strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storeflow.rules.operators import (
    OPERATORS,
    as_number,
    check_value,
    compile_test,
    equals,
    index_key,
    number_text,
)


def holds(operator: str, values: list[Any], value: Any = None) -> bool:
    return compile_test(operator, value)(values)


def test_operator_names_are_the_contract() -> None:
    assert OPERATORS == (
        "exists",
        "not_exists",
        "equals",
        "not_equals",
        "one_of",
        "contains",
        "greater_than",
        "less_than",
    )


@pytest.mark.parametrize(
    ("operator", "values", "value", "expected"),
    [
        ("exists", ["x"], None, True),
        ("exists", [""], None, True),
        ("exists", [[]], None, True),
        ("exists", [], None, False),
        ("not_exists", [], None, True),
        ("not_exists", [0], None, False),
        ("equals", ["501"], "501", True),
        ("equals", ["501"], 501, True),  # YAML number vs store string
        ("equals", [501], "501", True),
        ("equals", [10.0], 10, True),
        ("equals", ["10.50"], 10.5, True),
        ("equals", ["0501"], "501", False),  # two strings are ids: exact
        ("equals", ["501.0"], "501", False),
        ("equals", ["abc"], "ABC", False),
        ("equals", ["77", "501"], "501", True),  # any element
        ("equals", [], "501", False),
        ("equals", [True], True, True),
        ("equals", [True], "true", True),
        ("equals", ["TRUE"], True, True),
        ("equals", [True], 1, False),  # a boolean is not a number
        ("equals", [1], True, False),
        ("equals", [{"a": 1}], "a", False),
        ("not_equals", ["77"], "501", True),
        ("not_equals", ["77", "501"], "501", False),  # no element may equal
        ("not_equals", [], "501", True),  # missing is "not equal"
        ("one_of", ["77", "502"], ["501", "502"], True),
        ("one_of", [502], ["501", "502"], True),
        ("one_of", ["77"], ["501", "502"], False),
        ("one_of", ["0501"], ["501"], False),
        ("one_of", [], ["501"], False),
        ("one_of", [False], ["false", "x"], True),
        ("contains", ["Colombian coffee"], "coffee", True),
        ("contains", ["Colombian coffee"], "Tea", False),
        ("contains", ["Coffee"], "coffee", False),  # case-sensitive
        ("contains", [["vip", "coffee"]], "vip", True),  # list membership
        ("contains", [["vip-gold"]], "vip", False),  # membership is equality, not substring
        ("contains", [[501, 502]], "501", True),
        ("contains", ["SKU-501"], 501, True),
        ("contains", [501], "50", False),  # numbers are not strings
        ("contains", [], "x", False),
        ("greater_than", [3], 2, True),
        ("greater_than", [2], 2, False),
        ("greater_than", ["2.5"], 2, True),
        ("greater_than", [1, 3], 2, True),  # any element
        ("greater_than", ["abc"], 2, False),
        ("greater_than", [True], 0, False),
        ("greater_than", [0.30000000000000004], "0.3", True),  # exact decimals
        ("less_than", [1], 2, True),
        ("less_than", [2], 2, False),
        ("less_than", [Decimal("47.79")], 47.8, True),
        ("less_than", [], 2, False),
        ("less_than", [None], 2, False),
    ],
)
def test_operator(operator: str, values: list[Any], value: Any, expected: bool) -> None:
    assert holds(operator, values, value) is expected


def test_unknown_operator_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown operator"):
        compile_test("matches", "x")


@pytest.mark.parametrize(
    ("operator", "value", "message"),
    [
        ("exists", None, None),
        ("exists", "x", "exists takes no value"),
        ("not_exists", 1, "not_exists takes no value"),
        ("equals", None, "required for equals"),
        ("equals", [1], "equals needs a string, number or boolean"),
        ("equals", {"a": 1}, "equals needs a string, number or boolean"),
        ("equals", True, None),
        ("one_of", "501", "one_of needs a list of 1 to 50 values"),
        ("one_of", [], "one_of needs a list of 1 to 50 values"),
        ("one_of", list(range(50)), None),
        ("one_of", list(range(51)), "one_of allows at most 50 values, got 51"),
        ("one_of", ["a", ["b"]], "one_of values must be strings, numbers or booleans"),
        ("contains", True, "contains needs a string or a number"),
        ("contains", "x", None),
        ("greater_than", "abc", "greater_than needs a number"),
        ("greater_than", "10", None),
        ("less_than", True, "less_than needs a number"),
    ],
)
def test_check_value(operator: str, value: Any, message: str | None) -> None:
    assert check_value(operator, value) == message


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (5, 5),
        ("5", 5),
        ("-5", Decimal("-5")),
        ("5.25", Decimal("5.25")),
        (0.1, Decimal("0.1")),
        ("1e5", None),
        (" 5", None),
        ("５", None),  # non-ASCII digits are not numbers
        (True, None),
        (float("nan"), None),
        (Decimal("Infinity"), None),
        (None, None),
    ],
)
def test_as_number(value: Any, number: Any) -> None:
    assert as_number(value) == number


@pytest.mark.parametrize(
    ("value", "text"),
    [("501", "501"), (501, "501"), (501.0, "501"), (10.50, "10.5"), (True, "true"), ("x", "x")],
)
def test_number_text(value: Any, text: str) -> None:
    assert number_text(value) == text


scalars = st.one_of(
    st.text(alphabet="0159.-aeTRUtrufalsFALSE", max_size=6),
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.booleans(),
    st.sampled_from(["501", "0501", "501.0", "true", "True", "false"]),
)
values_lists = st.lists(st.one_of(scalars, st.lists(scalars, max_size=2)), max_size=4)


@given(scalars, scalars)
def test_equals_is_symmetric(a: Any, b: Any) -> None:
    assert equals(a, b) == equals(b, a)


@given(scalars, scalars)
def test_equal_values_share_an_index_key(a: Any, b: Any) -> None:
    if equals(a, b):
        assert index_key(a) == index_key(b)
        assert hash(index_key(a)) == hash(index_key(b))


@given(values_lists, scalars)
def test_compiled_equals_is_any_element_equals(values: list[Any], expected: Any) -> None:
    assert holds("equals", values, expected) == any(equals(v, expected) for v in values)


@given(values_lists, st.lists(scalars, min_size=1, max_size=5))
def test_one_of_is_equals_any(values: list[Any], options: list[Any]) -> None:
    assert holds("one_of", values, options) == any(
        equals(v, option) for v in values for option in options
    )


@given(values_lists, scalars)
def test_negative_operators_negate(values: list[Any], expected: Any) -> None:
    assert holds("not_equals", values, expected) is not holds("equals", values, expected)
    assert holds("not_exists", values) is not holds("exists", values)
