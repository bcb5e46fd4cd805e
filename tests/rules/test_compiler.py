"""Compiled sequences: trigger matching with reasons, enrolment keys, stops, branches, windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storeflow.rules.compiler import (
    CompiledSequence,
    MatchResult,
    compile_condition,
    compile_sequence,
    next_send_time,
)
from storeflow.rules.schema import Branch, Filter, Window, structure_sequence

ORDER = "ecommerce.order_placed"
T0 = datetime(2025, 5, 1, 10, 0, tzinfo=UTC)


def compiled(**changes: Any) -> CompiledSequence:
    data: dict[str, Any] = {
        "id": "s",
        "name": "S",
        "trigger": {"event": ORDER},
        "stop": [],
        "steps": [{"tag": {"add": ["x"]}}],
    }
    data.update(changes)
    return compile_sequence(structure_sequence(data))


def order(*product_ids: str, **extra: Any) -> dict[str, Any]:
    items = [{"providerProductId": pid, "providerVariantId": f"v{pid}"} for pid in product_ids]
    return {"lineItems": items, **extra}


COFFEE = compiled(
    trigger={
        "event": ORDER,
        "filters": [
            {"path": "totalCents", "operator": "greater_than", "value": 1000},
            {"path": "lineItems[].providerProductId", "operator": "one_of", "value": ["501"]},
        ],
        "subscriberFilters": [
            {"path": "subscriber.ordersCount", "operator": "less_than", "value": 3}
        ],
    }
)


def test_a_matching_event_has_no_reasons() -> None:
    assert COFFEE.match(
        ORDER, order("77", "501", totalCents=2500), {"ordersCount": 1}
    ) == MatchResult(True, [])


def test_reasons_name_each_failing_filter() -> None:
    result = COFFEE.match(ORDER, order("77", totalCents=2500), {"ordersCount": 1})
    assert result == MatchResult(
        False, ["filter[1] lineItems[].providerProductId one_of ['501']: got ['77']"]
    )


def test_every_failing_filter_is_explained() -> None:
    result = COFFEE.match(ORDER, order("77"), {"ordersCount": 5})
    assert result.reasons == [
        "filter[0] totalCents greater_than 1000: got []",
        "filter[1] lineItems[].providerProductId one_of ['501']: got ['77']",
        "subscriberFilter[0] subscriber.ordersCount less_than 3: got [5]",
    ]


def test_another_event_name_is_one_reason() -> None:
    assert COFFEE.match("ecommerce.cart_started", order("501", totalCents=2500), {}).reasons == [
        "event ecommerce.cart_started is not the trigger event ecommerce.order_placed"
    ]


def test_subscriber_paths_work_in_event_filters_too() -> None:
    sequence = compiled(
        trigger={
            "event": ORDER,
            "filters": [{"path": "subscriber.tags", "operator": "contains", "value": "vip"}],
        }
    )
    assert sequence.matches(ORDER, {}, {"tags": ["vip"]})
    assert not sequence.matches(ORDER, {"subscriber": {"tags": ["vip"]}}, {"tags": []})
    assert not sequence.matches(ORDER, {}, None)


def test_status_does_not_affect_match() -> None:
    # A dry-run of a draft must still say who would enter; the index skips inactive ones.
    assert compiled(status="draft").match(ORDER, {}, {}).matched


def test_matching_field_needs_a_value() -> None:
    sequence = compiled(
        trigger={"event": "ecommerce.back_in_stock"},
        enrollment={"mode": "matching_field", "fieldPath": "product.providerVariantId"},
    )
    event = {"product": {"providerVariantId": "601"}}
    assert sequence.match("ecommerce.back_in_stock", event, {}).matched
    assert sequence.enrollment_key(event) == "601"
    assert sequence.match("ecommerce.back_in_stock", {"product": {}}, {}).reasons == [
        "enrollment.fieldPath product.providerVariantId: no value"
    ]
    assert not sequence.matches("ecommerce.back_in_stock", {"product": {}}, {})


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("601", "601"),
        (601, "601"),
        (601.0, "601"),
        (12.50, "12.5"),
        (True, "true"),
        ({"a": 1}, None),
        (None, None),
    ],
)
def test_enrollment_key_is_canonical_text(value: Any, key: str | None) -> None:
    sequence = compiled(enrollment={"mode": "matching_field", "fieldPath": "order.id"})
    assert sequence.enrollment_key({"order": {"id": value}}) == key


def test_enrollment_key_is_none_without_matching_field() -> None:
    assert compiled(enrollment={"mode": "one_time"}).enrollment_key({"order": {"id": "1"}}) is None


# --- stop conditions -------------------------------------------------------------------

REFILL = compiled(
    trigger={"event": "ecommerce.replenishment_due"},
    stop=[
        {
            "type": "event_received",
            "event": ORDER,
            "filters": [{"path": "status", "operator": "not_equals", "value": "failed"}],
            "match": [
                {
                    "entryPath": "product.providerProductId",
                    "eventPath": "lineItems[].providerProductId",
                }
            ],
        },
        {"type": "has_tag", "tag": "vip"},
        {"type": "field_changed", "field": "subscriber.email"},
        {
            "type": "field_changed",
            "field": "subscriber.ordersCount",
            "operator": "greater_than",
            "value": 5,
        },
    ],
)
ENTRY = {"product": {"providerProductId": "501", "providerVariantId": "601"}}


def test_a_later_event_matching_the_entry_stops_the_run() -> None:
    reason = REFILL.stop_reason(ENTRY, ORDER, order("77", "501"), T0 + timedelta(seconds=1), T0)
    assert reason == (
        "stop[0] event_received ecommerce.order_placed"
        " where lineItems[].providerProductId = entry product.providerProductId ['501']"
    )


@pytest.mark.parametrize("offset", [timedelta(0), -timedelta(days=1)])
def test_events_at_or_before_enrolment_never_stop(offset: timedelta) -> None:
    assert REFILL.stop_reason(ENTRY, ORDER, order("501"), T0 + offset, T0) is None


def test_stop_match_rules_compare_entry_and_event_values() -> None:
    later = T0 + timedelta(hours=1)
    assert REFILL.stop_reason(ENTRY, ORDER, order("77"), later, T0) is None
    assert REFILL.stop_reason({"product": {}}, ORDER, order("501"), later, T0) is None
    assert REFILL.stop_reason(ENTRY, ORDER, order("501", status="failed"), later, T0) is None
    assert REFILL.stop_reason(ENTRY, "ecommerce.order_refunded", order("501"), later, T0) is None
    # "501" in the entry equals 501 in the order: the same equality as filters.
    assert REFILL.stop_reason(ENTRY, ORDER, {"lineItems": [{"providerProductId": 501}]}, later, T0)


def test_match_rules_are_array_aware_on_the_entry_side() -> None:
    cart = compiled(
        trigger={"event": "ecommerce.cart_started"},
        stop=[
            {
                "type": "event_received",
                "event": ORDER,
                "match": [
                    {
                        "entryPath": "lineItems[].providerProductId",
                        "eventPath": "lineItems[].providerProductId",
                    }
                ],
            }
        ],
    )
    later = T0 + timedelta(minutes=5)
    assert cart.stop_reason(order("1", "2"), ORDER, order("3", "2"), later, T0)
    assert cart.stop_reason(order("1", "2"), ORDER, order("3"), later, T0) is None


def test_stop_events_lists_the_events_to_watch() -> None:
    assert REFILL.stop_events == frozenset({ORDER})


def test_has_tag_stop() -> None:
    assert REFILL.tag_stop_reason(["new", "vip"]) == "stop[1] has_tag vip"
    assert REFILL.tag_stop_reason(["new"]) is None


def test_field_changed_stop() -> None:
    assert REFILL.field_stop_reason({"email": "a@x.io"}, {"email": "b@x.io"}) == (
        "stop[2] field_changed subscriber.email: ['a@x.io'] -> ['b@x.io']"
    )
    assert REFILL.field_stop_reason({"email": "a@x.io"}, {"email": "a@x.io"}) is None
    assert REFILL.field_stop_reason({}, {"email": "a@x.io"}) is not None  # set for the first time


def test_field_changed_with_an_operator_needs_the_new_value_to_match() -> None:
    assert REFILL.field_stop_reason({"ordersCount": 2}, {"ordersCount": 3}) is None
    assert REFILL.field_stop_reason({"ordersCount": 5}, {"ordersCount": 6}) == (
        "stop[3] field_changed subscriber.ordersCount: [5] -> [6]"
    )
    # "6" -> 6 is not a change of value.
    assert REFILL.field_stop_reason({"ordersCount": "6"}, {"ordersCount": 6}) is None


@pytest.mark.parametrize(
    ("subscriber", "reason"),
    [
        ({"status": "unsubscribed", "tags": []}, "subscriber unsubscribed"),
        ({"status": "suppressed"}, "subscriber suppressed"),
        ({"status": "active", "tags": ["vip"]}, "stop[1] has_tag vip"),
        ({"status": "active", "tags": None}, None),
        ({}, None),
    ],
)
def test_subscriber_stop_reason(subscriber: dict[str, Any], reason: str | None) -> None:
    assert REFILL.subscriber_stop_reason(subscriber) == reason


def test_unsubscribing_stops_even_without_stop_conditions() -> None:
    assert (
        compiled(stop=[]).subscriber_stop_reason({"status": "unsubscribed"})
        == "subscriber unsubscribed"
    )


def test_default_stops_are_labelled() -> None:
    sequence = compiled(trigger={"event": "ecommerce.cart_started"}, stop=None)
    assert sequence.stops_are_default
    assert sequence.stop_reason({}, "ecommerce.cart_cleared", {}, T0 + timedelta(1), T0) == (
        "default stop[1] event_received ecommerce.cart_cleared"
    )


# --- branches --------------------------------------------------------------------------


def test_branch_conditions_are_compiled_once_and_see_the_subscriber() -> None:
    sequence = compiled(
        steps=[
            {
                "branch": {
                    "if": [
                        {"path": "subscriber.ordersCount", "operator": "greater_than", "value": 1}
                    ],
                    "then": [
                        {
                            "branch": {
                                "if": [{"path": "totalCents", "operator": "exists"}],
                                "then": [{"tag": {"add": ["x"]}}],
                            }
                        }
                    ],
                }
            }
        ]
    )
    outer = sequence.sequence.steps[0]
    assert isinstance(outer, Branch)
    inner = outer.then[0]
    assert isinstance(inner, Branch)
    assert sequence.branch_condition(outer) is sequence.branch_condition(outer)
    assert sequence.branch_condition(outer).holds({}, {"ordersCount": 2})
    assert not sequence.branch_condition(outer).holds({}, {"ordersCount": 1})
    assert sequence.branch_condition(inner).holds({"totalCents": 0})
    assert sequence.branch_condition(outer).failures({}, {}) == [
        "if[0] subscriber.ordersCount greater_than 1: got []"
    ]
    foreign = Branch(if_=[Filter(path="x", operator="exists")])
    assert sequence.branch_condition(foreign).holds({"x": 1})


def test_an_empty_condition_holds() -> None:
    assert compile_condition([]).holds({})


# --- sending windows -------------------------------------------------------------------

OFFICE = Window(
    weekdays=["mon", "tue", "wed", "thu", "fri"],
    start="09:00",
    end="17:00",
    timezone="Europe/Paris",
)


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # Thursday 1 May 2025, 12:00 Paris (10:00 UTC): inside, send now.
        (datetime(2025, 5, 1, 10, 0, tzinfo=UTC), datetime(2025, 5, 1, 10, 0, tzinfo=UTC)),
        # 06:00 Paris: wait for 09:00 Paris = 07:00 UTC.
        (datetime(2025, 5, 1, 4, 0, tzinfo=UTC), datetime(2025, 5, 1, 7, 0, tzinfo=UTC)),
        # Friday 17:00 Paris is closed: Monday 09:00.
        (datetime(2025, 5, 2, 15, 0, tzinfo=UTC), datetime(2025, 5, 5, 7, 0, tzinfo=UTC)),
        # Across the DST change of 30 March: Monday 09:00 is summer time (UTC+2).
        (datetime(2025, 3, 29, 12, 0, tzinfo=UTC), datetime(2025, 3, 31, 7, 0, tzinfo=UTC)),
        (datetime(2025, 3, 28, 17, 0, tzinfo=UTC), datetime(2025, 3, 31, 7, 0, tzinfo=UTC)),
        # Winter time (UTC+1): 13:00 Paris is inside; 08:30 Paris waits for 09:00.
        (datetime(2025, 1, 6, 12, 0, tzinfo=UTC), datetime(2025, 1, 6, 12, 0, tzinfo=UTC)),
        (datetime(2025, 1, 6, 7, 30, tzinfo=UTC), datetime(2025, 1, 6, 8, 0, tzinfo=UTC)),
    ],
)
def test_next_send_time(after: datetime, expected: datetime) -> None:
    assert next_send_time(OFFICE, after) == expected


def test_a_window_until_midnight() -> None:
    late = Window(weekdays=["sat"], start="20:00", end="24:00", timezone="UTC")
    assert next_send_time(late, datetime(2025, 5, 3, 23, 59, tzinfo=UTC)) == datetime(
        2025, 5, 3, 23, 59, tzinfo=UTC
    )
    assert next_send_time(late, datetime(2025, 5, 4, 0, 0, tzinfo=UTC)) == datetime(
        2025, 5, 10, 20, 0, tzinfo=UTC
    )


def test_next_send_time_needs_an_aware_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_send_time(OFFICE, datetime(2025, 5, 1, 10, 0))


# --- the fast path agrees with the explained one ---------------------------------------

ids = st.sampled_from(["501", "77", 501, "0501"])
events = st.fixed_dictionaries(
    {"lineItems": st.lists(st.fixed_dictionaries({"providerProductId": ids}), max_size=3)},
    optional={"totalCents": st.one_of(st.integers(0, 3000), st.just("1500"))},
)
subscribers = st.fixed_dictionaries({}, optional={"ordersCount": st.integers(0, 5)})


@given(st.sampled_from([ORDER, "ecommerce.cart_started"]), events, subscribers)
def test_matches_is_match_without_reasons(
    name: str, event: dict[str, Any], subscriber: dict[str, Any]
) -> None:
    result = COFFEE.match(name, event, subscriber)
    assert COFFEE.matches(name, event, subscriber) is result.matched
    assert result.matched is (result.reasons == [])
