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

from storeflow.core.commerce.money import MAX_MINOR, Money
from storeflow.core.errors import Unmappable
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
    # The product manages this variant's stock (WooCommerce ``manage_stock: "parent"``):
    # an update of the product's own stock is this variant's stock too.
    stock_from_parent: bool = False


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


# --- carts ---

CartActivityType = Literal["cart_started", "cart_updated", "cart_cleared", "checkout_started"]


@attrs.frozen
class CartLine:
    """One line of a shopper's cart as the store reported it (the catalogue fills in the rest)."""

    provider_product_id: str
    provider_variant_id: str  # = provider_product_id for simple products
    quantity: int
    line_total: Money | None = None
    title: str = ""


@attrs.frozen
class CartActivity:
    """What a store reported about a cart: its contents at ``occurred_at`` (``storeflow.core.commerce.carts``).

    ``session_key`` names the shopping session (one cart at a time); ``email`` and
    ``provider_customer_id`` identify the shopper when the store knows them.
    """

    event_id: str
    type: CartActivityType
    occurred_at: datetime
    session_key: str
    lines: tuple[CartLine, ...] = ()
    total: Money | None = None
    currency: str | None = None
    email: str | None = None
    provider_customer_id: str | None = None
    checkout_url: str | None = None


# --- stock per location (Shopify inventory levels) ---


@attrs.frozen
class InventoryItem:
    """Which variant a store's inventory item counts (``storeflow.core.commerce.stock_levels``).

    Stores that count stock per location (Shopify) report levels by inventory item,
    not by variant; the product payload says which item belongs to which variant.
    ``oversell`` is true when the variant stays buyable at zero stock.
    """

    inventory_item_id: str
    provider_product_id: str
    provider_variant_id: str
    oversell: bool = False
    modified_at: datetime | None = None


@attrs.frozen
class StockLevel:
    """The available quantity of one inventory item at one location (``None``: unknown)."""

    inventory_item_id: str
    location_id: str
    available: int | None
    modified_at: datetime | None = None


# --- privacy (storeflow.core.commerce.privacy) ---


@attrs.frozen
class Erasure:
    """A privacy request to erase personal data: one shopper's (``scope="customer"``) or
    everything of the store (``scope="store"``). Identifiers may be empty."""

    scope: Literal["customer", "store"]
    request_id: str = ""
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    provider_customer_ids: tuple[str, ...] = ()
    provider_order_ids: tuple[str, ...] = ()


@attrs.frozen
class DataRequest:
    """A privacy request for an export of what storeflow holds about one shopper."""

    request_id: str
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    provider_customer_ids: tuple[str, ...] = ()
    provider_order_ids: tuple[str, ...] = ()


@attrs.frozen
class StoreUninstalled:
    """The store removed storeflow (Shopify ``app/uninstalled``): its credentials are gone."""

    reason: str = "uninstalled"


@attrs.frozen
class Rejected:
    """One item of a batch that could not be taken, with the reason (reported by index)."""

    index: int
    item_id: str | None
    code: str
    message: str


Record = (
    Product
    | ProductDeleted
    | Customer
    | CustomerDeleted
    | Order
    | OrderDeleted
    | StoreEvent
    | CartActivity
    | InventoryItem
    | StockLevel
    | Erasure
    | DataRequest
    | StoreUninstalled
)


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
    # Items of a batch the provider could not take (a plugin event batch reports them).
    rejected: tuple[Rejected, ...] = ()


# --- bounds ---------------------------------------------------------------------------
#
# Authentic data can still be beyond what storeflow can store or add up: ten refunds
# near the BIGINT limit, a quantity beyond an INTEGER column. Such a record is refused
# before anything is written (the delivery is kept as failed with the reason, and a
# sync item is reported in ``failed``), never left to overflow in the database, where
# it would be retried until the job is dead.

# order_lines.quantity and the stock quantities are INTEGER columns.
MAX_QUANTITY = 2**31 - 1


class OutOfRange(Unmappable):
    """A value of authentic data beyond what storeflow stores or adds up."""

    code = "out_of_range"


def check_bounds(rec: Record) -> None:
    """Raise :class:`OutOfRange` when a record holds an amount or quantity out of range."""
    match rec:
        case Order():
            _check_order(rec)
        case Product():
            _check_product(rec)
        case CartActivity():
            _check_cart(rec)
        case StockLevel() if rec.available is not None:
            _quantity(rec.available, f"inventory item {rec.inventory_item_id}: available")
        case _:
            pass


def _check_order(order: Order) -> None:
    where = f"order {order.provider_order_id}"
    _amount(order.total, f"{where}: total")
    for refund in order.refunds:
        _amount(refund.amount, f"{where}: refund {refund.provider_refund_id}")
    # The sum is stored (orders.refunded_cents) and sent in events (refundedCents).
    _amount_sum([r.amount.minor for r in order.refunds], f"{where}: its refunds together")
    for position, item in enumerate(order.line_items):
        _quantity(item.quantity, f"{where}: line {position} quantity")
        _amount(item.price, f"{where}: line {position} price")
        _amount(item.total, f"{where}: line {position} total")


def _check_product(product: Product) -> None:
    where = f"product {product.provider_product_id}"
    if product.price is not None:
        _amount(product.price, f"{where}: price")
    if product.stock_quantity is not None:
        _quantity(product.stock_quantity, f"{where}: stock quantity")
    for variant in product.variants:
        inner = f"{where} variant {variant.provider_variant_id}"
        if variant.price is not None:
            _amount(variant.price, f"{inner}: price")
        if variant.stock_quantity is not None:
            _quantity(variant.stock_quantity, f"{inner}: stock quantity")


def _check_cart(cart: CartActivity) -> None:
    where = f"cart event {cart.event_id}"
    if cart.total is not None:
        _amount(cart.total, f"{where}: total")
    for position, line in enumerate(cart.lines):
        _quantity(line.quantity, f"{where}: line {position} quantity")
        if line.line_total is not None:
            _amount(line.line_total, f"{where}: line {position} total")


def _amount(money: Money, what: str) -> None:
    _amount_sum([money.minor], what)


def _amount_sum(minors: list[int], what: str) -> None:
    total = sum(minors)
    if abs(total) >= MAX_MINOR:
        raise OutOfRange(
            f"{what}: {total} minor units, more than storeflow stores ({MAX_MINOR - 1} at most)"
        )


def _quantity(value: int, what: str) -> None:
    if abs(value) > MAX_QUANTITY:
        raise OutOfRange(f"{what}: {value}, more than storeflow stores ({MAX_QUANTITY} at most)")
