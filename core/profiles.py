"""Revenue attributes on subscriber profiles, derived from the stored orders.

Attributes are recomputed from the order rows (not incremented), so re-delivery,
status flips and out-of-order updates can never double count. What counts:

- an order counts when it is not deleted and its state is placed, fulfilled or
  refunded (pending payment, cancelled and failed orders do not);
- its value is ``total - refunded`` (partial refunds reduce it; a full refund makes
  it 0 but it still counts as an order the customer placed);
- ``totalSpent == ltv`` (sum of values), ``aov = totalSpent / ordersCount``;
- amounts are exact decimals in major units, in the subscriber's most used currency
  (orders in other currencies are left out of the sums and reported separately).
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.money import to_major
from core.tables import Order, Subscriber

COUNTED_STATES = ("placed", "fulfilled", "refunded")


def compute(orders: list[Order]) -> dict[str, Any]:
    counted = [o for o in orders if not o.deleted and o.state in COUNTED_STATES]
    if not counted:
        return {
            "ordersCount": 0,
            "totalSpent": 0,
            "ltv": 0,
            "aov": 0,
            "currency": None,
            "firstOrderAt": None,
            "lastOrderAt": None,
        }
    currency = Counter(o.currency for o in counted).most_common(1)[0][0]
    in_currency = [o for o in counted if o.currency == currency]
    spent_minor = sum(o.total_cents - o.refunded_cents for o in in_currency)
    spent = to_major(spent_minor, currency)
    aov = (spent / len(in_currency)).quantize(Decimal("0.01")) if in_currency else Decimal(0)
    return {
        "ordersCount": len(counted),
        "totalSpent": _number(spent),
        "ltv": _number(spent),
        "aov": _number(aov),
        "currency": currency,
        "firstOrderAt": min(o.ordered_at for o in counted).isoformat(),
        "lastOrderAt": max(o.ordered_at for o in counted).isoformat(),
    }


def _number(value: Decimal) -> int | float | str:
    """JSON-friendly exact number: ints stay ints; decimals become their shortest float.

    Major-unit amounts with at most 3 decimals round-trip exactly through a float's
    shortest repr (``47.8``), which is what rule authors and templates compare with.
    """
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def refresh(session: Session, subscriber_id: int) -> dict[str, Any]:
    orders = list(session.scalars(select(Order).where(Order.subscriber_id == subscriber_id)))
    attrs = compute(orders)
    subscriber = session.get_one(Subscriber, subscriber_id)
    subscriber.attributes = {**(subscriber.attributes or {}), **attrs}
    return attrs
