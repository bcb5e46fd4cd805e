"""Shopify webhook resources -> ``storeflow.records``. Pure functions: no I/O, no clock.

Orders (``orders/create``, ``updated``, ``paid``, ``cancelled``, ``fulfilled`` all send
the same Order resource, B5). ``Order.status`` keeps Shopify's own words
(``financial_status/fulfillment_status`` or ``cancelled``); the state:

=========================================================  ============================
Shopify                                                    state
=========================================================  ============================
``cancelled_at`` set, or ``financial_status: voided``      ``cancelled``
``financial_status: refunded``                             ``refunded``
``fulfillment_status: fulfilled``                          ``fulfilled``
anything else                                              ``placed``
=========================================================  ============================

``financial_status: pending`` (manual payment, bank transfer) is placed but
``awaiting_payment``: not revenue until paid, as for WooCommerce. The email is
``email``, else ``contact_email``, else the customer's; an order without one (POS,
some drafts) is ignored with that reason. Refunds come with the order (``refunds[]``:
the successful ``refund`` transactions), and ``refunds/create`` is ignored because the
``orders/updated`` that Shopify sends with it carries the whole refund list (B11).

Products keep Shopify's variant ids even for a single-variant product (line items
and inventory name the variant). A variant's stock is its ``inventory_quantity`` (the
sum over locations), in stock when above 0 or when ``inventory_policy`` is
``continue``; a variant whose (pre-2024-07) ``inventory_management`` is null is not
tracked and always in stock. Each variant's ``inventory_item_id`` becomes an
``InventoryItem`` record, so that later ``inventory_levels/update`` deliveries (by
item and location, B7) reach it.

Checkouts and carts become the same ``CartActivity`` records the WooCommerce plugin's
cart events do. The shopping session is the cart token: a cart (no email, ever) and
the checkout made from it (``cart_token``, with ``email`` once typed in) are one
session, so the checkout names the shopper of the cart.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import attrs

from storeflow import (
    Customer,
    Ignored,
    LineItem,
    Mapped,
    Money,
    MoneyError,
    Order,
    OrderStatus,
    Product,
    Refund,
    StoreContext,
    Unmappable,
    Variant,
    money,
    records,
    usable_email,
)
from storeflow.providers.shopify import wire

ORDER_TOPICS = frozenset(
    {"orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled"}
)


# --- helpers ---------------------------------------------------------------------------


def _money(value: Any, currency: str, path: str) -> Money:
    raw = wire.amount(value, path)
    try:
        return money.parse(raw if raw is not None else "0", currency)
    except (MoneyError, ValueError, ArithmeticError):
        raise Unmappable(f"{path}: not a valid {currency} amount: {str(value)[:40]!r}") from None


def _currency(value: Any, store: StoreContext) -> str:
    text = wire.text(value, "$.currency").strip().upper()
    return text if len(text) == 3 and text.isalpha() else store.currency.upper()


def _stock(quantity: int | None, *, oversell: bool, tracked: bool) -> tuple[str, int | None]:
    if not tracked:
        return "instock", None
    total = quantity or 0
    if total > 0:
        return "instock", total
    if oversell:
        return "instock", None
    return "outofstock", total


def _fingerprint(payload: Mapping[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# --- orders ------------------------------------------------------------------------------


def order_state(order: Mapping[str, Any]) -> tuple[str, OrderStatus]:
    financial = wire.text(order.get("financial_status"), "$.financial_status") or "pending"
    fulfillment = wire.text(order.get("fulfillment_status"), "$.fulfillment_status")
    if order.get("cancelled_at") or financial == "voided":
        return "cancelled", "cancelled"
    status = f"{financial}/{fulfillment or 'unfulfilled'}"
    if financial == "refunded":
        return status, "refunded"
    if fulfillment == "fulfilled":
        return status, "fulfilled"
    return status, "placed"


def map_order(order: Mapping[str, Any], store: StoreContext) -> Mapped:
    order_id = wire.ident(order.get("id"), "$.id")
    assert order_id is not None
    customer = order.get("customer")
    customer = wire.obj(customer, "$.customer") if customer is not None else None
    email = (
        usable_email(wire.text(order.get("email"), "$.email"))
        or usable_email(wire.text(order.get("contact_email"), "$.contact_email"))
        or (
            usable_email(wire.text(customer.get("email"), "$.customer.email")) if customer else None
        )
    )
    if email is None:
        return Mapped(ignored=Ignored(f"order {order_id} has no usable email (POS or draft order)"))
    currency = _currency(order.get("currency"), store)
    created = wire.timestamp(order.get("created_at"), "$.created_at")
    ordered_at = wire.timestamp(order.get("processed_at"), "$.processed_at") or created
    if ordered_at is None:
        raise Unmappable(f"order {order_id} has neither processed_at nor created_at")
    status, state = order_state(order)
    billing = order.get("billing_address")
    billing = wire.obj(billing, "$.billing_address") if billing is not None else {}
    first = wire.text((customer or {}).get("first_name"), "$.customer.first_name") or wire.text(
        billing.get("first_name"), "$.billing_address.first_name"
    )
    last = wire.text((customer or {}).get("last_name"), "$.customer.last_name") or wire.text(
        billing.get("last_name"), "$.billing_address.last_name"
    )
    buyer = None
    if customer is not None and customer.get("id") is not None:
        buyer = Customer(
            provider_customer_id=wire.ident(customer.get("id"), "$.customer.id"),
            email=usable_email(wire.text(customer.get("email"), "$.customer.email")) or email,
            first_name=first,
            last_name=last,
            modified_at=wire.timestamp(customer.get("updated_at"), "$.customer.updated_at"),
            created_at=wire.timestamp(customer.get("created_at"), "$.customer.created_at"),
        )
    financial = wire.text(order.get("financial_status"), "$.financial_status")
    name = wire.text(order.get("name"), "$.name")
    return Mapped(
        records=(
            Order(
                provider_order_id=order_id,
                email=email,
                currency=currency,
                total=_money(order.get("total_price"), currency, "$.total_price"),
                status=status,
                state=state,
                ordered_at=ordered_at,
                modified_at=wire.timestamp(order.get("updated_at"), "$.updated_at") or created,
                line_items=tuple(
                    _line_item(item, currency, f"$.line_items[{index}]")
                    for index, item in enumerate(
                        wire.objects(order.get("line_items"), "$.line_items")
                    )
                ),
                refunds=tuple(
                    refund
                    for index, item in enumerate(wire.objects(order.get("refunds"), "$.refunds"))
                    if (refund := _refund(item, currency, f"$.refunds[{index}]")) is not None
                ),
                order_number=name.lstrip("#") or str(order.get("order_number") or ""),
                customer=buyer,
                first_name=first,
                last_name=last,
                awaiting_payment=financial == "pending",
            ),
        )
    )


def _line_item(item: Mapping[str, Any], currency: str, at: str) -> LineItem:
    line_id = wire.ident(item.get("id"), f"{at}.id", required=False)
    # Custom items have no product (B5): their line id keeps them apart.
    product_id = wire.ident(item.get("product_id"), f"{at}.product_id", required=False) or (
        f"custom-{line_id}"
    )
    variant_id = (
        wire.ident(item.get("variant_id"), f"{at}.variant_id", required=False) or product_id
    )
    quantity = wire.integer(item.get("quantity"), f"{at}.quantity", default=1) or 0
    price = _money(item.get("price"), currency, f"{at}.price")
    discount = _money(item.get("total_discount"), currency, f"{at}.total_discount").minor
    allocated = sum(
        _money(d.get("amount"), currency, f"{at}.discount_allocations[{i}].amount").minor
        for i, d in enumerate(
            wire.objects(item.get("discount_allocations"), f"{at}.discount_allocations")
        )
    )
    total = max(0, price.minor * quantity - max(discount, allocated))
    return LineItem(
        provider_product_id=product_id,
        provider_variant_id=variant_id,
        title=wire.text(item.get("title"), f"{at}.title")
        or wire.text(item.get("name"), f"{at}.name"),
        quantity=quantity,
        price=price,
        total=Money(total, currency),
        variant_title=wire.text(item.get("variant_title"), f"{at}.variant_title"),
        sku=wire.text(item.get("sku"), f"{at}.sku"),
        provider_line_id=line_id,
    )


def _refund(refund: Mapping[str, Any], currency: str, at: str) -> Refund | None:
    refund_id = wire.ident(refund.get("id"), f"{at}.id")
    assert refund_id is not None
    minor = 0
    for index, tx in enumerate(wire.objects(refund.get("transactions"), f"{at}.transactions")):
        if tx.get("kind") == "refund" and tx.get("status") in ("success", None):
            minor += _money(tx.get("amount"), currency, f"{at}.transactions[{index}].amount").minor
    if minor <= 0:
        return None  # a restock-only refund gives no money back
    return Refund(
        provider_refund_id=refund_id,
        amount=Money(minor, currency),
        reason=wire.text(refund.get("note"), f"{at}.note"),
    )


# --- products ------------------------------------------------------------------------------

_PRODUCT_STATUS = {"active": "publish", "draft": "draft", "archived": "private"}


def map_product(product: Mapping[str, Any], store: StoreContext) -> Mapped:
    product_id = wire.ident(product.get("id"), "$.id")
    assert product_id is not None
    modified_at = wire.timestamp(product.get("updated_at"), "$.updated_at")
    currency = store.currency.upper()
    handle = wire.text(product.get("handle"), "$.handle")
    url = f"{store.store_url.rstrip('/')}/products/{handle}" if handle and store.store_url else None
    image = product.get("image")
    image_url = wire.text(wire.obj(image, "$.image").get("src"), "$.image.src") if image else ""
    images = tuple(
        src
        for index, img in enumerate(wire.objects(product.get("images"), "$.images"))
        if (src := wire.text(img.get("src"), f"$.images[{index}].src"))
    )
    variants: list[Variant] = []
    links: list[records.Record] = []
    for index, raw in enumerate(wire.objects(product.get("variants"), "$.variants")):
        at = f"$.variants[{index}]"
        variant_id = wire.ident(raw.get("id"), f"{at}.id")
        assert variant_id is not None
        oversell = raw.get("inventory_policy") == "continue"
        tracked = not ("inventory_management" in raw and raw.get("inventory_management") is None)
        status, quantity = _stock(
            wire.integer(raw.get("inventory_quantity"), f"{at}.inventory_quantity"),
            oversell=oversell,
            tracked=tracked,
        )
        title = wire.text(raw.get("title"), f"{at}.title")
        variants.append(
            Variant(
                provider_variant_id=variant_id,
                title="" if title == "Default Title" else title,
                sku=wire.text(raw.get("sku"), f"{at}.sku"),
                price=_money(raw.get("price"), currency, f"{at}.price")
                if raw.get("price") is not None
                else None,
                stock_status=status,
                stock_quantity=quantity,
                url=f"{url}?variant={variant_id}" if url else None,
            )
        )
        item_id = wire.ident(
            raw.get("inventory_item_id"), f"{at}.inventory_item_id", required=False
        )
        if item_id:
            links.append(
                records.InventoryItem(
                    inventory_item_id=item_id,
                    provider_product_id=product_id,
                    provider_variant_id=variant_id,
                    oversell=oversell,
                    modified_at=modified_at,
                )
            )
    prices = [v.price for v in variants if v.price is not None]
    in_stock = [v for v in variants if v.stock_status == "instock"]
    counted = [v.stock_quantity for v in variants if v.stock_quantity is not None]
    status = wire.text(product.get("status"), "$.status") or "active"
    categories = tuple(
        dict.fromkeys(c for c in (wire.text(product.get("product_type"), "$.product_type"),) if c)
    ) + wire.tags(product.get("tags"), "$.tags")
    record = Product(
        provider_product_id=product_id,
        title=wire.text(product.get("title"), "$.title"),
        modified_at=modified_at,
        type="variable" if len(variants) > 1 else "simple",
        status=_PRODUCT_STATUS.get(status, status),
        slug=handle,
        url=url,
        image_url=image_url or (images[0] if images else None),
        image_urls=images,
        categories=categories,
        price=min(prices, key=lambda m: m.minor) if prices else None,
        stock_status=("instock" if in_stock else "outofstock") if variants else None,
        stock_quantity=sum(counted) if variants and len(counted) == len(variants) else None,
        variants=tuple(variants),
    )
    return Mapped(records=(record, *links))


# --- inventory levels ------------------------------------------------------------------------


def map_inventory_level(level: Mapping[str, Any], topic: str) -> Mapped:
    item = wire.ident(level.get("inventory_item_id"), "$.inventory_item_id")
    location = wire.ident(level.get("location_id"), "$.location_id")
    assert item is not None and location is not None
    available = (
        None
        if topic == "inventory_levels/disconnect"
        else wire.integer(level.get("available"), "$.available")
    )
    return Mapped(
        records=(
            records.StockLevel(
                inventory_item_id=item,
                location_id=location,
                available=available,
                modified_at=wire.timestamp(level.get("updated_at"), "$.updated_at"),
            ),
        )
    )


# --- customers ------------------------------------------------------------------------------


def map_customer(customer: Mapping[str, Any]) -> Mapped:
    customer_id = wire.ident(customer.get("id"), "$.id")
    email = usable_email(wire.text(customer.get("email"), "$.email"))
    if email is None:
        return Mapped(ignored=Ignored(f"customer {customer_id} has no usable email (phone only)"))
    return Mapped(
        records=(
            Customer(
                provider_customer_id=customer_id,
                email=email,
                first_name=wire.text(customer.get("first_name"), "$.first_name"),
                last_name=wire.text(customer.get("last_name"), "$.last_name"),
                modified_at=wire.timestamp(customer.get("updated_at"), "$.updated_at"),
                created_at=wire.timestamp(customer.get("created_at"), "$.created_at"),
            ),
        )
    )


# --- carts and checkouts -----------------------------------------------------------------------


def _cart_lines(
    items: list[Mapping[str, Any]], currency: str, at: str
) -> tuple[records.CartLine, ...]:
    lines = []
    for index, item in enumerate(items):
        here = f"{at}[{index}]"
        variant_id = wire.ident(item.get("variant_id"), f"{here}.variant_id", required=False)
        product_id = wire.ident(item.get("product_id"), f"{here}.product_id", required=False)
        if product_id is None and variant_id is None:
            continue  # a custom line: nothing in the catalogue to show
        quantity = wire.integer(item.get("quantity"), f"{here}.quantity", default=1) or 0
        if quantity <= 0:
            continue
        total = item.get("line_price")
        lines.append(
            records.CartLine(
                provider_product_id=product_id or variant_id or "",
                provider_variant_id=variant_id or product_id or "",
                quantity=quantity,
                line_total=_money(total, currency, f"{here}.line_price")
                if total is not None
                else None,
                title=wire.text(item.get("title"), f"{here}.title"),
            )
        )
    return tuple(lines)


def _bag_currency(items: list[Mapping[str, Any]]) -> str | None:
    """Carts carry no currency of their own, only inside the money bags (B9)."""
    for item in items:
        bag = item.get("line_price_set") or item.get("price_set")
        if isinstance(bag, Mapping) and isinstance(bag.get("shop_money"), Mapping):
            code = bag["shop_money"].get("currency_code")
            if isinstance(code, str) and len(code) == 3:
                return code.upper()
    return None


def map_cart(cart: Mapping[str, Any], topic: str, store: StoreContext) -> Mapped:
    token = wire.ident(cart.get("token"), "$.token", required=False) or wire.ident(
        cart.get("id"), "$.id"
    )
    assert token is not None
    items = wire.objects(cart.get("line_items"), "$.line_items")
    currency = _bag_currency(items) or store.currency.upper()
    lines = _cart_lines(items, currency, "$.line_items")
    occurred = wire.timestamp(cart.get("updated_at"), "$.updated_at") or wire.timestamp(
        cart.get("created_at"), "$.created_at"
    )
    if occurred is None:
        raise Unmappable(f"cart {token} has no updated_at or created_at: it cannot be ordered")
    if not lines:
        kind: records.CartActivityType = "cart_cleared"
    else:
        kind = "cart_started" if topic == "carts/create" else "cart_updated"
    total = sum((line.line_total.minor for line in lines if line.line_total), 0)
    return Mapped(
        records=(
            records.CartActivity(
                event_id=f"shopify-cart:{token}:{occurred.isoformat()}:{_fingerprint(cart)}"[:200],
                type=kind,
                occurred_at=occurred,
                session_key=token,
                lines=lines,
                total=Money(total, currency) if lines else None,
                currency=currency,
            ),
        )
    )


def map_checkout(checkout: Mapping[str, Any], store: StoreContext) -> Mapped:
    token = wire.ident(checkout.get("token"), "$.token")
    assert token is not None
    if checkout.get("completed_at"):
        return Mapped(ignored=Ignored(f"checkout {token} is completed: its order ends the cart"))
    cart_token = wire.ident(checkout.get("cart_token"), "$.cart_token", required=False)
    currency = _currency(checkout.get("currency"), store)
    customer = checkout.get("customer")
    customer = wire.obj(customer, "$.customer") if customer is not None else {}
    email = usable_email(wire.text(checkout.get("email"), "$.email")) or usable_email(
        wire.text(customer.get("email"), "$.customer.email")
    )
    occurred = wire.timestamp(checkout.get("updated_at"), "$.updated_at") or wire.timestamp(
        checkout.get("created_at"), "$.created_at"
    )
    if occurred is None:
        raise Unmappable(f"checkout {token} has no updated_at or created_at")
    url = wire.text(checkout.get("abandoned_checkout_url"), "$.abandoned_checkout_url").strip()
    return Mapped(
        records=(
            records.CartActivity(
                event_id=f"shopify-checkout:{token}:{occurred.isoformat()}:{_fingerprint(checkout)}"[
                    :200
                ],
                type="checkout_started",
                occurred_at=occurred,
                session_key=cart_token or f"checkout:{token}",
                lines=_cart_lines(
                    wire.objects(checkout.get("line_items"), "$.line_items"),
                    currency,
                    "$.line_items",
                ),
                total=_money(checkout.get("total_price"), currency, "$.total_price")
                if checkout.get("total_price") is not None
                else None,
                currency=currency,
                email=email,
                provider_customer_id=wire.ident(
                    customer.get("id"), "$.customer.id", required=False
                ),
                checkout_url=url
                if url.startswith(("https://", "http://")) and len(url) <= 2000
                else None,
            ),
        )
    )


# --- privacy ----------------------------------------------------------------------------------


def _privacy_subject(payload: Mapping[str, Any], orders_key: str) -> records.DataRequest:
    """Who a privacy request is about (``request_id`` is filled in by the caller)."""
    customer = payload.get("customer")
    customer = wire.obj(customer, "$.customer") if customer is not None else {}
    email = wire.text(customer.get("email"), "$.customer.email").strip()
    phone = wire.text(customer.get("phone"), "$.customer.phone").strip()
    customer_id = wire.ident(customer.get("id"), "$.customer.id", required=False)
    orders = payload.get(orders_key) or []
    if not isinstance(orders, list):
        raise wire.invalid(f"$.{orders_key}", "expected an array of order ids")
    order_ids = tuple(
        i for n, o in enumerate(orders) if (i := wire.ident(o, f"$.{orders_key}[{n}]")) is not None
    )
    return records.DataRequest(
        request_id="",
        emails=(email,) if email else (),
        phones=(phone,) if phone else (),
        provider_customer_ids=(customer_id,) if customer_id else (),
        provider_order_ids=order_ids,
    )


def map_privacy(topic: str, payload: Mapping[str, Any]) -> Mapped:
    if topic == "shop/redact":
        return Mapped(records=(records.Erasure(scope="store"),))
    if topic == "customers/redact":
        who = _privacy_subject(payload, "orders_to_redact")
        erasure = records.Erasure(
            scope="customer",
            emails=who.emails,
            phones=who.phones,
            provider_customer_ids=who.provider_customer_ids,
            provider_order_ids=who.provider_order_ids,
        )
        return Mapped(records=(erasure,))
    request = payload.get("data_request")
    request_id = (
        wire.ident(wire.obj(request, "$.data_request").get("id"), "$.data_request.id")
        if request is not None
        else None
    )
    who = _privacy_subject(payload, "orders_requested")
    return Mapped(records=(attrs.evolve(who, request_id=request_id or _fingerprint(payload)),))
