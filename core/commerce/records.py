"""Canonical commerce records: what every provider maps its wire format into.

These are plain attrs classes. They carry no persistence and no serialization
configuration: providers build them (each with its own cattrs converter for its
wire format), core services apply them to the database. IDs from providers are
strings (Shopify IDs exceed 2**53); money is minor units plus an ISO currency.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import attrs

from storeflow.core.commerce.money import Money
from storeflow.core.statuses import OrderStatus as OrderStatus

# The canonical commerce events: what core appends to the event log and what
# sequences trigger on (``storeflow.core.commerce.events.NAMES`` lists them).
EventName = Literal[
    "ecommerce.order_placed",
    "ecommerce.order_cancelled",
    "ecommerce.order_fulfilled",
    "ecommerce.order_refunded",
    "ecommerce.checkout_started",
    "ecommerce.cart_started",
    "ecommerce.cart_cleared",
    "ecommerce.cart_abandoned",
    "ecommerce.back_in_stock_requested",
    "ecommerce.back_in_stock",
    "ecommerce.back_in_stock_out_of_stock",
    "ecommerce.replenishment_due",
]


@attrs.frozen
class Variant:
    provider_variant_id: str
    title: str = ""
    sku: str = ""
    price: Money | None = None
    stock_status: str | None = None  # instock | outofstock | onbackorder | provider value
    stock_quantity: int | None = None
    image_url: str | None = None
    url: str | None = None


@attrs.frozen
class Product:
    """A product, or one variation of it (``parent_id`` set, ``variants`` holds itself).

    WooCommerce sends variations as their own objects; they update one variant of
    the parent product without touching the parent's title or categories.
    """

    provider_product_id: str
    title: str
    modified_at: datetime | None
    type: str = "simple"
    status: str = "publish"
    slug: str = ""
    url: str | None = None
    image_url: str | None = None
    image_urls: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    price: Money | None = None
    stock_status: str | None = None
    stock_quantity: int | None = None
    variants: tuple[Variant, ...] = ()
    # Set when this record is a variation update: the id of the product it belongs to.
    parent_id: str | None = None


@attrs.frozen
class ProductDeleted:
    provider_product_id: str


@attrs.frozen
class Customer:
    provider_customer_id: str | None  # None for guest buyers
    email: str
    first_name: str = ""
    last_name: str = ""
    modified_at: datetime | None = None
    created_at: datetime | None = None


@attrs.frozen
class CustomerDeleted:
    provider_customer_id: str


@attrs.frozen
class LineItem:
    provider_product_id: str
    provider_variant_id: str  # = provider_product_id for simple products
    title: str
    quantity: int
    price: Money  # unit price
    total: Money  # line total after discounts
    variant_title: str = ""
    sku: str = ""
    image_url: str | None = None
    provider_line_id: str | None = None


@attrs.frozen
class Refund:
    provider_refund_id: str
    amount: Money  # positive minor units refunded
    reason: str = ""


@attrs.frozen
class Order:
    provider_order_id: str
    email: str
    currency: str
    total: Money
    status: str  # provider status, verbatim (e.g. "processing")
    state: OrderStatus  # provider-agnostic state the provider maps the status to
    ordered_at: datetime
    modified_at: datetime | None
    line_items: tuple[LineItem, ...] = ()
    refunds: tuple[Refund, ...] = ()
    order_number: str = ""
    customer: Customer | None = None
    first_name: str = ""
    last_name: str = ""
    # Placed but not paid (WooCommerce "pending payment"): an order, not yet revenue.
    awaiting_payment: bool = False


@attrs.frozen
class OrderDeleted:
    provider_order_id: str


@attrs.frozen
class StoreEvent:
    """An activity event a store plugin reports directly (cart, checkout)."""

    event_id: str
    name: EventName
    email: str
    occurred_at: datetime
    properties: dict[str, Any] = attrs.field(factory=dict)


Record = Product | ProductDeleted | Customer | CustomerDeleted | Order | OrderDeleted | StoreEvent


@attrs.frozen
class Ignored:
    """A delivery that is authentic and understood but has nothing to apply.

    Example: a WooCommerce ``order.updated`` for a ``checkout-draft`` order.
    """

    reason: str


@attrs.frozen
class Mapped:
    """What a provider made of one delivery or one sync item."""

    records: tuple[Record, ...] = ()
    ignored: Ignored | None = None
