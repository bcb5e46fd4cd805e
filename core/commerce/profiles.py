"""Revenue attributes and purchase history of subscriber profiles, from the order rows.

Attributes are recomputed from the stored orders (never incremented), so
re-delivery, status flips, out-of-order updates and replays cannot double count.

What counts as an order (``ordersCount``), and as revenue:

- the order is not deleted (trashed), and its state is placed, fulfilled or
  refunded: cancelled and failed orders never count;
- it is paid: a placed order still awaiting payment (WooCommerce ``pending``) is
  an order event but not revenue yet; it counts once it moves on (``on-hold``,
  ``processing``, ``completed``), like WooCommerce Analytics counts it;
- it is not refunded in full: a fully refunded order is as if it never happened
  (``refunded >= total`` with some refund); a partially refunded one counts with
  its net value.

An order's value is ``total - refunded`` (never below 0), where ``total`` is what
the store charged (shipping and tax included) and ``refunded`` the sum of its
refunds. Then, for the subscriber (combined, across the company's stores) and for
each store on its own:

- ``ordersCount`` = number of counted orders;
- ``totalSpent`` = ``ltv`` = sum of their values, in ``currency`` (``ltv`` is the
  same number under the name other platforms use; both are net of refunds);
- ``aov`` = ``totalSpent`` / counted orders in ``currency``, rounded half-even to
  the currency's minor unit;
- ``firstOrderAt`` / ``lastOrderAt`` = first and last ``orderedAt`` of counted orders.

Amounts are exact decimals in major units (``47.8``). ``currency`` is the one most
of the counted orders use (ties: the larger total, then alphabetical); orders in
another currency count in ``ordersCount`` and the dates, but not in the sums, since
money in two currencies cannot be added without an exchange rate.

With a single currency: ``ltv == totalSpent``, ``aov == round(totalSpent /
ordersCount)``, ``0 <= totalSpent``, and the combined figures are the sums of the
per-store ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import attrs
from sqlalchemy import ColumnElement, Select, and_, bindparam, case, func, not_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import InstrumentedAttribute, Session

from storeflow.core import clock
from storeflow.core.commerce import records
from storeflow.core.commerce.money import MAX_MINOR, exponent, to_major
from storeflow.core.statuses import ORDER_COUNTED
from storeflow.core.storage.tables import (
    Integration,
    OrderLine,
    OrderRow,
    ProductRow,
    Subscriber,
    VariantRow,
)

KEYS = ("ordersCount", "totalSpent", "ltv", "aov", "currency", "firstOrderAt", "lastOrderAt")


def counted() -> ColumnElement[bool]:
    """SQL condition: the order counts (see the module docstring)."""
    return and_(
        OrderRow.deleted.is_(False),
        OrderRow.state.in_(ORDER_COUNTED),
        OrderRow.awaiting_payment.is_(False),
        not_(and_(OrderRow.refunded_cents > 0, OrderRow.refunded_cents >= OrderRow.total_cents)),
    )


def _value() -> ColumnElement[int]:
    net = OrderRow.total_cents - OrderRow.refunded_cents
    return case((net < 0, 0), else_=net)


@attrs.frozen
class Totals:
    """Counted orders of one currency (of one subscriber, maybe of one store)."""

    currency: str
    count: int
    value_minor: int
    first: datetime
    last: datetime


def attributes(totals: Iterable[Totals]) -> dict[str, Any]:
    """The profile attributes from per-currency totals."""
    groups = list(totals)
    if not groups:
        return {
            "ordersCount": 0,
            "totalSpent": 0,
            "ltv": 0,
            "aov": 0,
            "currency": None,
            "firstOrderAt": None,
            "lastOrderAt": None,
        }
    main = min(groups, key=lambda t: (-t.count, -t.value_minor, t.currency))
    spent = to_major(main.value_minor, main.currency)
    places = Decimal(1).scaleb(-exponent(main.currency))
    aov = (spent / main.count).quantize(places, rounding=ROUND_HALF_EVEN)
    return {
        "ordersCount": sum(t.count for t in groups),
        "totalSpent": number(spent),
        "ltv": number(spent),
        "aov": number(aov),
        "currency": main.currency,
        "firstOrderAt": min(t.first for t in groups).isoformat(),
        "lastOrderAt": max(t.last for t in groups).isoformat(),
    }


def number(value: Decimal) -> int | float:
    """JSON-friendly exact number: integral amounts stay ints, others their shortest float.

    A decimal with up to 15 significant digits round-trips exactly through a float's
    shortest repr (``Decimal("47.80")`` -> ``47.8``), which is what rule authors and
    templates compare with.
    """
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _totals_query(*group: InstrumentedAttribute[Any]) -> Select[*tuple[Any, ...]]:
    return (
        select(
            *group,
            OrderRow.currency,
            func.count(),
            func.sum(_value()),
            func.min(OrderRow.ordered_at),
            func.max(OrderRow.ordered_at),
        )
        .where(counted())
        .group_by(*group, OrderRow.currency)
    )


def _chunks(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def refresh_many(session: Session, subscriber_ids: Iterable[int]) -> None:
    """Recompute and store the combined attributes of these subscribers."""
    ids = sorted({sid for sid in subscriber_ids if sid is not None})
    if not ids:
        return
    for chunk in _chunks(ids):
        totals: dict[int, list[Totals]] = defaultdict(list)
        rows = _summed(
            session, _totals_query(OrderRow.subscriber_id).where(OrderRow.subscriber_id.in_(chunk))
        )
        for sid, currency, count, value, first, last in rows:
            totals[sid].append(Totals(currency, count, _in_range(value), first, last))
        current: dict[int, dict[str, Any]] = {
            sid: values
            for sid, values in session.execute(
                select(Subscriber.id, Subscriber.attributes).where(Subscriber.id.in_(chunk))
            )
        }
        now = clock.now()
        changes = []
        for sid in chunk:
            existing = current.get(sid) or {}
            merged = {**existing, **attributes(totals.get(sid, []))}
            if merged != existing:
                changes.append({"sid": sid, "attrs": merged, "now": now})
        if changes:
            table = Subscriber.__table__
            session.execute(
                update(table)
                .where(table.c.id == bindparam("sid"))
                .values(attributes=bindparam("attrs"), updated_at=bindparam("now")),
                changes,
                execution_options={"synchronize_session": False},
            )
            for change in changes:
                loaded = session.identity_map.get((Subscriber, (change["sid"],), None))
                if loaded is not None:
                    session.expire(loaded, ["attributes", "updated_at"])


def _summed(session: Session, query: Select[*tuple[Any, ...]]) -> list[Any]:
    """The rows of a totals query; a sum beyond BIGINT is :class:`records.OutOfRange`.

    SQLite refuses such a sum ("integer overflow"); PostgreSQL sums BIGINT as NUMERIC
    and :func:`_in_range` refuses it there, so both refuse the same data.
    """
    try:
        return list(session.execute(query))
    except OperationalError as exc:
        if "integer overflow" not in str(exc.orig):
            raise
        raise records.OutOfRange(_OVERFLOW) from None


_OVERFLOW = f"a subscriber's revenue would add up to more than {MAX_MINOR - 1} minor units"


def _in_range(value: Any) -> int:
    total = int(value or 0)
    if abs(total) >= MAX_MINOR:
        raise records.OutOfRange(_OVERFLOW)
    return total


def refresh(session: Session, subscriber_id: int) -> dict[str, Any]:
    refresh_many(session, [subscriber_id])
    return combined(session, subscriber_id)


def combined(session: Session, subscriber_id: int) -> dict[str, Any]:
    rows = _summed(session, _totals_query().where(OrderRow.subscriber_id == subscriber_id))
    return attributes(Totals(c, n, _in_range(v), f, la) for c, n, v, f, la in rows)


def per_store(session: Session, subscriber_id: int) -> list[dict[str, Any]]:
    """``[{integrationId, provider, storeUrl, attributes}]`` for every store with orders."""
    totals: dict[str, list[Totals]] = defaultdict(list)
    rows = _summed(
        session,
        _totals_query(OrderRow.integration_id).where(OrderRow.subscriber_id == subscriber_id),
    )
    for integration_id, currency, count, value, first, last in rows:
        totals[integration_id].append(Totals(currency, count, _in_range(value), first, last))
    # Stores where the subscriber only has uncounted orders are listed too (zeros).
    known = session.execute(
        select(Integration.id, Integration.provider, Integration.store_url)
        .where(
            Integration.id.in_(
                select(OrderRow.integration_id).where(OrderRow.subscriber_id == subscriber_id)
            )
        )
        .order_by(Integration.created_at, Integration.id)
    )
    return [
        {
            "integrationId": integration_id,
            "provider": provider,
            "storeUrl": store_url,
            "attributes": attributes(totals.get(integration_id, [])),
        }
        for integration_id, provider, store_url in known
    ]


def purchased_products(session: Session, subscriber_id: int) -> list[dict[str, Any]]:
    """What the subscriber bought (counted orders only), one entry per store and variant.

    Title, image and URL come from the catalogue when it has the product (current
    names and pictures), else from the order line's snapshot.
    """
    lines = session.execute(
        select(
            OrderRow.integration_id,
            OrderRow.provider,
            OrderRow.ordered_at,
            OrderLine.provider_product_id,
            OrderLine.provider_variant_id,
            OrderLine.title,
            OrderLine.variant_title,
            OrderLine.image_url,
            OrderLine.quantity,
        )
        .join(OrderRow, OrderRow.id == OrderLine.order_id)
        .where(OrderRow.subscriber_id == subscriber_id, counted())
        .order_by(OrderRow.ordered_at, OrderLine.position)
    ).all()
    bought: dict[tuple[str, str, str], dict[str, Any]] = {}
    for line in lines:
        key = (line.integration_id, line.provider_product_id, line.provider_variant_id)
        entry = bought.get(key)
        if entry is None:
            entry = bought[key] = {
                "integrationId": line.integration_id,
                "provider": line.provider,
                "providerProductId": line.provider_product_id,
                "providerVariantId": line.provider_variant_id,
                "quantity": 0,
            }
        # Lines come oldest first: the latest snapshot wins.
        entry.update(
            title=line.title,
            variantTitle=line.variant_title,
            imageUrl=line.image_url,
            url=None,
            lastPurchasedAt=line.ordered_at.isoformat(),
        )
        entry["quantity"] += line.quantity
    _fill_from_catalogue(session, bought)
    return sorted(bought.values(), key=lambda e: e["lastPurchasedAt"], reverse=True)


def _fill_from_catalogue(
    session: Session, bought: dict[tuple[str, str, str], dict[str, Any]]
) -> None:
    if not bought:
        return
    integration_ids = {key[0] for key in bought}
    product_ids = {key[1] for key in bought}
    variant_ids = {key[2] for key in bought}
    products = {
        (row.integration_id, row.provider_product_id): row
        for row in session.execute(
            select(
                ProductRow.integration_id,
                ProductRow.provider_product_id,
                ProductRow.title,
                ProductRow.image_url,
                ProductRow.url,
            ).where(
                ProductRow.integration_id.in_(integration_ids),
                ProductRow.provider_product_id.in_(product_ids),
            )
        )
    }
    variants = {
        (row.integration_id, row.provider_variant_id): row
        for row in session.execute(
            select(
                VariantRow.integration_id,
                VariantRow.provider_variant_id,
                VariantRow.title,
                VariantRow.image_url,
                VariantRow.url,
            ).where(
                VariantRow.integration_id.in_(integration_ids),
                VariantRow.provider_variant_id.in_(variant_ids),
            )
        )
    }
    for (integration_id, pid, vid), entry in bought.items():
        product = products.get((integration_id, pid))
        variant = variants.get((integration_id, vid))
        if product is not None and product.title:
            entry["title"] = product.title
        if variant is not None and variant.title and vid != pid:
            entry["variantTitle"] = variant.title
        entry["imageUrl"] = (
            (variant.image_url if variant is not None else None)
            or (product.image_url if product is not None else None)
            or entry["imageUrl"]
        )
        entry["url"] = (variant.url if variant is not None else None) or (
            product.url if product is not None else None
        )
