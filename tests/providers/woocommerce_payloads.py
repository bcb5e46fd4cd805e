"""WooCommerce payloads for tests: the product's samples plus what only tests send.

``storeflow.providers.woocommerce.samples`` builds orders, products, customers and
signed deliveries (the simulator and the demo send those); this module re-exports
them and adds refunds, deletions, REST errors, ``WebhookRequest`` objects, the
activation ping, sync batches and large catalogues.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storeflow import WebhookRequest
from storeflow.providers.woocommerce.samples import (
    STORE_URL,
    USER_AGENT,
    WC_VERSION,
    customer,
    delivery_id,
    guest_order,
    line_item,
    order,
    php_json,
    product_simple,
    product_variable,
    variation,
    variation_line_item,
    webhook_headers,
)

__all__ = [
    "STORE_URL",
    "USER_AGENT",
    "WC_VERSION",
    "catalogue",
    "customer",
    "deleted",
    "delivery_id",
    "guest_order",
    "line_item",
    "order",
    "php_json",
    "ping_request",
    "product_simple",
    "product_variable",
    "refund",
    "rest_error",
    "sync_batch",
    "variation",
    "variation_line_item",
    "webhook_headers",
    "webhook_request",
]

# --- what only tests send ------------------------------------------------------------


def refund(*, id: int = 730, total: str = "-5.00", reason: str = "") -> dict[str, Any]:
    """A ``refunds[]`` entry: WooCommerce writes the amount negative."""
    return {"id": id, "reason": reason, "total": total}


def deleted(id: int = 727) -> dict[str, Any]:
    """The whole body of ``order|product|customer.deleted``."""
    return {"id": id}


def rest_error(
    code: str = "woocommerce_rest_cannot_view",
    message: str = "Sorry, you cannot view this resource.",
    status: int = 401,
) -> dict[str, Any]:
    """What WooCommerce delivers when the webhook's user cannot read the resource."""
    return {"code": code, "message": message, "data": {"status": status}}


def webhook_request(
    topic: str,
    payload: dict[str, Any] | bytes,
    secret: str,
    **header_options: Any,
) -> WebhookRequest:
    """A signed delivery as ``storeflow.WebhookRequest`` (lower-case header names)."""
    body = payload if isinstance(payload, bytes) else php_json(payload)
    headers = webhook_headers(topic, body, secret, **header_options)
    return WebhookRequest(
        headers={name.lower(): value for name, value in headers.items()},
        body=body,
        content_type=headers["Content-Type"],
    )


def ping_request(
    webhook_id: int = 17, content_type: str = "application/x-www-form-urlencoded"
) -> WebhookRequest:
    """The unsigned activation ping: form body ``webhook_id=N``, no X-WC-* headers."""
    headers = {"user-agent": USER_AGENT}
    if content_type:
        headers["content-type"] = content_type
    return WebhookRequest(
        headers=headers, body=f"webhook_id={webhook_id}".encode(), content_type=content_type
    )


# --- sync batches ------------------------------------------------------------------


def sync_batch(
    items: Sequence[dict[str, Any]],
    *,
    sync_run_id: str = "cmd_initial",
    page: int = 1,
    is_last: bool = True,
) -> dict[str, Any]:
    """The body of ``POST /api/woocommerce/sync/<resource>``: one page of REST objects."""
    return {"syncRunId": sync_run_id, "page": page, "isLast": is_last, "items": list(items)}


def catalogue(
    products: int, variations_per_product: int = 3, *, first_id: int = 10_000
) -> list[dict[str, Any]]:
    """Variable products each followed by their variations (ids from ``first_id`` up)."""
    items: list[dict[str, Any]] = []
    next_id = first_id
    colors = ("Red", "Blue", "Green", "Black", "White")
    for number in range(products):
        parent_id = next_id
        variation_ids = list(range(parent_id + 1, parent_id + 1 + variations_per_product))
        next_id += 1 + variations_per_product
        name = f"Hoodie {number}"
        items.append(
            product_variable(
                id=parent_id,
                name=name,
                variation_ids=variation_ids,
                colors=colors[:variations_per_product],
            )
        )
        for offset, variation_id in enumerate(variation_ids):
            items.append(
                variation(
                    id=variation_id,
                    parent_id=parent_id,
                    parent_name=name,
                    options=(("Color", colors[offset % len(colors)]),),
                    sku=f"H{parent_id}-{offset}",
                    stock_quantity=offset,
                    image_src=f"https://shop.example.com/wp-content/uploads/h{variation_id}.jpg",
                )
            )
    return items
