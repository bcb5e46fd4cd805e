"""Talking to a shop's Admin API: the token exchange, GraphQL with cost-based throttling,
webhook registration, and the sync's cursor-paginated reads.

Plain ``urllib`` (no client library), bounded in time and size. GraphQL is rate limited
by query cost (a leaky bucket per app and shop): every answer reports
``extensions.cost.throttleStatus`` ``{maximumAvailable, currentlyAvailable, restoreRate}``.
A ``THROTTLED`` answer is retried after the time the bucket needs to hold the query's
cost again; before a query that would not fit in what is left, the client waits the
same way instead of being refused.

Sync reads products, customers and orders 50 per page (``pageInfo.endCursor``) and
turns each GraphQL node into the REST shape the webhook mapping already reads
(numeric ``legacyResourceId`` as ``id``, snake_case fields), so a synced order and a
webhook order are the same record.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from storeflow.providers.shopify import oauth

MAX_RESPONSE = 8 * 1024 * 1024
TIMEOUT = 20.0
MAX_THROTTLE_RETRIES = 5
PAGE_SIZE = 50


class ShopifyAPIError(Exception):
    """Shopify refused a call or answered something unusable (``status`` 0: no answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def _post(url: str, payload: dict[str, Any], headers: dict[str, str]) -> Any:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 (operator-set base or a validated *.myshopify.com)
            body = response.read(MAX_RESPONSE + 1)
    except urllib.error.HTTPError as exc:
        raise ShopifyAPIError(f"Shopify answered {exc.code} at {url}", exc.code) from None
    except (urllib.error.URLError, OSError) as exc:
        raise ShopifyAPIError(f"Shopify could not be reached at {url}: {exc}") from None
    if len(body) > MAX_RESPONSE:
        raise ShopifyAPIError(f"Shopify's answer at {url} is larger than {MAX_RESPONSE} bytes")
    try:
        return json.loads(body, parse_float=Decimal)
    except ValueError:
        raise ShopifyAPIError(f"Shopify's answer at {url} is not JSON") from None


def exchange_code(
    base_url: str, shop: str, *, api_key: str, api_secret: str, code: str
) -> tuple[str, str]:
    """Trade the authorization code for an offline access token: ``(token, scope)``."""
    answer = _post(
        f"{oauth.admin_base(base_url, shop)}/admin/oauth/access_token",
        {"client_id": api_key, "client_secret": api_secret, "code": code},
        {},
    )
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise ShopifyAPIError("Shopify's token answer has no access_token")
    scope = answer.get("scope")
    return token, scope if isinstance(scope, str) else ""


class AdminAPI:
    """GraphQL Admin API of one shop with one token."""

    def __init__(
        self,
        base_url: str,
        shop: str,
        token: str,
        version: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = f"{oauth.admin_base(base_url, shop)}/admin/api/{version}/graphql.json"
        self.token = token
        self.sleep = sleep
        self.available: float | None = None
        self.restore_rate = 50.0

    def query(self, text: str, variables: dict[str, Any] | None = None, cost: float = 10) -> Any:
        """The ``data`` of a query, waiting out the cost bucket when it runs low."""
        for _attempt in range(MAX_THROTTLE_RETRIES + 1):
            self._wait_for(cost)
            answer = _post(
                self.url,
                {"query": text, "variables": variables or {}},
                {"X-Shopify-Access-Token": self.token},
            )
            if not isinstance(answer, dict):
                raise ShopifyAPIError("Shopify's GraphQL answer is not an object")
            self._note_cost(answer)
            errors = answer.get("errors") or []
            if any(_code(e) == "THROTTLED" for e in errors):
                cost = max(cost, self._requested(answer))
                continue
            if errors:
                messages = "; ".join(
                    str(e.get("message", e)) for e in errors if isinstance(e, dict)
                )
                raise ShopifyAPIError(f"Shopify GraphQL errors: {messages or errors}")
            return answer.get("data") or {}
        raise ShopifyAPIError("Shopify kept throttling the query")

    def _wait_for(self, cost: float) -> None:
        if self.available is not None and self.available < cost:
            self.sleep((cost - self.available) / max(self.restore_rate, 1.0))
            self.available = cost

    def _note_cost(self, answer: dict[str, Any]) -> None:
        status = ((answer.get("extensions") or {}).get("cost") or {}).get("throttleStatus") or {}
        if "currentlyAvailable" in status:
            self.available = float(status["currentlyAvailable"])
        if status.get("restoreRate"):
            self.restore_rate = float(status["restoreRate"])

    @staticmethod
    def _requested(answer: dict[str, Any]) -> float:
        cost = (answer.get("extensions") or {}).get("cost") or {}
        return float(cost.get("requestedQueryCost") or 10)

    # --- webhooks ------------------------------------------------------------------------

    def register_webhooks(self, callback_url: str, topics: tuple[str, ...]) -> list[str]:
        """Subscribe ``callback_url`` to ``topics``; an existing subscription is fine.

        Returns the topics Shopify refused (with its message)."""
        refused = []
        for topic in topics:
            data = self.query(
                _WEBHOOK_CREATE,
                {
                    "topic": topic.upper().replace("/", "_"),
                    "sub": {"callbackUrl": callback_url, "format": "JSON"},
                },
            )
            errors = (data.get("webhookSubscriptionCreate") or {}).get("userErrors") or []
            real = [e for e in errors if "already been taken" not in str(e.get("message", ""))]
            if real:
                refused.append(f"{topic}: {real[0].get('message')}")
        return refused

    # --- sync ----------------------------------------------------------------------------

    def pages(self, resource: str) -> Iterator[tuple[list[dict[str, Any]], bool]]:
        """``(items in REST shape, is_last)`` page by page for products, customers, orders."""
        text, convert = _SYNC[resource]
        cursor: str | None = None
        while True:
            data = self.query(text, {"first": PAGE_SIZE, "after": cursor}, cost=PAGE_SIZE * 2)
            connection = data.get(resource) or {}
            nodes = connection.get("nodes") or []
            info = connection.get("pageInfo") or {}
            last = not info.get("hasNextPage")
            yield [convert(node) for node in nodes if isinstance(node, dict)], last
            if last:
                return
            cursor = info.get("endCursor")


def _code(error: Any) -> str:
    return (
        str(((error or {}).get("extensions") or {}).get("code", ""))
        if isinstance(error, dict)
        else ""
    )


_WEBHOOK_CREATE = """
mutation($topic: WebhookSubscriptionTopic!, $sub: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $sub) {
    webhookSubscription { id }
    userErrors { field message }
  }
}"""

_PRODUCTS = """
query($first: Int!, $after: String) {
  products(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes {
      legacyResourceId title handle status productType tags updatedAt
      featuredImage { url }
      variants(first: 100) { nodes {
        legacyResourceId title sku price inventoryQuantity inventoryPolicy
        inventoryItem { legacyResourceId }
      } }
    }
  }
}"""

_CUSTOMERS = """
query($first: Int!, $after: String) {
  customers(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes { legacyResourceId email firstName lastName createdAt updatedAt }
  }
}"""

_ORDERS = """
query($first: Int!, $after: String) {
  orders(first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    nodes {
      legacyResourceId name email createdAt processedAt updatedAt cancelledAt
      displayFinancialStatus displayFulfillmentStatus currencyCode
      totalPriceSet { shopMoney { amount } }
      customer { legacyResourceId email firstName lastName }
      lineItems(first: 100) { nodes {
        id title variantTitle sku quantity
        originalUnitPriceSet { shopMoney { amount } }
        totalDiscountSet { shopMoney { amount } }
        product { legacyResourceId } variant { legacyResourceId }
      } }
    }
  }
}"""


def _id(node: Any) -> Any:
    return (node or {}).get("legacyResourceId") if isinstance(node, dict) else None


def _amount(bag: Any) -> Any:
    return ((bag or {}).get("shopMoney") or {}).get("amount")


def _product(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": _id(node),
        "title": node.get("title"),
        "handle": node.get("handle"),
        "status": str(node.get("status") or "").lower() or None,
        "product_type": node.get("productType"),
        "tags": node.get("tags") or [],
        "updated_at": node.get("updatedAt"),
        "image": {"src": node["featuredImage"]["url"]} if node.get("featuredImage") else None,
        "variants": [
            {
                "id": _id(v),
                "title": v.get("title"),
                "sku": v.get("sku"),
                "price": v.get("price"),
                "inventory_quantity": v.get("inventoryQuantity"),
                "inventory_policy": str(v.get("inventoryPolicy") or "").lower() or None,
                "inventory_item_id": _id(v.get("inventoryItem")),
            }
            for v in ((node.get("variants") or {}).get("nodes") or [])
        ],
    }


def _customer(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": _id(node),
        "email": node.get("email"),
        "first_name": node.get("firstName"),
        "last_name": node.get("lastName"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
    }


def _order(node: dict[str, Any]) -> dict[str, Any]:
    customer = node.get("customer")
    fulfillment = str(node.get("displayFulfillmentStatus") or "").lower()
    return {
        "id": _id(node),
        "name": node.get("name"),
        "email": node.get("email"),
        "created_at": node.get("createdAt"),
        "processed_at": node.get("processedAt"),
        "updated_at": node.get("updatedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "financial_status": str(node.get("displayFinancialStatus") or "").lower() or None,
        "fulfillment_status": "fulfilled" if fulfillment == "fulfilled" else None,
        "currency": node.get("currencyCode"),
        "total_price": _amount(node.get("totalPriceSet")),
        "customer": _customer(customer) if isinstance(customer, dict) else None,
        "line_items": [
            {
                "id": str(item.get("id") or "").rsplit("/", 1)[-1] or None,
                "title": item.get("title"),
                "variant_title": item.get("variantTitle"),
                "sku": item.get("sku"),
                "quantity": item.get("quantity"),
                "price": _amount(item.get("originalUnitPriceSet")),
                "total_discount": _amount(item.get("totalDiscountSet")),
                "product_id": _id(item.get("product")),
                "variant_id": _id(item.get("variant")),
            }
            for item in ((node.get("lineItems") or {}).get("nodes") or [])
        ],
    }


_SYNC: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "products": (_PRODUCTS, _product),
    "customers": (_CUSTOMERS, _customer),
    "orders": (_ORDERS, _order),
}
