"""Sample WooCommerce payloads and webhook deliveries, as a real store sends them.

The plugin simulator (``storeflow simulate woocommerce``) and the demo store
(``storeflow demo``) send these; the tests build on them too.

Builders return plain dicts shaped like the REST v3 objects WooCommerce puts in a
webhook body (wire-formats.md A8-A10): every field a real store sends, ``_links``
included, JSON types as PHP produces them (ids are ints, order money is strings
formatted with the currency's decimals, ``line_items[].price`` is a number, refunds
are negative). Keyword arguments override the usual fields; ``**extra`` replaces or
adds top-level keys last, for anything else.

``php_json`` encodes like ``wp_json_encode`` (compact, ``\\/``, ``\\uXXXX``, empty
objects as ``[]``) so what is signed is the bytes a store would really send.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from storeflow import money
from storeflow.providers.woocommerce import signature

STORE_URL = "https://shop.example.com/"
WC_VERSION = "9.8.1"
USER_AGENT = f"WooCommerce/{WC_VERSION} Hookshot (WordPress/6.8.3)"
DATE_GMT = "2025-03-02T09:15:04"
UTC_OFFSET_HOURS = 1  # the demo store is in Europe/Paris in winter

# --- encoding ----------------------------------------------------------------------


def _php_shape(value: Any) -> Any:
    """What ``json_decode(..., true)`` then ``json_encode`` does to a value."""
    if isinstance(value, dict):
        if not value:
            return []  # an empty PHP array is a list to json_encode
        return {str(key): _php_shape(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_php_shape(item) for item in value]
    if isinstance(value, Decimal):
        # PHP numbers are ints or doubles; keep integral values integral.
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def php_json(obj: Any) -> bytes:
    """Bytes like PHP's ``wp_json_encode($obj)``: compact, ``/`` as ``\\/``, ASCII only.

    ``/`` only ever occurs inside JSON strings, so replacing it everywhere is safe.
    Python and PHP (>= 7.1) both print floats in shortest round-trip form.
    """
    text = json.dumps(_php_shape(obj), separators=(",", ":"), ensure_ascii=True)
    return text.replace("/", "\\/").encode("ascii")


# --- small helpers -----------------------------------------------------------------


def _amount(value: str | int | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def wc_format_decimal(value: str | int | Decimal, currency: str) -> str:
    """An amount as the store prints it: the currency's decimals (``"18000"`` for CLP)."""
    places = money.exponent(currency)
    quantized = _amount(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return money.format_minor(int(quantized.scaleb(places)), currency)


def php_line_price(total: str, quantity: int) -> int | float:
    """``line_items[].price`` = ``get_total() / get_quantity()`` evaluated by PHP.

    An exact division of an integral total stays an int (``3``); otherwise PHP
    divides doubles (``3.3333333333333335``). Zero quantity gives ``0``.
    """
    if quantity == 0:
        return 0
    amount = Decimal(total)
    if amount == amount.to_integral_value() and int(amount) % quantity == 0:
        return int(amount) // quantity
    return float(amount) / quantity


def _local(gmt: str | None, offset_hours: int = UTC_OFFSET_HOURS) -> str | None:
    """The site-local twin of a ``*_gmt`` date (no suffix either)."""
    if gmt is None:
        return None
    moment = datetime.fromisoformat(gmt) + timedelta(hours=offset_hours)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _later(gmt: str, minutes: int) -> str:
    return (datetime.fromisoformat(gmt) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S")


def _api(store_url: str, path: str) -> list[dict[str, str]]:
    return [{"href": f"{store_url}wp-json/wc/v3/{path}"}]


def _address(
    first_name: str,
    last_name: str,
    *,
    email: str | None = None,
    company: str = "",
    phone: str = "(555) 555-5555",
) -> dict[str, Any]:
    address: dict[str, Any] = {
        "first_name": first_name,
        "last_name": last_name,
        "company": company,
        "address_1": "969 Market",
        "address_2": "",
        "city": "San Francisco",
        "state": "CA",
        "postcode": "94103",
        "country": "US",
    }
    if email is not None:
        address["email"] = email
    address["phone"] = phone
    return address


# --- orders ------------------------------------------------------------------------


def line_item(
    *,
    id: int = 315,
    name: str | None = None,
    product_id: int = 93,
    variation_id: int = 0,
    quantity: int = 2,
    unit_price: str | int | Decimal = "12.50",
    total: str | None = None,
    subtotal: str | None = None,
    currency: str = "USD",
    sku: str | None = "MUG-1",
    parent_name: str | None = None,
    attributes: Sequence[tuple[str, str, str]] = (),
    image_src: str = "",
    tax_rate_percent: str | Decimal = "0",
    tax_rate_id: int = 75,
) -> dict[str, Any]:
    """One ``line_items[]`` entry; ``attributes`` are ``(key, display_key, display_value)``.

    For a variation pass ``variation_id``, ``parent_name`` and attributes such as
    ``[("pa_color", "Color", "Blue")]``: the name becomes "Hoodie - Blue".
    """
    line_total = total or wc_format_decimal(_amount(unit_price) * quantity, currency)
    line_subtotal = subtotal or line_total
    tax = wc_format_decimal(Decimal(line_total) * _amount(tax_rate_percent) / 100, currency)
    has_tax = Decimal(tax) != 0
    if name is None and parent_name is not None:
        # WooCommerce names a variation's line "Hoodie - Blue, Large".
        name = f"{parent_name} - {', '.join(value for _, _, value in attributes)}"
    elif name is None:
        name = "Caf\u00e9 Mug"
    meta = [
        {
            "id": 2095 + index,
            "key": key,
            "value": value.lower().replace(" ", "-") if key.startswith("pa_") else value,
            "display_key": display_key,
            "display_value": value,
        }
        for index, (key, display_key, value) in enumerate(attributes)
    ]
    return {
        "id": id,
        "name": name,
        "product_id": product_id,
        "variation_id": variation_id,
        "quantity": quantity,
        "tax_class": "",
        "subtotal": line_subtotal,
        "subtotal_tax": tax,
        "total": line_total,
        "total_tax": tax,
        "taxes": [{"id": tax_rate_id, "total": tax, "subtotal": tax}] if has_tax else [],
        "meta_data": meta,
        "sku": sku,
        "global_unique_id": "",
        "price": php_line_price(line_total, quantity),
        "image": {"id": 801 if image_src else 0, "src": image_src},
        "parent_name": parent_name,
    }


def variation_line_item(**overrides: Any) -> dict[str, Any]:
    """A line for "Hoodie - Blue, Large" (parent 732, variation 733)."""
    values: dict[str, Any] = {
        "id": 316,
        "product_id": 732,
        "variation_id": 733,
        "quantity": 1,
        "unit_price": "45.00",
        "sku": "HOODIE-BLUE-L",
        "parent_name": "Hoodie",
        "attributes": [("pa_color", "Color", "Blue"), ("pa_size", "Size", "Large")],
        "image_src": "https://shop.example.com/wp-content/uploads/2025/01/hoodie-blue.jpg",
    }
    values.update(overrides)
    return line_item(**values)


def order(
    *,
    id: int = 727,
    number: str | None = None,
    status: str = "processing",
    currency: str = "USD",
    customer_id: int = 25,
    email: str | None = "john.doe@example.com",
    first_name: str = "John",
    last_name: str = "Doe",
    line_items: list[dict[str, Any]] | None = None,
    shipping_total: str | None = None,
    tax_rate_percent: str | Decimal = "0",
    total: str | None = None,
    refunds: Iterable[dict[str, Any]] = (),
    date_created_gmt: str = DATE_GMT,
    date_modified_gmt: str | None = None,
    date_paid_gmt: str | None = None,
    store_url: str = STORE_URL,
    created_via: str = "checkout",
    **extra: Any,
) -> dict[str, Any]:
    """A full v3 order as ``order.created``/``order.updated`` carries it.

    Totals are computed from the line items, shipping and tax unless given;
    ``line_items`` defaults to a simple mug and a hoodie variation.
    """
    if line_items is None:
        line_items = [
            line_item(currency=currency, tax_rate_percent=tax_rate_percent),
            variation_line_item(currency=currency, tax_rate_percent=tax_rate_percent),
        ]
    shipping = shipping_total if shipping_total is not None else wc_format_decimal("5", currency)
    shipping_tax = wc_format_decimal(Decimal(shipping) * _amount(tax_rate_percent) / 100, currency)
    cart_tax = sum((Decimal(item["total_tax"]) for item in line_items), Decimal(0))
    total_tax = cart_tax + Decimal(shipping_tax)
    items_total = sum((Decimal(item["total"]) for item in line_items), Decimal(0))
    discount = sum(
        (Decimal(item["subtotal"]) - Decimal(item["total"]) for item in line_items), Decimal(0)
    )
    order_total = total or wc_format_decimal(items_total + Decimal(shipping) + total_tax, currency)
    modified_gmt = date_modified_gmt or _later(date_created_gmt, 2)
    paid_gmt = date_paid_gmt
    if paid_gmt is None and status in ("processing", "completed", "refunded"):
        paid_gmt = _later(date_created_gmt, 1)
    completed_gmt = _later(date_created_gmt, 60) if status == "completed" else None
    order_key = "wc_order_" + hashlib.md5(str(id).encode()).hexdigest()[:13]
    links: dict[str, Any] = {
        "self": _api(store_url, f"orders/{id}"),
        "collection": _api(store_url, "orders"),
    }
    if customer_id:
        links["customer"] = _api(store_url, f"customers/{customer_id}")
    zero = wc_format_decimal("0", currency)
    payload: dict[str, Any] = {
        "id": id,
        "parent_id": 0,
        "status": status,
        "currency": currency,
        "version": WC_VERSION,
        "prices_include_tax": False,
        "date_created": _local(date_created_gmt),
        "date_modified": _local(modified_gmt),
        "discount_total": wc_format_decimal(discount, currency),
        "discount_tax": zero,
        "shipping_total": shipping,
        "shipping_tax": shipping_tax,
        "cart_tax": wc_format_decimal(cart_tax, currency),
        "total": order_total,
        "total_tax": wc_format_decimal(total_tax, currency),
        "customer_id": customer_id,
        "order_key": order_key,
        "billing": _address(first_name, last_name, email=email),
        "shipping": _address(first_name, last_name, phone=""),
        "payment_method": "stripe",
        "payment_method_title": "Credit Card (Stripe)",
        "transaction_id": "ch_3PqzXb2eZvKYlo2C0f1a2b3c" if paid_gmt else "",
        "customer_ip_address": "203.0.113.7" if created_via == "checkout" else "",
        "customer_user_agent": (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Safari/605.1.15"
            if created_via == "checkout"
            else ""
        ),
        "created_via": created_via,
        "customer_note": "",
        "date_completed": _local(completed_gmt),
        "date_paid": _local(paid_gmt),
        "cart_hash": hashlib.md5(f"cart-{id}".encode()).hexdigest(),
        "number": number if number is not None else str(id),
        "meta_data": [
            {"id": 13106, "key": "_download_permissions_granted", "value": "yes"},
            {"id": 13109, "key": "is_vat_exempt", "value": "no"},
        ],
        "line_items": line_items,
        "tax_lines": (
            [
                {
                    "id": 318,
                    "rate_code": "US-CA-STATE TAX",
                    "rate_id": 75,
                    "label": "State Tax",
                    "compound": False,
                    "tax_total": wc_format_decimal(cart_tax, currency),
                    "shipping_tax_total": shipping_tax,
                    "rate_percent": float(_amount(tax_rate_percent)),
                    "meta_data": [],
                }
            ]
            if total_tax
            else []
        ),
        "shipping_lines": [
            {
                "id": 317,
                "method_title": "Flat rate",
                "method_id": "flat_rate",
                "instance_id": "3",
                "total": shipping,
                "total_tax": shipping_tax,
                "taxes": [],
                "tax_status": "taxable",
                "meta_data": [
                    {
                        "id": 2110,
                        "key": "Items",
                        "value": ", ".join(
                            f"{item['name']} &times; {item['quantity']}" for item in line_items
                        ),
                        "display_key": "Items",
                        "display_value": ", ".join(
                            f"{item['name']} &times; {item['quantity']}" for item in line_items
                        ),
                    }
                ],
            }
        ],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": list(refunds),
        "payment_url": f"{store_url}checkout/order-pay/{id}/?pay_for_order=true&key={order_key}",
        "is_editable": status in ("pending", "on-hold", "checkout-draft"),
        "needs_payment": status in ("pending", "failed"),
        "needs_processing": True,
        "date_created_gmt": date_created_gmt,
        "date_modified_gmt": modified_gmt,
        "date_completed_gmt": completed_gmt,
        "date_paid_gmt": paid_gmt,
        "currency_symbol": {"USD": "$", "EUR": "\u20ac", "CLP": "$", "KWD": "KD"}.get(
            currency, currency
        ),
        "_links": links,
    }
    payload.update(extra)
    return payload


def guest_order(
    *,
    id: int = 1201,
    email: str = "ana@example.com",
    first_name: str = "Ana",
    last_name: str = "Garc\u00eda",
    **overrides: Any,
) -> dict[str, Any]:
    """A storefront order by a buyer without an account: ``customer_id: 0``."""
    return order(
        id=id,
        customer_id=0,
        email=email,
        first_name=first_name,
        last_name=last_name,
        **overrides,
    )


# --- products ----------------------------------------------------------------------


def _image(image_id: int, src: str, when: str, name: str = "") -> dict[str, Any]:
    return {
        "id": image_id,
        "date_created": _local(when),
        "date_created_gmt": when,
        "date_modified": _local(when),
        "date_modified_gmt": when,
        "src": src,
        "name": name,
        "alt": "",
    }


def _product_base(
    *,
    id: int,
    name: str,
    slug: str,
    type: str,
    price: str,
    regular_price: str,
    sale_price: str,
    sku: str,
    manage_stock: bool | str,
    stock_quantity: int | None,
    stock_status: str,
    status: str,
    date_created_gmt: str,
    date_modified_gmt: str | None,
    permalink: str,
    store_url: str,
) -> dict[str, Any]:
    modified_gmt = date_modified_gmt or _later(date_created_gmt, 30)
    return {
        "id": id,
        "name": name,
        "slug": slug,
        "permalink": permalink,
        "date_created": _local(date_created_gmt),
        "date_created_gmt": date_created_gmt,
        "date_modified": _local(modified_gmt),
        "date_modified_gmt": modified_gmt,
        "type": type,
        "status": status,
        "featured": False,
        "catalog_visibility": "visible",
        "description": f"<p>{name}: made to last.</p>\n",
        "short_description": "",
        "sku": sku,
        "global_unique_id": "",
        "price": price,
        "regular_price": regular_price,
        "sale_price": sale_price,
        "date_on_sale_from": None,
        "date_on_sale_from_gmt": None,
        "date_on_sale_to": None,
        "date_on_sale_to_gmt": None,
        "on_sale": sale_price != "",
        "purchasable": price != "",
        "total_sales": 0,
        "virtual": False,
        "downloadable": False,
        "downloads": [],
        "download_limit": -1,
        "download_expiry": -1,
        "external_url": "",
        "button_text": "",
        "tax_status": "taxable",
        "tax_class": "",
        "manage_stock": manage_stock,
        "stock_quantity": stock_quantity,
        "backorders": "no",
        "backorders_allowed": False,
        "backordered": False,
        "low_stock_amount": None,
        "sold_individually": False,
        "weight": "",
        "dimensions": {"length": "", "width": "", "height": ""},
        "shipping_required": True,
        "shipping_taxable": True,
        "shipping_class": "",
        "shipping_class_id": 0,
        "reviews_allowed": True,
        "average_rating": "0.00",
        "rating_count": 0,
        "upsell_ids": [],
        "cross_sell_ids": [],
        "parent_id": 0,
        "purchase_note": "",
        "categories": [],
        "tags": [],
        "brands": [],
        "images": [],
        "attributes": [],
        "default_attributes": [],
        "variations": [],
        "grouped_products": [],
        "menu_order": 0,
        "price_html": (
            f'<span class="woocommerce-Price-amount amount"><bdi>{price}</bdi></span>'
            if price
            else ""
        ),
        "related_ids": [53, 40, 56],
        "meta_data": [],
        "stock_status": stock_status,
        "has_options": type == "variable",
        "post_password": "",
        "_links": {
            "self": _api(store_url, f"products/{id}"),
            "collection": _api(store_url, "products"),
        },
    }


def product_simple(
    *,
    id: int = 794,
    name: str = "Premium Quality",
    slug: str | None = None,
    price: str = "21.99",
    regular_price: str | None = None,
    sale_price: str = "",
    sku: str = "PQ-001",
    manage_stock: bool = True,
    stock_quantity: int | None = 12,
    stock_status: str = "instock",
    status: str = "publish",
    categories: Sequence[str] = ("Clothing",),
    image_srcs: Sequence[str] = (
        "https://shop.example.com/wp-content/uploads/2025/01/T_2_front.jpg",
    ),
    date_created_gmt: str = "2025-01-10T08:00:00",
    date_modified_gmt: str | None = None,
    store_url: str = STORE_URL,
    **extra: Any,
) -> dict[str, Any]:
    slug = slug or name.lower().replace(" ", "-")
    payload = _product_base(
        id=id,
        name=name,
        slug=slug,
        type="simple",
        price=price,
        regular_price=price if regular_price is None else regular_price,
        sale_price=sale_price,
        sku=sku,
        manage_stock=manage_stock,
        stock_quantity=stock_quantity if manage_stock else None,
        stock_status=stock_status,
        status=status,
        date_created_gmt=date_created_gmt,
        date_modified_gmt=date_modified_gmt,
        permalink=f"{store_url}product/{slug}/",
        store_url=store_url,
    )
    payload["categories"] = [
        {"id": 9 + index, "name": category, "slug": category.lower().replace(" ", "-")}
        for index, category in enumerate(categories)
    ]
    payload["images"] = [
        _image(795 + index, src, date_created_gmt) for index, src in enumerate(image_srcs)
    ]
    payload.update(extra)
    return payload


def product_variable(
    *,
    id: int = 732,
    name: str = "Hoodie",
    price: str = "42.00",
    variation_ids: Sequence[int] = (733, 734),
    colors: Sequence[str] = ("Blue", "Green"),
    sizes: Sequence[str] = ("Medium", "Large"),
    stock_status: str = "instock",
    categories: Sequence[str] = ("Clothing", "Hoodies"),
    date_created_gmt: str = "2025-01-12T08:00:00",
    date_modified_gmt: str | None = None,
    store_url: str = STORE_URL,
    **extra: Any,
) -> dict[str, Any]:
    """A variable product: ``price`` is the cheapest variation's, ``regular_price`` is ""."""
    slug = name.lower().replace(" ", "-")
    payload = _product_base(
        id=id,
        name=name,
        slug=slug,
        type="variable",
        price=price,
        regular_price="",
        sale_price="",
        sku="HOODIE",
        manage_stock=False,
        stock_quantity=None,
        stock_status=stock_status,
        status="publish",
        date_created_gmt=date_created_gmt,
        date_modified_gmt=date_modified_gmt,
        permalink=f"{store_url}product/{slug}/",
        store_url=store_url,
    )
    payload["categories"] = [
        {"id": 9 + index, "name": category, "slug": category.lower()}
        for index, category in enumerate(categories)
    ]
    payload["images"] = [
        _image(
            796,
            "https://shop.example.com/wp-content/uploads/2025/01/hoodie-2.jpg",
            date_created_gmt,
        )
    ]
    payload["attributes"] = [
        {
            "id": 6,
            "name": "Color",
            "slug": "pa_color",
            "position": 0,
            "visible": False,
            "variation": True,
            "options": list(colors),
        },
        {
            "id": 7,
            "name": "Size",
            "slug": "pa_size",
            "position": 1,
            "visible": True,
            "variation": True,
            "options": list(sizes),
        },
    ]
    payload["default_attributes"] = [{"id": 6, "name": "Color", "option": colors[0].lower()}]
    payload["variations"] = list(variation_ids)
    payload.update(extra)
    return payload


def variation(
    *,
    id: int = 733,
    parent_id: int = 732,
    parent_name: str = "Hoodie",
    options: Sequence[tuple[str, str]] = (("Color", "Blue"), ("Size", "Large")),
    price: str = "45.00",
    sku: str = "HOODIE-BLUE-L",
    manage_stock: bool | str = "parent",
    stock_quantity: int | None = 7,
    stock_status: str = "instock",
    image_src: str | None = "https://shop.example.com/wp-content/uploads/2025/01/hoodie-blue.jpg",
    date_created_gmt: str = "2025-01-12T08:05:00",
    date_modified_gmt: str | None = None,
    store_url: str = STORE_URL,
    **extra: Any,
) -> dict[str, Any]:
    """A variation as ``product.updated`` sends it: ``type: "variation"``, ``parent_id``.

    No categories or tags (issue #36401), ``attributes`` in the ``{id,name,slug,option}``
    form, ``manage_stock`` may be the string ``"parent"`` (then ``stock_quantity`` is
    the parent's), and an ``up`` link to the parent.
    """
    name = f"{parent_name} - {', '.join(value for _, value in options)}"
    slug_base = parent_name.lower().replace(" ", "-")
    query = "&".join(
        f"attribute_pa_{label.lower()}={value.lower().replace(' ', '-')}"
        for label, value in options
    )
    payload = _product_base(
        id=id,
        name=name,
        slug="",
        type="variation",
        price=price,
        regular_price=price,
        sale_price="",
        sku=sku,
        manage_stock=manage_stock,
        stock_quantity=stock_quantity,
        stock_status=stock_status,
        status="publish",
        date_created_gmt=date_created_gmt,
        date_modified_gmt=date_modified_gmt,
        permalink=f"{store_url}product/{slug_base}/?{query}",
        store_url=store_url,
    )
    payload["parent_id"] = parent_id
    payload["attributes"] = [
        {"id": 6 + index, "name": label, "slug": f"pa_{label.lower()}", "option": value}
        for index, (label, value) in enumerate(options)
    ]
    payload["images"] = [_image(id + 100, image_src, date_created_gmt)] if image_src else []
    payload["related_ids"] = []
    payload["_links"]["up"] = _api(store_url, f"products/{parent_id}")
    payload.update(extra)
    return payload


# --- customers ---------------------------------------------------------------------


def customer(
    *,
    id: int = 25,
    email: str = "john.doe@example.com",
    first_name: str = "John",
    last_name: str = "Doe",
    username: str | None = None,
    date_created_gmt: str = "2025-02-21T16:09:28",
    date_modified_gmt: str | None = "2025-02-21T16:12:03",
    billing_email: str | None = None,
    store_url: str = STORE_URL,
    **extra: Any,
) -> dict[str, Any]:
    """A v3 customer (no ``orders_count``/``total_spent``: those are v1/v2 only)."""
    digest = hashlib.md5(email.strip().lower().encode()).hexdigest()
    payload: dict[str, Any] = {
        "id": id,
        "date_created": _local(date_created_gmt),
        "date_created_gmt": date_created_gmt,
        "date_modified": _local(date_modified_gmt),
        "date_modified_gmt": date_modified_gmt,
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "role": "customer",
        "username": username if username is not None else email.split("@")[0],
        "billing": _address(
            first_name, last_name, email=email if billing_email is None else billing_email
        ),
        "shipping": _address(first_name, last_name, phone=""),
        "is_paying_customer": False,
        "avatar_url": f"https://secure.gravatar.com/avatar/{digest}?s=96&d=mm&r=g",
        "meta_data": [],
        "_links": {
            "self": _api(store_url, f"customers/{id}"),
            "collection": _api(store_url, "customers"),
        },
    }
    payload.update(extra)
    return payload


# --- requests ----------------------------------------------------------------------


def delivery_id(webhook_id: int, now: float | None = None) -> str:
    """Like ``wp_hash($webhook_id . time())``: 32 hex chars, repeated within a second."""
    second = int(time.time() if now is None else now)
    return hashlib.md5(f"{webhook_id}{second}".encode()).hexdigest()


def webhook_headers(
    topic: str,
    body: bytes,
    secret: str,
    source: str = STORE_URL,
    webhook_id: int = 3,
    *,
    delivery: str | None = None,
) -> dict[str, str]:
    """The headers of a real delivery, in WooCommerce's casing, signed over ``body``."""
    resource, _, event = topic.partition(".")
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-WC-Webhook-Source": source,
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": signature.sign(body, secret),
        "X-WC-Webhook-ID": str(webhook_id),
        "X-WC-Webhook-Delivery-ID": delivery or delivery_id(webhook_id),
    }
