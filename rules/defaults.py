"""Per-event defaults for a sequence that omits ``enrollment`` or ``stop``.

| trigger event | enrollment | stop conditions |
|---|---|---|
| ``ecommerce.replenishment_due`` | ``matching_field`` on ``product.providerVariantId`` (one run per variant) | an ``ecommerce.order_placed`` whose ``lineItems[].providerProductId`` equals the entry's ``product.providerProductId``; when the entry event says ``replenishmentMatch: variant``, one whose ``lineItems[].providerVariantId`` equals the entry's ``product.providerVariantId`` instead |
| ``ecommerce.back_in_stock`` | ``matching_field`` on ``product.providerVariantId`` | ``ecommerce.back_in_stock_out_of_stock`` for the same ``product.providerVariantId``; an ``ecommerce.order_placed`` with a line item of that variant |
| ``ecommerce.cart_started``, ``ecommerce.checkout_started``, ``ecommerce.cart_abandoned`` | ``unlimited`` | any ``ecommerce.order_placed``; any ``ecommerce.cart_cleared`` |
| everything else | ``unlimited`` | none |

Unsubscribing always stops a run, defaults or not. Stop events count only when they
happen after the run started (see ``storeflow.rules.compiler``), so the order that scheduled a
replenishment reminder never stops it.

``replenishmentMatch`` is a property of the ``ecommerce.replenishment_due`` event,
copied from the product's replenishment setting (``match: product | variant``) when
the reminder fires; an event without it matches at product level, the broader and
therefore safer choice (a repurchase of any variant stops the reminder).

Defaults apply only to omitted keys: ``stop: []`` means "no stop conditions", and a
sequence's own ``enrollment`` replaces the default entirely.

``stopOnRepurchase`` (replenishment triggers only) says what happens to the
repurchase stop whatever ``stop`` says: ``false`` drops it (a rule that keeps
reminding after a repurchase), ``true`` adds it to an explicit ``stop`` list (a rule
with its own stops that still ends on a repurchase); omitted, ``stop`` decides alone.
"""

from __future__ import annotations

from collections.abc import Callable

from storeflow.core.commerce.records import EventName
from storeflow.rules.schema import (
    Enrollment,
    EventReceived,
    Filter,
    MatchRule,
    Sequence,
    StopCondition,
)

REPLENISHMENT_MATCH = "replenishmentMatch"

_PER_VARIANT = Enrollment(mode="matching_field", field_path="product.providerVariantId")
_UNLIMITED = Enrollment(mode="unlimited")


def _order_with(
    entry_path: str, event_path: str, entry_filters: list[Filter] | None = None
) -> EventReceived:
    return EventReceived(
        event="ecommerce.order_placed",
        match=[MatchRule(entry_path=entry_path, event_path=event_path)],
        entry_filters=entry_filters or [],
    )


def _replenishment_stops() -> list[StopCondition]:
    is_variant = Filter(path=REPLENISHMENT_MATCH, operator="equals", value="variant")
    not_variant = Filter(path=REPLENISHMENT_MATCH, operator="not_equals", value="variant")
    return [
        _order_with(
            "product.providerProductId",
            "lineItems[].providerProductId",
            entry_filters=[not_variant],
        ),
        _order_with(
            "product.providerVariantId",
            "lineItems[].providerVariantId",
            entry_filters=[is_variant],
        ),
    ]


def _back_in_stock_stops() -> list[StopCondition]:
    return [
        EventReceived(
            event="ecommerce.back_in_stock_out_of_stock",
            match=[
                MatchRule(
                    entry_path="product.providerVariantId",
                    event_path="product.providerVariantId",
                )
            ],
        ),
        _order_with("product.providerVariantId", "lineItems[].providerVariantId"),
    ]


def _cart_stops() -> list[StopCondition]:
    return [
        EventReceived(event="ecommerce.order_placed"),
        EventReceived(event="ecommerce.cart_cleared"),
    ]


_ENROLLMENT: dict[EventName, Enrollment] = {
    "ecommerce.replenishment_due": _PER_VARIANT,
    "ecommerce.back_in_stock": _PER_VARIANT,
}
_STOPS: dict[EventName, Callable[[], list[StopCondition]]] = {
    "ecommerce.replenishment_due": _replenishment_stops,
    "ecommerce.back_in_stock": _back_in_stock_stops,
    "ecommerce.cart_started": _cart_stops,
    "ecommerce.checkout_started": _cart_stops,
    "ecommerce.cart_abandoned": _cart_stops,
}


def default_enrollment(event: EventName) -> Enrollment:
    return _ENROLLMENT.get(event, _UNLIMITED)


def default_stops(event: EventName) -> list[StopCondition]:
    """A fresh list each call: callers may keep it without sharing mutable state."""
    make = _STOPS.get(event)
    return make() if make else []


def effective_enrollment(sequence: Sequence) -> Enrollment:
    if sequence.enrollment is not None:
        return sequence.enrollment
    return default_enrollment(sequence.trigger.event)


def effective_stops(sequence: Sequence) -> list[StopCondition]:
    stops = (
        list(sequence.stop) if sequence.stop is not None else default_stops(sequence.trigger.event)
    )
    return _with_repurchase_stop(sequence, stops)


def _with_repurchase_stop(sequence: Sequence, stops: list[StopCondition]) -> list[StopCondition]:
    """Apply ``stopOnRepurchase``: False removes the repurchase stop, True adds it."""
    if (
        sequence.trigger.event != "ecommerce.replenishment_due"
        or sequence.stop_on_repurchase is None
    ):
        return stops
    repurchase = _replenishment_stops()
    if sequence.stop_on_repurchase is False:
        return [stop for stop in stops if stop not in repurchase]
    return stops + [stop for stop in repurchase if stop not in stops]


def uses_default_stops(sequence: Sequence) -> bool:
    return sequence.stop is None
