"""Filter operators over the values a path resolved to. Never eval.

A path yields a *list* of values (see ``storeflow.rules.paths``): one for a plain path, one per
element for ``[]``, none when absent. Operators are defined on that list:

| operator | matches when |
|---|---|
| ``exists`` | at least one value (``null`` counts as absent; ``""`` and ``[]`` are values) |
| ``not_exists`` | no value: exactly ``not exists`` |
| ``equals`` | **any** value equals ``value`` |
| ``not_equals`` | **no** value equals ``value`` (so a missing field is "not equal"): exactly ``not equals`` |
| ``one_of`` | any value equals one of ``value`` (a list of 1 to 50 scalars) |
| ``contains`` | any value is a string containing ``value`` as a substring (case-sensitive), or a list with an element equal to ``value`` |
| ``greater_than`` / ``less_than`` | any value is a number strictly greater / smaller than ``value`` |

The negative operators are the exact negations of the positive ones, so
``not_equals: "501"`` on ``lineItems[].providerProductId`` means "the order has no
line item 501", not "some line item is not 501" (which nearly every order satisfies).

Equality (``equals``, ``one_of``, ``contains`` on lists, stop ``match`` rules):

- two strings compare exactly (ids are strings: ``"0501"`` is not ``"501"``);
- two numbers compare as exact decimals (``10 == 10.0``; floats go through their
  shortest ``repr``, so ``0.1`` is ``Decimal("0.1")``, never a binary approximation);
- a number and a string compare as decimals when the string is a plain decimal
  literal (``-?digits[.digits]``), so ``"501"`` equals ``501``: YAML authors write
  ``value: 501`` while stores send ``"501"``;
- booleans equal booleans, and the strings ``"true"``/``"false"`` in any case;
- nothing equals a mapping or a list except an equal mapping or list.

``greater_than`` and ``less_than`` compare numbers only (numbers and numeric strings);
a non-numeric value never matches. ``index_key`` maps a value to a hashable key such
that ``equals(a, b)`` implies ``index_key(a) == index_key(b)``; ``one_of`` and the
rule index use it to look values up instead of scanning.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal, get_args

Operator = Literal[
    "exists",
    "not_exists",
    "equals",
    "not_equals",
    "one_of",
    "contains",
    "greater_than",
    "less_than",
]
OPERATORS: tuple[Operator, ...] = get_args(Operator)

ONE_OF_LIMIT = 50
NO_VALUE = ("exists", "not_exists")

Test = Callable[[list[Any]], bool]

_NUMERIC = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_BOOL_STRINGS = {"true": True, "false": False}
_UNHASHABLE = object()


def as_number(value: Any) -> int | Decimal | None:
    """The exact number a number or numeric string stands for, else None.

    Integers stay ``int`` (exact, and faster than Decimal on the hot path of id
    lookups); everything else is a ``Decimal``. The two compare and hash as equal
    when their values are (``501 == Decimal("501.0")``).
    """
    kind = type(value)
    if kind is str:
        if value.isascii() and value.isdigit():
            return int(value)
        return Decimal(value) if _NUMERIC.fullmatch(value) else None
    if kind is int:
        return int(value)  # the same object: typed as int for the checker
    if kind is float:
        return Decimal(repr(value)) if math.isfinite(value) else None
    if kind is bool:
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return None


def _as_bool(value: Any) -> bool | None:
    if type(value) is bool:
        return value
    if type(value) is str:
        return _BOOL_STRINGS.get(value.lower())
    return None


def is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | Decimal)  # bool is an int


def equals(a: Any, b: Any) -> bool:
    """Equality as rule authors mean it (see the module docstring)."""
    if type(a) is str and type(b) is str:
        return a == b
    if type(a) is bool or type(b) is bool:
        left, right = _as_bool(a), _as_bool(b)
        return left is not None and left == right
    left_num, right_num = as_number(a), as_number(b)
    if left_num is not None and right_num is not None:
        return left_num == right_num
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return bool(a == b)
    return False


def index_key(value: Any) -> Any:
    """A hashable key with ``equals(a, b)`` => ``index_key(a) == index_key(b)``.

    Different values may share a key ("0501" and "501" both map to 501);
    lookups confirm with :func:`equals`, so sharing only costs a comparison.
    """
    kind = type(value)
    if kind is str:
        number = as_number(value)
        if number is not None:
            return number
        lowered = value.lower()
        return lowered if lowered in _BOOL_STRINGS else value
    if kind is bool:
        return "true" if value else "false"
    number = as_number(value)
    if number is not None:
        return number
    return _UNHASHABLE


def number_text(value: Any) -> str:
    """Canonical text of a scalar: ids verbatim, numbers without trailing zeros."""
    if type(value) is str:
        return value
    if type(value) is bool:
        return "true" if value else "false"
    number = as_number(value)
    if number is None:
        return str(value)
    if isinstance(number, int) or number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def check_value(operator: str, value: Any) -> str | None:
    """Why ``value`` is not usable with ``operator`` (None when it is)."""
    if operator in NO_VALUE:
        return None if value is None else f"{operator} takes no value"
    if value is None:
        return f"required for {operator}"
    if operator == "one_of":
        return _check_one_of(value)
    if operator in ("greater_than", "less_than"):
        return None if as_number(value) is not None else f"{operator} needs a number"
    if operator == "contains" and type(value) is bool:
        return "contains needs a string or a number"
    if not is_scalar(value):
        return f"{operator} needs a string, number or boolean"
    return None


def _check_one_of(value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return "one_of needs a list of 1 to 50 values"
    if len(value) > ONE_OF_LIMIT:
        return f"one_of allows at most {ONE_OF_LIMIT} values, got {len(value)}"
    if not all(is_scalar(item) for item in value):
        return "one_of values must be strings, numbers or booleans"
    return None


def compile_test(operator: str, value: Any = None) -> Test:
    """A predicate over resolved values; ``value`` must pass :func:`check_value`."""
    if operator == "exists":
        return bool
    if operator == "not_exists":
        return _negate(bool)
    if operator == "equals":
        return _equals_test(value)
    if operator == "not_equals":
        return _negate(_equals_test(value))
    if operator == "one_of":
        return _one_of_test(value)
    if operator == "contains":
        return _contains_test(value)
    if operator == "greater_than":
        return _compare_test(value, greater=True)
    if operator == "less_than":
        return _compare_test(value, greater=False)
    raise ValueError(f"unknown operator {operator!r}")


def _negate(test: Test) -> Test:
    return lambda values: not test(values)


def _equals_test(expected: Any) -> Test:
    number = as_number(expected)
    if type(expected) is str and number is None and _as_bool(expected) is None:
        # A plain string id equals only the identical string: a list membership test.
        return lambda values: expected in values
    if number is None:  # booleans and "true"/"false"

        def test_equals(values: list[Any]) -> bool:
            return any(equals(v, expected) for v in values)

        return test_equals
    # A number or numeric string: the specialised form of ``equals`` for that case.
    text = expected if type(expected) is str else None

    def test_equals_number(values: list[Any]) -> bool:
        for v in values:
            kind = type(v)
            if kind is str:
                if v == text if text is not None else as_number(v) == number:
                    return True
            elif kind is not bool and as_number(v) == number:
                return True
        return False

    return test_equals_number


def _one_of_test(expected: list[Any]) -> Test:
    by_key: dict[Any, list[Any]] = {}
    for item in expected:
        by_key.setdefault(index_key(item), []).append(item)

    def test_one_of(values: list[Any]) -> bool:
        for v in values:
            for candidate in by_key.get(index_key(v), ()):
                if equals(v, candidate):
                    return True
        return False

    return test_one_of


def _contains_test(needle: Any) -> Test:
    text = number_text(needle)

    def test_contains(values: list[Any]) -> bool:
        for v in values:
            if type(v) is str:
                if text in v:
                    return True
            elif isinstance(v, list | tuple) and any(equals(item, needle) for item in v):
                return True
        return False

    return test_contains


def _compare_test(bound: Any, *, greater: bool) -> Test:
    limit = as_number(bound)
    if limit is None:
        raise ValueError(f"not a number: {bound!r}")

    def test_compare(values: list[Any]) -> bool:
        for v in values:
            number = as_number(v)
            if number is not None and (number > limit if greater else number < limit):
                return True
        return False

    return test_compare
