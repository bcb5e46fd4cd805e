"""WooCommerce wire objects -> ``storeflow.core.commerce.records``. Pure functions: no I/O, no clock.

Order status -> ``Order.state`` (``Order.status`` keeps the WooCommerce value):

==============================================  ===============================
WooCommerce status                              state
==============================================  ===============================
``pending``, ``processing``, ``on-hold``,       ``placed`` (core emits
``created``                                     ``ecommerce.order_placed``)
``completed``                                   ``fulfilled``
``cancelled``, ``failed``                       ``cancelled``
``refunded``                                    ``refunded``
``checkout-draft``, ``draft``, ``auto-draft``,  not mapped: ``Mapped(ignored=...)``
``new``, ``trash``
anything else (plugin statuses)                 not mapped: ``Mapped(ignored=...)``
==============================================  ===============================

Why these choices:

* ``pending`` ("pending payment") counts as placed, as the product issue asks
  (created/pending/processing/on-hold -> order_placed), with
  ``Order.awaiting_payment`` set: core does not count it as revenue until it is paid. WooCommerce payloads show
  the state at delivery time and coalesce updates (wire-formats.md A5), so an order
  is often first seen already ``processing``; that is placed too.
* Drafts are carts in disguise: block checkout creates a ``checkout-draft`` order as
  soon as the Checkout block opens, and it still arrives through ``order.updated``
  (issue #66995). ``trash`` arrives as ``order.deleted`` on its own.
* Unknown statuses come from plugins (``shipped``, ``partial-payment``, ``active``
  for subscriptions ...). Guessing their meaning could send an order confirmation
  for something that is not an order, so they are ignored with a reason; the
  delivery stays stored and can be replayed once the status is added to
  ``STATE_BY_STATUS``.

Emails are the identity key: ``billing.email`` trimmed and lower-cased (orders carry
no other email, wire-formats.md A8). Registered buyers (``customer_id != 0``) also
get ``Order.customer``; guests get ``customer=None`` and their names on the order.

Products: a simple product (or any non-variable type: grouped, external, bundle ...)
becomes one ``Product`` whose single ``Variant`` has ``provider_variant_id ==
provider_product_id``. A variable product carries no variants: WooCommerce sends
each variation as its own ``product.*`` payload. A variation becomes
``Product(provider_product_id=parent_id, parent_id=parent_id, title="",
variants=(Variant(provider_variant_id=id, ...),))``: core treats a record with
``parent_id`` as "update this one variant of that product" and leaves the parent's
title, categories and price alone. For ``manage_stock == "parent"`` WooCommerce
reports the parent's shared quantity as the variation's ``stock_quantity``; it is
passed on as is, with ``Variant.stock_from_parent`` set: the parent's own updates
(``manage_stock: true``, its ``stock_quantity`` and ``stock_status``) are then that
variation's stock too, since WooCommerce syncs the inheriting variations without a
webhook of their own.

A variation read from the REST variations endpoint (``/products/<id>/variations``)
has no ``type`` (it reads as the default ``simple``) but a ``parent_id``: a
``simple`` product with ``parent_id != 0`` is taken as a variation. WooCommerce 3+
keeps ``parent_id`` 0 on every other simple product (grouped children are listed on
the group); other types with a parent stay products.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storeflow import (
    Customer,
    CustomerDeleted,
    Ignored,
    LineItem,
    Mapped,
    Money,
    MoneyError,
    Order,
    OrderDeleted,
    OrderStatus,
    Product,
    ProductDeleted,
    Refund,
    StoreContext,
    Unmappable,
    Variant,
    money,
    usable_email,
)
from storeflow.providers.woocommerce import wire

STATE_BY_STATUS: dict[str, OrderStatus] = {
    "created": "placed",
    "pending": "placed",
    "processing": "placed",
    "on-hold": "placed",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "failed": "cancelled",
    "refunded": "refunded",
}

# Placed but unpaid: an order (``order_placed``), but not revenue until it is paid.
# ``on-hold`` (awaiting a bank transfer or cheque) counts as revenue, as it does in
# WooCommerce Analytics, whose default excluded statuses are pending, failed, cancelled.
AWAITING_PAYMENT = frozenset({"pending"})

# Orders that are not orders yet (or any more).
IGNORED_STATUSES = frozenset({"checkout-draft", "draft", "auto-draft", "new", "trash"})

_TAG_RE = re.compile(r"<[^>]*>")


# --- small helpers -----------------------------------------------------------------


def order_state(status: str) -> OrderStatus | None:
    """The provider-agnostic state of a WooCommerce status; None means "ignore"."""
    return STATE_BY_STATUS.get(status.strip().lower().removeprefix("wc-"))


def plain_text(value: str | None) -> str:
    """Display text from WooCommerce strings, which may hold entities and tags."""
    return html.unescape(_TAG_RE.sub("", value or "")).strip()


@lru_cache(maxsize=64)
def _store_zone(name: str) -> tzinfo:
    """The store's timezone: an IANA name, or a WordPress offset like ``UTC+5:30``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        pass
    match = re.fullmatch(r"(?:UTC|GMT)?\s*([+-])(\d{1,2})(?:[:.](\d{1,2}))?", name.strip())
    if match is None:
        return UTC
    sign = -1 if match.group(1) == "-" else 1
    minutes = int(match.group(2)) * 60 + int(match.group(3) or 0)
    if minutes >= 24 * 60:
        return UTC
    return timezone(sign * timedelta(minutes=minutes))


def resolve_time(
    gmt: datetime | None, local: datetime | None, store: StoreContext
) -> datetime | None:
    """Prefer the ``_gmt`` field; else read the local field in the store's timezone."""
    if gmt is not None:
        return gmt
    if local is None:
        return None
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    return local.replace(tzinfo=_store_zone(store.timezone)).astimezone(UTC)


def _money(value: Decimal, currency: str, where: str) -> Money:
    try:
        return money.parse(value, currency)
    except (MoneyError, ArithmeticError) as exc:  # bounded on the wire; belt and braces
        raise Unmappable(
            f"{where} is not an amount of {currency}: {exc}", code="invalid_amount"
        ) from None


def _optional_money(value: Decimal | None, currency: str, where: str) -> Money | None:
    return None if value is None else _money(value, currency, where)


def _real_images(images: Iterable[wire.Image | None]) -> list[wire.Image]:
    # v2 payloads pad an image-less product with a placeholder whose id is 0.
    return [img for img in images if img is not None and img.src and img.id != "0"]


# --- orders ------------------------------------------------------------------------


def map_order(order: wire.Order, store: StoreContext) -> Mapped:
    """One WooCommerce order -> ``Mapped(records=(Order,))`` or ``Mapped(ignored=...)``."""
    status = order.status.strip().lower().removeprefix("wc-")
    if status in IGNORED_STATUSES:
        return Mapped(ignored=Ignored(f"order {order.id} has status {status!r}: not an order yet"))
    state = order_state(status)
    if state is None:
        return Mapped(
            ignored=Ignored(
                f"order {order.id} has status {status!r}, which storeflow does not know; "
                "add it to storeflow.providers.woocommerce.mapping.STATE_BY_STATUS to map it"
            )
        )
    email = usable_email(order.billing.email)
    if email is None:
        raise Unmappable(
            f"order {order.id} has no usable buyer email (billing.email is "
            f"{order.billing.email!r}); WooCommerce orders created in the admin may lack one",
            code="missing_email",
        )
    ordered_at = resolve_time(order.date_created_gmt, order.date_created, store)
    if ordered_at is None:
        raise Unmappable(
            f"order {order.id} has neither date_created_gmt nor date_created", code="missing_date"
        )
    currency = order.currency
    first_name = plain_text(order.billing.first_name)
    last_name = plain_text(order.billing.last_name)
    customer = None
    if order.customer_id != "0":
        customer = Customer(
            provider_customer_id=order.customer_id,
            email=email,
            first_name=first_name,
            last_name=last_name,
        )
    record = Order(
        provider_order_id=order.id,
        email=email,
        currency=currency,
        total=_money(order.total, currency, "total"),
        status=order.status,
        state=state,
        ordered_at=ordered_at,
        modified_at=resolve_time(order.date_modified_gmt, order.date_modified, store),
        line_items=tuple(
            _map_line_item(item, currency, index) for index, item in enumerate(order.line_items)
        ),
        refunds=tuple(_map_refund(refund, currency) for refund in order.refunds),
        order_number=order.number or order.id,
        customer=customer,
        first_name=first_name,
        last_name=last_name,
        awaiting_payment=status in AWAITING_PAYMENT,
    )
    return Mapped(records=(record,))


def _map_line_item(item: wire.LineItem, currency: str, index: int) -> LineItem:
    where = f"line_items[{index}]"
    total = _money(item.total, currency, f"{where}.total")
    if item.price is not None:
        price = _money(item.price, currency, f"{where}.price")
    elif item.quantity:
        # Older payloads lack ``price``; WooCommerce computes it as total / quantity.
        price = _money(item.total / item.quantity, currency, f"{where}.total")
    else:
        price = Money(0, total.currency)
    is_variation = item.variation_id != "0"
    return LineItem(
        provider_product_id=item.product_id,
        provider_variant_id=item.variation_id if is_variation else item.product_id,
        title=plain_text(item.parent_name or item.name),
        quantity=item.quantity,
        price=price,
        total=total,
        variant_title=_line_variant_title(item) if is_variation else "",
        sku=item.sku or "",
        image_url=item.image.src or None,
        provider_line_id=item.id,
    )


def _line_variant_title(item: wire.LineItem) -> str:
    """The variation attributes WooCommerce shows on the order line ("Blue, Large")."""
    values = []
    for meta in item.meta_data:
        shown = meta.display_value
        # "_"-prefixed keys are WooCommerce's hidden bookkeeping (``_reduced_stock``).
        if meta.key.startswith("_") or isinstance(shown, bool):
            continue
        if isinstance(shown, str | int | Decimal):
            text = plain_text(str(shown))
            if text:
                values.append(text)
    if values:
        return ", ".join(values)
    # Without display meta, the generated name "Hoodie - Blue, Large" still says it.
    parent = item.parent_name or ""
    if parent and item.name.startswith(f"{parent} - "):
        return plain_text(item.name[len(parent) + 3 :])
    return ""


def _map_refund(refund: wire.Refund, currency: str) -> Refund:
    amount = _money(refund.total, currency, "refunds[].total")
    # WooCommerce writes refund totals negative ("-5.00"); the record holds what went back.
    if amount.minor < 0:
        amount = -amount
    return Refund(
        provider_refund_id=refund.id or "", amount=amount, reason=plain_text(refund.reason)
    )


# --- products ----------------------------------------------------------------------


def is_variable(product_type: str) -> bool:
    """``variable`` and plugin types built on it (``variable-subscription``)."""
    return product_type.startswith("variable")


def is_variation(product: wire.Product) -> bool:
    """A variation webhook (``type: "variation"``), or an item of the REST variations
    endpoint, which sends no ``type`` (read as ``simple``) but its ``parent_id``."""
    return product.type == "variation" or (product.type == "simple" and product.parent_id != "0")


def map_product(product: wire.Product, store: StoreContext) -> Mapped:
    """A product or a variation -> one ``Product`` record (see the module docstring)."""
    if is_variation(product):
        return Mapped(records=(_map_variation(product, store),))
    price = _optional_money(product.price, store.currency, "price")
    images = _real_images(product.images) or _real_images([product.image])
    image_urls = tuple(img.src for img in images)
    stock_quantity = product.stock_quantity
    if is_variable(product.type) and product.manage_stock is not True:
        # A counted quantity on a variable product means "its variations share it"
        # (core passes it to those with ``stock_from_parent``); without stock
        # management there is none to share.
        stock_quantity = None
    variants: tuple[Variant, ...] = ()
    if not is_variable(product.type):
        variants = (
            Variant(
                provider_variant_id=product.id,
                sku=product.sku,
                price=price,
                stock_status=product.stock_status,
                stock_quantity=stock_quantity,
                image_url=image_urls[0] if image_urls else None,
                url=product.permalink or None,
            ),
        )
    record = Product(
        provider_product_id=product.id,
        title=plain_text(product.name),
        modified_at=resolve_time(product.date_modified_gmt, product.date_modified, store),
        type=product.type,
        status=product.status,
        slug=product.slug,
        url=product.permalink or None,
        image_url=image_urls[0] if image_urls else None,
        image_urls=image_urls,
        categories=tuple(plain_text(term.name) for term in product.categories if term.name),
        price=price,
        stock_status=product.stock_status,
        stock_quantity=stock_quantity,
        variants=variants,
    )
    return Mapped(records=(record,))


def _map_variation(product: wire.Product, store: StoreContext) -> Product:
    if product.parent_id == "0":
        raise Unmappable(
            f"variation {product.id} has no parent_id; it cannot be attached to a product",
            code="missing_parent",
        )
    images = _real_images(product.images) or _real_images([product.image])
    variant = Variant(
        provider_variant_id=product.id,
        title=_variation_title(product),
        sku=product.sku,
        price=_optional_money(product.price, store.currency, "price"),
        stock_status=product.stock_status,
        stock_quantity=product.stock_quantity,
        image_url=images[0].src if images else None,
        url=product.permalink or None,
        stock_from_parent=product.manage_stock == "parent",
    )
    return Product(
        provider_product_id=product.parent_id,
        title="",  # core keeps the parent's title
        modified_at=resolve_time(product.date_modified_gmt, product.date_modified, store),
        type="variation",
        status=product.status,
        variants=(variant,),
        parent_id=product.parent_id,
    )


def _variation_title(product: wire.Product) -> str:
    """A variation's ``attributes[].option`` values ("Blue, Large"), else its name."""
    options = [plain_text(attr.option) for attr in product.attributes if attr.option]
    options = [option for option in options if option]
    if options:
        return ", ".join(options)
    name = plain_text(product.name)
    # WooCommerce names variations "Hoodie - Blue, Large"; keep the part after the dash.
    return name.rpartition(" - ")[2] if " - " in name else name


# --- customers and deletions -------------------------------------------------------


def map_customer(customer: wire.Customer, store: StoreContext) -> Mapped:
    """A registered customer; names fall back to the billing address."""
    email = usable_email(customer.email) or usable_email(customer.billing.email)
    if email is None:
        raise Unmappable(
            f"customer {customer.id} has no usable email (email is {customer.email!r})",
            code="missing_email",
        )
    record = Customer(
        provider_customer_id=customer.id,
        email=email,
        first_name=plain_text(customer.first_name or customer.billing.first_name),
        last_name=plain_text(customer.last_name or customer.billing.last_name),
        modified_at=resolve_time(customer.date_modified_gmt, customer.date_modified, store),
        created_at=resolve_time(customer.date_created_gmt, customer.date_created, store),
    )
    return Mapped(records=(record,))


_DELETED: dict[str, type[OrderDeleted] | type[ProductDeleted] | type[CustomerDeleted]] = {
    "order": OrderDeleted,
    "product": ProductDeleted,
    "customer": CustomerDeleted,
}


def map_deleted(resource: str, id: str) -> Mapped:
    """``{"id": N}`` of ``order|product|customer.deleted`` (plural names accepted too)."""
    name = resource.strip().lower()
    name = name[:-1] if name.endswith("s") else name
    record_class = _DELETED.get(name)
    if record_class is None:
        raise Unmappable(f"cannot delete a WooCommerce {resource!r}", code="unsupported_resource")
    return Mapped(records=(record_class(str(id)),))
