"""Realistic Shopify webhook bodies and headers for tests (wire-formats.md Part B and C).

Shaped after Shopify's own sample payloads: 18-digit ids beyond 2**53, money as decimal
strings (some with one decimal), timestamps with the shop's offset (carts: UTC with ms
and ``Z``), ``tags`` as a comma string, nullable fields as null, compact JSON. ``body``
can escape ``/`` as ``\\/`` the way some captured deliveries do, so a test can check both
forms verify and decode.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

SECRET = "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"
API_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
SHOP = "demo-store.myshopify.com"
API_VERSION = "2026-07"

CUSTOMER_ID = 706405506930370084
ORDER_ID = 820982911946154508
PRODUCT_ID = 788032119674292922
VARIANT_ID = 642667041472713922
VARIANT_2_ID = 757650484644203962
ITEM_ID = 271878346596884015
ITEM_2_ID = 271878346596884016
LOCATION_A = 24826418
LOCATION_B = 68811276503
CART_TOKEN = "eeafa272cebfd4b22385bc4b645e762c"
EMAIL = "bob.norman@mail.example.com"
PHONE = "+557734881234"


def dumps(payload: Any, *, escape_slashes: bool = False) -> bytes:
    """Compact JSON as Shopify sends it; optionally with ``\\/`` (seen in captures)."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    if escape_slashes:
        text = text.replace("/", "\\/")
    return text.encode("utf-8")


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def headers(
    topic: str,
    body: bytes,
    *,
    secret: str = SECRET,
    shop: str = SHOP,
    webhook_id: str | None = None,
    event_id: str | None = None,
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "Shopify-Captain-Hook",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-API-Version": API_VERSION,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": "2026-03-01T12:00:01.123456Z",
    }


def _money_bag(amount: str, currency: str = "USD") -> dict[str, Any]:
    money = {"amount": amount, "currency_code": currency}
    return {"shop_money": money, "presentment_money": dict(money)}


def address(**extra: Any) -> dict[str, Any]:
    return {
        "first_name": "Bob",
        "last_name": "Norman",
        "address1": "Chestnut Street 92",
        "address2": "",
        "city": "Louisville",
        "zip": "40202",
        "province": "Kentucky",
        "country": "United States",
        "country_code": "US",
        "province_code": "KY",
        "phone": "555-625-1199",
        "company": None,
        "latitude": 45.41634,
        "longitude": -75.6868,
        "name": "Bob Norman",
        **extra,
    }


def customer(**extra: Any) -> dict[str, Any]:
    return {
        "id": CUSTOMER_ID,
        "email": EMAIL,
        "created_at": "2026-02-27T10:00:00-05:00",
        "updated_at": "2026-03-01T07:00:00-05:00",
        "first_name": "Bob",
        "last_name": "Norman",
        "state": "enabled",
        "note": None,
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "phone": PHONE,
        "currency": "USD",
        "tax_exemptions": [],
        "admin_graphql_api_id": f"gid://shopify/Customer/{CUSTOMER_ID}",
        "addresses": [address(id=207119551, customer_id=CUSTOMER_ID, default=True)],
        "default_address": address(id=207119551, customer_id=CUSTOMER_ID, default=True),
        **extra,
    }


def line_item(**extra: Any) -> dict[str, Any]:
    return {
        "id": 866550311766439020,
        "admin_graphql_api_id": "gid://shopify/LineItem/866550311766439020",
        "product_id": PRODUCT_ID,
        "variant_id": VARIANT_ID,
        "title": "Example T-Shirt",
        "variant_title": "Small",
        "name": "Example T-Shirt - Small",
        "quantity": 2,
        "current_quantity": 2,
        "fulfillable_quantity": 2,
        "price": "19.99",
        "price_set": _money_bag("19.99"),
        "total_discount": "0.00",
        "total_discount_set": _money_bag("0.00"),
        "sku": "EX-TS-S",
        "vendor": "Acme",
        "grams": 200,
        "gift_card": False,
        "taxable": True,
        "requires_shipping": True,
        "product_exists": True,
        "fulfillment_service": "manual",
        "fulfillment_status": None,
        "variant_inventory_management": "shopify",
        "properties": [{"name": "Engraving", "value": "Happy Birthday"}],
        "tax_lines": [{"price": "2.40", "rate": 0.06, "title": "State Tax"}],
        "discount_allocations": [],
        "duties": [],
        "attributed_staffs": [],
        **extra,
    }


def order(**extra: Any) -> dict[str, Any]:
    return {
        "id": ORDER_ID,
        "admin_graphql_api_id": f"gid://shopify/Order/{ORDER_ID}",
        "name": "#1001",
        "order_number": 1001,
        "number": 1,
        "email": EMAIL,
        "contact_email": EMAIL,
        "phone": PHONE,
        "created_at": "2026-03-01T06:59:00-05:00",
        "updated_at": "2026-03-01T07:00:00-05:00",
        "processed_at": "2026-03-01T06:59:00-05:00",
        "cancelled_at": None,
        "closed_at": None,
        "cancel_reason": None,
        "currency": "USD",
        "presentment_currency": "USD",
        "total_price": "39.98",
        "subtotal_price": "39.98",
        "total_tax": "0.0",
        "total_discounts": "0.00",
        "total_price_set": _money_bag("39.98"),
        "financial_status": "paid",
        "fulfillment_status": None,
        "confirmed": True,
        "test": True,
        "taxes_included": False,
        "buyer_accepts_marketing": False,
        "token": "b1946ac92492d2347c6235b4d2611184",
        "cart_token": CART_TOKEN,
        "checkout_token": "123123123",
        "checkout_id": 901414060,
        "source_name": "web",
        "tags": "vip, repeat buyer",
        "note": None,
        "note_attributes": [{"name": "colour", "value": "green"}],
        "discount_codes": [],
        "tax_lines": [],
        "shipping_lines": [],
        "billing_address": address(),
        "shipping_address": address(),
        "customer": customer(),
        "line_items": [line_item()],
        "fulfillments": [],
        "refunds": [],
        "payment_gateway_names": ["bogus"],
        "client_details": {"browser_ip": "203.0.113.9", "user_agent": None},
        "browser_ip": "203.0.113.9",
        "order_status_url": f"https://{SHOP}/548380009/orders/b1946ac92492d2347c6235b4d2611184/authenticate?key=x",
        "total_weight": 400,
        **extra,
    }


def refund(amount: str = "19.99", **extra: Any) -> dict[str, Any]:
    return {
        "id": 890088186047892319,
        "order_id": ORDER_ID,
        "created_at": "2026-03-02T07:00:00-05:00",
        "processed_at": "2026-03-02T07:00:00-05:00",
        "note": "Things were damaged",
        "user_id": None,
        "restock": False,
        "refund_line_items": [
            {
                "id": 487817672276298554,
                "line_item_id": 866550311766439020,
                "quantity": 1,
                "location_id": None,
                "restock_type": "no_restock",
                "subtotal": 19.99,
                "total_tax": 0.0,
                "subtotal_set": _money_bag("19.99"),
                "line_item": line_item(),
            }
        ],
        "transactions": [
            {
                "id": 245135271310201,
                "order_id": ORDER_ID,
                "kind": "refund",
                "status": "success",
                "gateway": "bogus",
                "amount": amount,
                "currency": None,
                "message": "Refunded",
                "test": False,
                "parent_id": None,
                "receipt": {},
            }
        ],
        "order_adjustments": [],
        "duties": [],
        "admin_graphql_api_id": "gid://shopify/Refund/890088186047892319",
        **extra,
    }


def variant(
    variant_id: int = VARIANT_ID,
    item_id: int = ITEM_ID,
    quantity: int = 0,
    policy: str = "deny",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "id": variant_id,
        "product_id": PRODUCT_ID,
        "title": "Small",
        "price": "19.99",
        "compare_at_price": "24.99",
        "sku": "EX-TS-S",
        "barcode": None,
        "position": 1,
        "option1": "Small",
        "option2": None,
        "option3": None,
        "inventory_policy": policy,
        "inventory_item_id": item_id,
        "inventory_quantity": quantity,
        "old_inventory_quantity": quantity,
        "taxable": True,
        "image_id": None,
        "created_at": "2026-02-01T10:00:00-05:00",
        "updated_at": "2026-03-01T07:00:00-05:00",
        "admin_graphql_api_id": f"gid://shopify/ProductVariant/{variant_id}",
        **extra,
    }


def product(*variants: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": PRODUCT_ID,
        "admin_graphql_api_id": f"gid://shopify/Product/{PRODUCT_ID}",
        "title": "Example T-Shirt",
        "handle": "example-t-shirt",
        "vendor": "Acme",
        "product_type": "Shirts",
        "body_html": "<p>An example T-Shirt</p>",
        "status": "active",
        "published_at": "2026-02-01T10:00:00-05:00",
        "published_scope": "web",
        "template_suffix": None,
        "tags": "example, mens, t-shirt",
        "created_at": None,
        "updated_at": "2026-03-01T07:00:00-05:00",
        "variants": list(variants) or [variant()],
        "options": [
            {"id": 1, "product_id": PRODUCT_ID, "name": "Size", "position": 1, "values": ["Small"]}
        ],
        "images": [
            {
                "id": 1,
                "product_id": PRODUCT_ID,
                "position": 1,
                "alt": None,
                "width": 925,
                "height": 617,
                "src": "https://cdn.shopify.com/s/files/1/0005/4838/0009/products/tee.jpg",
                "variant_ids": [],
            }
        ],
        "image": {"src": "https://cdn.shopify.com/s/files/1/0005/4838/0009/products/tee.jpg"},
        "variant_gids": [],
        "has_variants_that_requires_components": False,
        "category": None,
        **extra,
    }


def inventory_level(
    available: int | None,
    *,
    item_id: int = ITEM_ID,
    location_id: int = LOCATION_A,
    updated_at: str = "2026-03-01T07:00:01-05:00",
) -> dict[str, Any]:
    return {
        "inventory_item_id": item_id,
        "location_id": location_id,
        "available": available,
        "updated_at": updated_at,
        "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location_id}?inventory_item_id={item_id}",
    }


def cart_line(quantity: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "id": VARIANT_ID,  # a cart line's id is its variant id (B9)
        "variant_id": VARIANT_ID,
        "product_id": PRODUCT_ID,
        "key": f"{VARIANT_ID}:33f11f7a1ec7d93b826de33bb54de37b",
        "quantity": quantity,
        "title": "Example T-Shirt - Small",
        "sku": "EX-TS-S",
        "vendor": "Acme",
        "grams": 200,
        "taxable": True,
        "gift_card": False,
        "price": "19.99",
        "original_price": "19.99",
        "discounted_price": "19.99",
        "line_price": f"{19.99 * quantity:.2f}",
        "original_line_price": f"{19.99 * quantity:.2f}",
        "total_discount": "0.0",
        "discounts": [],
        "properties": None,
        "price_set": _money_bag("19.99"),
        "line_price_set": _money_bag(f"{19.99 * quantity:.2f}"),
        "discounted_price_set": _money_bag("19.99"),
        "original_line_price_set": _money_bag("19.99"),
        "total_discount_set": _money_bag("0.0"),
        "parent_relationship": None,
        **extra,
    }


def cart(*lines: dict[str, Any], updated_at: str = "2026-03-01T12:00:00.000Z") -> dict[str, Any]:
    return {
        "id": CART_TOKEN,
        "token": CART_TOKEN,
        "line_items": list(lines),
        "note": None,
        "created_at": "2026-03-01T11:59:00.000Z",
        "updated_at": updated_at,
    }


def checkout(email: str | None = None, **extra: Any) -> dict[str, Any]:
    line = {
        "key": "139cb5712fb4c8d9957dcfad9a3028da",
        "product_id": PRODUCT_ID,
        "variant_id": VARIANT_ID,
        "title": "Example T-Shirt",
        "variant_title": "Small",
        "quantity": 1,
        "price": "19.99",
        "line_price": "19.99",
        "variant_price": "19.99",
        "compare_at_price": None,
        "sku": "EX-TS-S",
        "vendor": "Acme",
        "grams": 200,
        "requires_shipping": True,
        "taxable": True,
        "gift_card": False,
        "properties": None,
        "tax_lines": [{"price": "1.20", "rate": 0.06, "title": "State Tax"}],
        "applied_discounts": [],
        "discount_allocations": [],
    }
    return {
        "id": 981820079255243537,
        "token": "123123123",
        "cart_token": CART_TOKEN,
        "email": email,
        "phone": None,
        "buyer_accepts_marketing": False,
        "abandoned_checkout_url": f"https://{SHOP}/548380009/checkouts/123123123/recover?key=example-secret-token",
        "completed_at": None,
        "closed_at": None,
        "created_at": "2026-03-01T07:01:00-05:00",
        "updated_at": "2026-03-01T07:02:00-05:00",
        "currency": "USD",
        "presentment_currency": "USD",
        "total_price": "19.99",
        "subtotal_price": "19.99",
        "total_tax": "1.20",
        "total_discounts": "0.00",
        "total_line_items_price": "19.99",
        "total_weight": 200,
        "gateway": None,
        "line_items": [line],
        "shipping_lines": [],
        "tax_lines": [],
        "discount_codes": [],
        "note_attributes": [],
        "billing_address": address() if email else None,
        "shipping_address": address() if email else None,
        "customer": customer() if email else None,
        "name": "#981820079255243537",
        "source_name": "web",
        **extra,
    }


def shop_resource() -> dict[str, Any]:
    return {
        "id": 548380009,
        "name": "Demo Store",
        "email": "owner@demo-store.example.com",
        "domain": None,
        "myshopify_domain": None,
        "shop_owner": "Owner",
        "currency": "USD",
        "iana_timezone": "America/New_York",
        "plan_name": "basic",
    }


def data_request(request_id: int = 9999) -> dict[str, Any]:
    return {
        "shop_id": 548380009,
        "shop_domain": SHOP,
        "orders_requested": [ORDER_ID],
        "customer": {"id": CUSTOMER_ID, "email": EMAIL, "phone": PHONE},
        "data_request": {"id": request_id},
    }


def customers_redact() -> dict[str, Any]:
    return {
        "shop_id": 548380009,
        "shop_domain": SHOP,
        "customer": {"id": CUSTOMER_ID, "email": EMAIL, "phone": PHONE},
        "orders_to_redact": [ORDER_ID],
    }


def shop_redact() -> dict[str, Any]:
    return {"shop_id": 548380009, "shop_domain": SHOP}
