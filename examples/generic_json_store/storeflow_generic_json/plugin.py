"""The "generic JSON store" provider: Standard Webhooks signatures, one JSON envelope.

Each delivery is ``{"type": "order.created", "timestamp": ..., "data": {...}}``
signed with the integration's ``whsec_...`` secret (``webhook-id``,
``webhook-timestamp``, ``webhook-signature`` headers). It imports only ``storeflow``.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from storeflow import (
    BadRequest,
    LineItem,
    Mapped,
    Money,
    MoneyError,
    Order,
    OrderStatus,
    Product,
    StoreContext,
    Unauthenticated,
    ValidationFailed,
    Variant,
    Verified,
    WebhookRequest,
    hookimpl,
    money,
)

TOPICS = ("order.created", "order.updated", "product.created", "product.updated")
STATES: dict[str, OrderStatus] = {
    "placed": "placed",
    "cancelled": "cancelled",
    "fulfilled": "fulfilled",
    "refunded": "refunded",
}


class GenericJsonProvider:
    name = "generic_json"

    def validate_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        problems = []
        secret = settings.get("signingSecret")
        if not isinstance(secret, str) or not _is_whsec(secret):
            problems.append({"path": "$.signingSecret", "message": "a whsec_<base64> secret"})
        currency = settings.get("currency", "USD")
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
            problems.append({"path": "$.currency", "message": "an ISO 4217 code, like EUR"})
        if problems:
            raise ValidationFailed(
                "the generic JSON store settings are not valid", details=problems
            )
        return {"signingSecret": secret, "currency": currency.upper()}

    def verify_webhook(self, request: WebhookRequest, secret: str) -> Verified:
        try:
            Webhook(secret).verify(request.body, request.headers)
        except (WebhookVerificationError, ValueError, binascii.Error) as exc:
            raise Unauthenticated(f"bad Standard Webhooks signature: {exc}") from None
        topic = str(_loads(request.body).get("type", ""))
        return Verified(
            kind="delivery",
            topic=topic,
            dedupe_key=request.headers["webhook-id"],
            headers={"webhook-id": request.headers["webhook-id"]},
        )

    def parse_payload(self, topic: str, body: bytes) -> Any:
        if topic not in TOPICS:
            raise ValidationFailed(
                f"unsupported type {topic!r}",
                details=[{"path": "$.type", "message": f"one of {TOPICS}"}],
            )
        data = _loads(body).get("data")
        if not isinstance(data, dict) or "id" not in data:
            raise ValidationFailed(
                "no data object", details=[{"path": "$.data", "message": "an object with an id"}]
            )
        return data

    def map_webhook(self, topic: str, payload: Any, store: StoreContext) -> Mapped:
        try:
            if topic.startswith("order."):
                return Mapped(records=(_order(payload, store),))
            return Mapped(records=(_product(payload, store),))
        except (KeyError, TypeError, ValueError, MoneyError) as exc:
            raise ValidationFailed(f"cannot map {topic}: {exc!r}") from None

    def map_sync_item(self, resource: str, item: Any, store: StoreContext) -> Mapped:
        return self.map_webhook(f"{resource.rstrip('s')}.updated", item, store)


def _is_whsec(secret: str) -> bool:
    try:
        return secret.startswith("whsec_") and bool(base64.b64decode(secret[6:], validate=True))
    except binascii.Error:
        return False


def _loads(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body, parse_float=Decimal)
    except ValueError:
        raise BadRequest("the body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the body is not a JSON object")
    return data


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _order(data: dict[str, Any], store: StoreContext) -> Order:
    currency = data.get("currency") or store.currency
    status = data.get("status", "placed")
    lines = tuple(_line(item, currency) for item in data.get("items") or ())
    return Order(
        provider_order_id=str(data["id"]),
        email=data["email"],
        currency=currency,
        total=money.parse(data["total"], currency),
        status=status,
        state=STATES.get(status, "placed"),
        ordered_at=datetime.fromisoformat(data.get("createdAt") or data["updatedAt"]),
        modified_at=_time(data.get("updatedAt")),
        line_items=lines,
        order_number=str(data.get("number", data["id"])),
        first_name=data.get("firstName", ""),
        last_name=data.get("lastName", ""),
    )


def _line(item: dict[str, Any], currency: str) -> LineItem:
    price = money.parse(item.get("price", "0"), currency)
    quantity = int(item.get("quantity", 1))
    return LineItem(
        provider_product_id=str(item["productId"]),
        provider_variant_id=str(item.get("variantId") or item["productId"]),
        title=item.get("title", ""),
        quantity=quantity,
        price=price,
        total=Money(price.minor * quantity, currency),
    )


def _product(data: dict[str, Any], store: StoreContext) -> Product:
    pid = str(data["id"])
    price = money.parse_optional(data.get("price"), data.get("currency") or store.currency)
    stock = (
        None if data.get("inStock") is None else ("instock" if data["inStock"] else "outofstock")
    )
    return Product(
        provider_product_id=pid,
        title=data.get("title", ""),
        modified_at=_time(data.get("updatedAt")),
        url=data.get("url"),
        image_url=data.get("imageUrl"),
        price=price,
        stock_status=stock,
        variants=(
            Variant(
                provider_variant_id=pid,
                title=data.get("title", ""),
                price=price,
                stock_status=stock,
            ),
        ),
    )


@hookimpl
def register_providers() -> list[Any]:
    return [GenericJsonProvider()]
