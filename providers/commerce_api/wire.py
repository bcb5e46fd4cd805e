"""The Commerce API's JSON bodies: decode and validate, with a path for every problem.

Validation collects every problem of a body (``$.products[3].priceCents: ...``) so
that a store's developer fixes a push in one round trip. Amounts are integer minor
units (``priceCents``, ``totalCents``): a float, a string or a bool is refused,
never rounded.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storeflow import ValidationFailed, parse_json, usable_email

ORDER_STATUSES = ("placed", "cancelled", "fulfilled", "refunded")
MAX_PRODUCTS = 100
MAX_CENTS = 2**63 - 1
MAX_QUANTITY = 2**31 - 1


def loads(body: bytes) -> Any:
    """Strict JSON (``storeflow.parse_json``); numbers with a fraction as ``Decimal``."""
    return parse_json(body, decimals=True)


class Problems:
    """Collects ``{path, message}`` pairs; :meth:`raise_any` turns them into a 422."""

    def __init__(self) -> None:
        self.details: list[dict[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.details.append({"path": path, "message": message})

    def raise_any(self, what: str) -> None:
        if self.details:
            first = self.details[0]
            raise ValidationFailed(
                f"the {what} is not valid: {first['path']}: {first['message']}",
                details=self.details[:50],
            )

    def object(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.add(path, "must be an object")
            return {}
        return value

    def string(
        self, data: dict[str, Any], key: str, path: str, *, required: bool = False, size: int = 500
    ) -> None:
        if key not in data or data[key] is None:
            if required:
                self.add(f"{path}.{key}", "is required")
            return
        value = data[key]
        if not isinstance(value, str) or (required and not value.strip()):
            self.add(
                f"{path}.{key}", "must be a non-empty string" if required else "must be a string"
            )
        elif len(value) > size:
            self.add(f"{path}.{key}", f"must be at most {size} characters")

    def integer(
        self,
        data: dict[str, Any],
        key: str,
        path: str,
        *,
        required: bool = False,
        low: int = 0,
        high: int = MAX_CENTS,
    ) -> None:
        if key not in data or data[key] is None:
            if required:
                self.add(f"{path}.{key}", "is required")
            return
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(f"{path}.{key}", "must be an integer (minor units: 1999 for 19.99)")
        elif not low <= value <= high:
            self.add(f"{path}.{key}", f"must be between {low} and {high}")

    def boolean(self, data: dict[str, Any], key: str, path: str) -> None:
        if data.get(key) is not None and not isinstance(data[key], bool):
            self.add(f"{path}.{key}", "must be true or false")

    def currency(
        self, data: dict[str, Any], key: str, path: str, *, required: bool = False
    ) -> None:
        value = data.get(key)
        if value is None:
            if required:
                self.add(f"{path}.{key}", "is required")
            return
        if not (isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha()):
            self.add(f"{path}.{key}", "must be an ISO 4217 code, like EUR")

    def customer(self, data: dict[str, Any], path: str) -> None:
        if "customer" not in data:
            self.add(f"{path}.customer", "is required")
            return
        customer = self.object(data["customer"], f"{path}.customer")
        email = customer.get("email")
        if not isinstance(email, str) or usable_email(email) is None:
            self.add(f"{path}.customer.email", "must be an email address")
        for key in ("externalId", "firstName", "lastName"):
            self.string(customer, key, f"{path}.customer", size=200)
        if customer.get("attributes") is not None and not isinstance(customer["attributes"], dict):
            self.add(f"{path}.customer.attributes", "must be an object")


def check_products(data: Any) -> list[dict[str, Any]]:
    """The ``products`` of ``POST /api/v1/products``, validated."""
    problems = Problems()
    body = problems.object(data, "$")
    items = body.get("products")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_PRODUCTS:
        problems.add("$.products", f"must be a list of 1 to {MAX_PRODUCTS} products")
        problems.raise_any("products push")
    assert isinstance(items, list)
    for index, item in enumerate(items):
        check_product(problems, item, f"$.products[{index}]")
    problems.raise_any("products push")
    return items


def check_product(problems: Problems, item: Any, path: str) -> None:
    product = problems.object(item, path)
    if not product:
        return
    problems.string(product, "productId", path, required=True, size=64)
    problems.string(product, "title", path, size=500)
    for key in ("description", "imageUrl", "url"):
        problems.string(product, key, path, size=5000 if key == "description" else 1000)
    problems.integer(product, "priceCents", path)
    problems.integer(product, "compareAtPriceCents", path)
    problems.currency(product, "currency", path)
    problems.boolean(product, "inStock", path)
    problems.string(product, "providerCreatedAt", path, size=40)
    variants = product.get("variants")
    if variants is None:
        return
    if not isinstance(variants, list) or len(variants) > MAX_PRODUCTS:
        problems.add(f"{path}.variants", f"must be a list of at most {MAX_PRODUCTS} variants")
        return
    for index, variant in enumerate(variants):
        where = f"{path}.variants[{index}]"
        value = problems.object(variant, where)
        if not value:
            continue
        problems.string(value, "variantId", where, required=True, size=64)
        problems.string(value, "title", where, size=500)
        problems.integer(value, "priceCents", where)
        problems.boolean(value, "inStock", where)
        problems.integer(value, "inventoryQuantity", where, low=-MAX_QUANTITY, high=MAX_QUANTITY)
        problems.string(value, "sku", where, size=200)
        problems.string(value, "imageUrl", where, size=1000)


def check_order(data: Any) -> dict[str, Any]:
    """The body of ``POST /api/v1/orders``, validated."""
    problems = Problems()
    order = problems.object(data, "$")
    problems.string(order, "orderId", "$", required=True, size=64)
    problems.string(order, "orderNumber", "$", size=64)
    status = order.get("status", "placed")
    if status not in ORDER_STATUSES:
        problems.add("$.status", f"must be one of {', '.join(ORDER_STATUSES)}")
    problems.integer(order, "totalCents", "$", required=True)
    problems.currency(order, "currency", "$", required=True)
    problems.string(order, "orderedAt", "$", size=40)
    problems.string(order, "updatedAt", "$", size=40)
    problems.integer(order, "refundAmountCents", "$")
    problems.customer(order, "$")
    items = order.get("items")
    if not isinstance(items, list) or len(items) > 1000:
        problems.add("$.items", "must be a list of at most 1000 items")
        items = []
    for index, item in enumerate(items):
        where = f"$.items[{index}]"
        line = problems.object(item, where)
        if not line:
            continue
        problems.string(line, "productId", where, required=True, size=64)
        problems.string(line, "variantId", where, size=64)
        problems.string(line, "title", where, required=True, size=500)
        problems.string(line, "variantTitle", where, size=500)
        problems.integer(line, "quantity", where, required=True, low=1, high=MAX_QUANTITY)
        problems.integer(line, "priceCents", where)
        problems.string(line, "sku", where, size=200)
    totals = order.get("customerTotals")
    if totals is not None:
        value = problems.object(totals, "$.customerTotals")
        problems.integer(value, "ordersCount", "$.customerTotals", required=True, high=MAX_QUANTITY)
        problems.integer(value, "totalSpentCents", "$.customerTotals", required=True)
    if order.get("properties") is not None and not isinstance(order["properties"], dict):
        problems.add("$.properties", "must be an object")
    for key in ("orderedAt", "updatedAt"):
        if isinstance(order.get(key), str) and parse_time(order[key]) is None:
            problems.add(f"$.{key}", "must be an ISO 8601 time with a UTC offset")
    problems.raise_any("order")
    return order


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
