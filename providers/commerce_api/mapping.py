"""Commerce API documents -> storeflow records.

A products push reaches the mapping already merged with what storeflow had stored
(the web layer does that: an omitted field keeps its value, ``null`` clears it), so
each product document here is complete. Times: the caller's ``updatedAt`` when sent,
else ``receivedAt``, which storeflow stamps on every push it stores: successive
pushes of the same object are versions in arrival order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storeflow import (
    Customer,
    LineItem,
    Money,
    Order,
    OrderStatus,
    Product,
    Refund,
    StoreContext,
    Unmappable,
    Variant,
    normalize_email,
)
from storeflow.providers.commerce_api.wire import parse_time

STATES: dict[str, OrderStatus] = {
    "placed": "placed",
    "cancelled": "cancelled",
    "fulfilled": "fulfilled",
    "refunded": "refunded",
}


def version_time(data: dict[str, Any]) -> datetime | None:
    return parse_time(data.get("updatedAt")) or parse_time(data.get("receivedAt"))


def _stock(in_stock: Any) -> str | None:
    if in_stock is None:
        return None
    return "instock" if in_stock else "outofstock"


def _money(cents: Any, currency: str) -> Money | None:
    return None if cents is None else Money(int(cents), currency.upper())


def map_product(data: dict[str, Any], store: StoreContext) -> Product:
    pid = str(data["productId"])
    currency = (data.get("currency") or store.currency).upper()
    price = _money(data.get("priceCents"), currency)
    variants = tuple(
        Variant(
            provider_variant_id=str(v["variantId"]),
            title=v.get("title") or "",
            sku=v.get("sku") or "",
            price=_money(v.get("priceCents"), currency),
            stock_status=_stock(v.get("inStock")),
            stock_quantity=v.get("inventoryQuantity"),
            image_url=v.get("imageUrl"),
        )
        for v in data.get("variants") or ()
    )
    if not variants:
        # A simple product: one variant whose id is the product's.
        variants = (
            Variant(
                provider_variant_id=pid,
                title=data.get("title") or "",
                sku=data.get("sku") or "",
                price=price,
                stock_status=_stock(data.get("inStock")),
                stock_quantity=data.get("inventoryQuantity"),
                image_url=data.get("imageUrl"),
                url=data.get("url"),
            ),
        )
    return Product(
        provider_product_id=pid,
        title=data.get("title") or "",
        modified_at=version_time(data),
        type="variable" if data.get("variants") else "simple",
        url=data.get("url"),
        image_url=data.get("imageUrl"),
        image_urls=(data["imageUrl"],) if data.get("imageUrl") else (),
        price=price,
        stock_status=_stock(data.get("inStock")),
        stock_quantity=data.get("inventoryQuantity"),
        variants=variants,
    )


def map_order(data: dict[str, Any], store: StoreContext) -> Order:
    currency = str(data["currency"]).upper()
    total = Money(int(data["totalCents"]), currency)
    status = data.get("status") or "placed"
    received = version_time(data)
    ordered_at = parse_time(data.get("orderedAt")) or received
    if ordered_at is None:
        raise Unmappable(f"order {data['orderId']}: no orderedAt and no receivedAt")
    buyer = data["customer"]
    email = normalize_email(buyer["email"])
    return Order(
        provider_order_id=str(data["orderId"]),
        email=email,
        currency=currency,
        total=total,
        status=status,
        state=STATES[status],
        ordered_at=ordered_at,
        modified_at=received,
        line_items=tuple(_line(item, currency) for item in data.get("items") or ()),
        refunds=_refunds(data, status, total),
        order_number=str(data.get("orderNumber") or data["orderId"]),
        customer=Customer(
            provider_customer_id=buyer.get("externalId") or None,
            email=email,
            first_name=buyer.get("firstName") or "",
            last_name=buyer.get("lastName") or "",
            modified_at=received,
        ),
        first_name=buyer.get("firstName") or "",
        last_name=buyer.get("lastName") or "",
    )


def _line(item: dict[str, Any], currency: str) -> LineItem:
    price = Money(int(item.get("priceCents") or 0), currency)
    quantity = int(item["quantity"])
    return LineItem(
        provider_product_id=str(item["productId"]),
        provider_variant_id=str(item.get("variantId") or item["productId"]),
        title=item.get("title") or "",
        quantity=quantity,
        price=price,
        total=Money(price.minor * quantity, currency),
        variant_title=item.get("variantTitle") or "",
        sku=item.get("sku") or "",
    )


def _refunds(data: dict[str, Any], status: str, total: Money) -> tuple[Refund, ...]:
    """``refunded`` without an amount is a full refund; an amount is taken as given."""
    amount = data.get("refundAmountCents")
    if amount is None and status != "refunded":
        return ()
    minor = total.minor if amount is None else int(amount)
    if minor <= 0:
        return ()
    return (Refund(provider_refund_id="refund", amount=Money(minor, total.currency)),)
