"""Per-event defaults for omitted enrollment and stop, and how they behave once compiled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from storeflow.rules.compiler import CompiledSequence, compile_sequence
from storeflow.rules.defaults import default_enrollment, default_stops
from storeflow.rules.schema import (
    EVENT_NAMES,
    Enrollment,
    EventReceived,
    Sequence,
    structure_sequence,
    unstructure_sequence,
)

T0 = datetime(2025, 5, 1, tzinfo=UTC)
LATER = T0 + timedelta(days=3)
ORDER = "ecommerce.order_placed"
PER_VARIANT = Enrollment(mode="matching_field", field_path="product.providerVariantId")
CART_EVENTS = ("ecommerce.cart_started", "ecommerce.checkout_started", "ecommerce.cart_abandoned")


def sequence_on(event: str, **changes: Any) -> CompiledSequence:
    data: dict[str, Any] = {
        "id": "s",
        "name": "S",
        "trigger": {"event": event},
        "steps": [{"tag": {"add": ["x"]}}],
    }
    data.update(changes)
    return compile_sequence(structure_sequence(data))


def bought(product_id: str, variant_id: str) -> dict[str, Any]:
    return {"lineItems": [{"providerProductId": product_id, "providerVariantId": variant_id}]}


@pytest.mark.parametrize("event", ["ecommerce.replenishment_due", "ecommerce.back_in_stock"])
def test_replenishment_and_back_in_stock_run_once_per_variant(event: str) -> None:
    assert default_enrollment(event) == PER_VARIANT
    assert sequence_on(event).enrollment == PER_VARIANT


@pytest.mark.parametrize(
    "event",
    [e for e in EVENT_NAMES if e not in ("ecommerce.replenishment_due", "ecommerce.back_in_stock")],
)
def test_other_events_enrol_without_limit(event: str) -> None:
    assert default_enrollment(event) == Enrollment(mode="unlimited")


@pytest.mark.parametrize(
    "event",
    [
        e
        for e in EVENT_NAMES
        if e not in (*CART_EVENTS, "ecommerce.replenishment_due", "ecommerce.back_in_stock")
    ],
)
def test_other_events_have_no_default_stops(event: str) -> None:
    assert default_stops(event) == []


@pytest.mark.parametrize("event", EVENT_NAMES)
def test_every_default_is_a_valid_sequence(event: str) -> None:
    # Defaults are built in Python; pushing them through the converter validates them.
    sequence = Sequence(
        id="d",
        name="D",
        trigger=structure_sequence(
            {"id": "d", "name": "D", "trigger": {"event": event}, "steps": [{"delay": {}}]}
        ).trigger,
        enrollment=default_enrollment(event),
        stop=default_stops(event),
        steps=[],
    )
    data = unstructure_sequence(sequence)
    data["steps"] = [{"delay": {"days": 1}}]
    assert structure_sequence(data).stop == default_stops(event)


REFILL_ENTRY = {"product": {"providerProductId": "501", "providerVariantId": "601"}}


def test_replenishment_stops_on_a_repurchase_of_the_product() -> None:
    refill = sequence_on("ecommerce.replenishment_due")
    assert refill.stop_reason(REFILL_ENTRY, ORDER, bought("501", "602"), LATER, T0) == (
        "default stop[0] event_received ecommerce.order_placed"
        " where lineItems[].providerProductId = entry product.providerProductId ['501']"
    )
    assert refill.stop_reason(REFILL_ENTRY, ORDER, bought("77", "77"), LATER, T0) is None


def test_replenishment_at_variant_level_needs_the_same_variant() -> None:
    refill = sequence_on("ecommerce.replenishment_due")
    entry = {**REFILL_ENTRY, "replenishmentMatch": "variant"}
    assert refill.stop_reason(entry, ORDER, bought("501", "602"), LATER, T0) is None
    assert refill.stop_reason(entry, ORDER, bought("501", "601"), LATER, T0) == (
        "default stop[1] event_received ecommerce.order_placed"
        " where lineItems[].providerVariantId = entry product.providerVariantId ['601']"
    )


def test_the_order_that_scheduled_the_reminder_does_not_stop_it() -> None:
    refill = sequence_on("ecommerce.replenishment_due")
    assert (
        refill.stop_reason(REFILL_ENTRY, ORDER, bought("501", "601"), T0 - timedelta(days=30), T0)
        is None
    )


def test_back_in_stock_stops_when_the_variant_sells_out_or_is_bought() -> None:
    restock = sequence_on("ecommerce.back_in_stock")
    sold_out = "ecommerce.back_in_stock_out_of_stock"
    assert restock.stop_events == frozenset({sold_out, ORDER})
    assert restock.stop_reason(
        REFILL_ENTRY, sold_out, {"product": {"providerVariantId": "601"}}, LATER, T0
    )
    assert (
        restock.stop_reason(
            REFILL_ENTRY, sold_out, {"product": {"providerVariantId": "602"}}, LATER, T0
        )
        is None
    )
    assert restock.stop_reason(REFILL_ENTRY, ORDER, bought("501", "601"), LATER, T0)
    assert restock.stop_reason(REFILL_ENTRY, ORDER, bought("501", "602"), LATER, T0) is None


@pytest.mark.parametrize("event", CART_EVENTS)
def test_cart_sequences_stop_on_any_order_or_a_cleared_cart(event: str) -> None:
    cart = sequence_on(event)
    assert cart.enrollment == Enrollment(mode="unlimited")
    assert default_stops(event) == [
        EventReceived(event=ORDER),
        EventReceived(event="ecommerce.cart_cleared"),
    ]
    assert cart.stop_reason({}, ORDER, bought("1", "1"), LATER, T0)
    assert cart.stop_reason({}, "ecommerce.cart_cleared", {}, LATER, T0)
    assert cart.stop_reason({}, "ecommerce.order_cancelled", {}, LATER, T0) is None


def test_explicit_settings_replace_the_defaults() -> None:
    refill = sequence_on("ecommerce.replenishment_due", stop=[], enrollment={"mode": "one_time"})
    assert refill.stop_events == frozenset()
    assert not refill.stops_are_default
    assert refill.enrollment == Enrollment(mode="one_time")
    assert refill.stop_reason(REFILL_ENTRY, ORDER, bought("501", "601"), LATER, T0) is None


def test_default_stop_lists_are_not_shared() -> None:
    first = default_stops("ecommerce.cart_started")
    first.clear()
    assert len(default_stops("ecommerce.cart_started")) == 2
