"""The plugin's cart and checkout events (``POST /api/woocommerce/events``) as core records.

The body is storeflow's own plugin protocol (``spec/api.md``)::

    {"events": [{"id", "type", "occurredAt", "sessionKey", "email", "customerId",
                 "cart": {"items": [{"productId", "variationId", "quantity", "lineTotal", "name"}],
                          "total", "currency"},
                 "checkoutUrl"}]}

Each event is checked on its own: one that cannot be taken becomes a
``records.Rejected`` with its index, and the others go on (one bad event never fails
the batch). Only the body's shape (an object with an ``events`` array of at most
:data:`MAX_EVENTS`) can refuse the whole request. What is tolerated, and why:

* ids (``id``, ``productId``, ``variationId``, ``customerId``) may be JSON integers or
  strings; ``0`` and ``""`` for ``variationId``/``customerId`` mean "none" (PHP's
  default for a simple product and for a guest);
* ``occurredAt`` without an offset is the store's local time (WordPress' habit);
* an ``email`` that cannot be an address identifies nobody: the event is kept
  as anonymous rather than refused (shoppers mistype; the cart is still real);
* amounts are decimal strings or JSON numbers (read exactly, never as floats) in
  the cart's ``currency``, else the store's;
* a logged-in shopper without a ``sessionKey`` is keyed by ``customer:<id>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storeflow import (
    Money,
    MoneyError,
    StoreContext,
    ValidationFailed,
    money,
    parse_json,
    records,
)
from storeflow import usable_email as _usable_email

TOPIC = "plugin.events"
MAX_EVENTS = 500
MAX_LINES = 500
MAX_ID = 200
MAX_URL = 2000
TYPES: tuple[str, ...] = get_args(records.CartActivityType)


class _Bad(Exception):
    def __init__(self, path: str, message: str, code: str = "invalid_event") -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.code = code


def loads(body: bytes) -> Any:
    return parse_json(body, decimals=True)


def check_batch(data: Any) -> list[Any]:
    """The ``events`` array of a valid body; 422 for a body that is not ``{events: [...]}``."""
    if not isinstance(data, Mapping):
        raise ValidationFailed(
            "The body must be a JSON object {events: [...]}.",
            details=[{"path": "$", "message": "expected an object"}],
        )
    found = data.get("events")
    if not isinstance(found, list):
        raise ValidationFailed(
            "The body needs an events array.",
            details=[{"path": "$.events", "message": "expected an array of events"}],
        )
    if len(found) > MAX_EVENTS:
        raise ValidationFailed(
            f"At most {MAX_EVENTS} events per request, got {len(found)}.",
            details=[{"path": "$.events", "message": f"at most {MAX_EVENTS} events"}],
        )
    return found


def map_events(data: Any, store: StoreContext) -> records.Mapped:
    """Every event of a valid body: the good ones as records, the others as rejections."""
    activities: list[records.Record] = []
    rejected: list[records.Rejected] = []
    for index, item in enumerate(check_batch(data)):
        try:
            activities.append(_activity(item, store, f"$.events[{index}]"))
        except _Bad as bad:
            rejected.append(
                records.Rejected(index, _item_id(item), bad.code, f"{bad.path}: {bad.message}")
            )
    return records.Mapped(records=tuple(activities), rejected=tuple(rejected))


def _item_id(item: Any) -> str | None:
    value = item.get("id") if isinstance(item, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value)[:MAX_ID]


def _activity(item: Any, store: StoreContext, at: str) -> records.CartActivity:
    if not isinstance(item, Mapping):
        raise _Bad(at, "expected an event object")
    event_id = _id(item.get("id"), f"{at}.id", required=True)
    assert event_id is not None  # required=True raises instead
    kind = item.get("type")
    if kind not in TYPES:
        raise _Bad(
            f"{at}.type",
            f"unknown event type {kind!r}; expected one of {list(TYPES)}",
            "unknown_type",
        )
    occurred_at = _time(item.get("occurredAt"), f"{at}.occurredAt", store.timezone)
    customer_id = _id(item.get("customerId"), f"{at}.customerId")
    session_key = _text(item.get("sessionKey"), f"{at}.sessionKey", MAX_ID)
    if not session_key:
        if not customer_id:
            raise _Bad(f"{at}.sessionKey", "required unless customerId names the shopper")
        session_key = f"customer:{customer_id}"
    email = item.get("email")
    if email is not None and not isinstance(email, str):
        raise _Bad(f"{at}.email", "expected a string or null")
    cart = item.get("cart")
    if cart is None:
        cart = {}
    if not isinstance(cart, Mapping):
        raise _Bad(f"{at}.cart", "expected an object {items, total, currency}")
    currency = _currency(cart.get("currency"), f"{at}.cart.currency") or store.currency.upper()
    lines = _lines(cart.get("items"), f"{at}.cart.items", currency)
    if kind == "cart_cleared":
        lines = ()
    total = _money(cart.get("total"), f"{at}.cart.total", currency)
    return records.CartActivity(
        event_id=event_id,
        type=kind,
        occurred_at=occurred_at,
        session_key=session_key,
        lines=lines,
        total=total,
        currency=currency,
        email=_usable_email(email) if email else None,
        provider_customer_id=customer_id,
        checkout_url=_url(item.get("checkoutUrl"), f"{at}.checkoutUrl"),
    )


def _id(value: Any, at: str, *, required: bool = False) -> str | None:
    if value is None or value == "" or (value == 0 and not required):
        if required:
            raise _Bad(at, "required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Bad(at, "expected a string or an integer")
    text = str(value).strip()
    if not text or len(text) > MAX_ID:
        raise _Bad(at, f"expected 1 to {MAX_ID} characters")
    if text == "0" and not required:
        return None
    return text


def _text(value: Any, at: str, size: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Bad(at, "expected a string")
    text = value.strip()
    if len(text) > size:
        raise _Bad(at, f"at most {size} characters")
    return text or None


def _time(value: Any, at: str, timezone: str) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(at, "expected an ISO 8601 date-time such as 2026-12-01T12:00:00Z")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _Bad(at, f"not an ISO 8601 date-time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        try:
            parsed = parsed.replace(tzinfo=ZoneInfo(timezone or "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            parsed = parsed.replace(tzinfo=ZoneInfo("UTC"))
    return parsed.astimezone(ZoneInfo("UTC"))


def _currency(value: Any, at: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value.strip()) != 3 or not value.strip().isalpha():
        raise _Bad(at, "expected a three-letter ISO 4217 code")
    return value.strip().upper()


def _money(value: Any, at: str, currency: str) -> Money | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise _Bad(at, 'expected a decimal amount such as "19.90"')
    try:
        amount = money.parse(value, currency)
    except (MoneyError, ValueError, ArithmeticError):
        raise _Bad(at, f"not a valid amount: {str(value)[:40]!r}") from None
    if amount.minor < 0:
        raise _Bad(at, "must not be negative")
    return amount


def _lines(value: Any, at: str, currency: str) -> tuple[records.CartLine, ...]:
    if value is None:
        return ()
    if isinstance(value, Mapping):  # PHP: an array that lost its sequential keys
        value = list(value.values())
    if not isinstance(value, list):
        raise _Bad(at, "expected an array of cart items")
    if len(value) > MAX_LINES:
        raise _Bad(at, f"at most {MAX_LINES} items")
    lines = []
    for index, item in enumerate(value):
        here = f"{at}[{index}]"
        if not isinstance(item, Mapping):
            raise _Bad(here, "expected an item object")
        product_id = _id(item.get("productId"), f"{here}.productId", required=True)
        assert product_id is not None
        variant_id = _id(item.get("variationId"), f"{here}.variationId") or product_id
        quantity = item.get("quantity")
        if isinstance(quantity, Decimal) and quantity == quantity.to_integral_value():
            quantity = int(quantity)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 <= quantity < 10**6:
            raise _Bad(f"{here}.quantity", "expected a whole number from 0 to 999999")
        if quantity == 0:
            continue  # WooCommerce removes zero-quantity lines itself
        name = _text(item.get("name"), f"{here}.name", 500) or ""
        lines.append(
            records.CartLine(
                provider_product_id=product_id,
                provider_variant_id=variant_id,
                quantity=quantity,
                line_total=_money(item.get("lineTotal"), f"{here}.lineTotal", currency),
                title=name,
            )
        )
    return tuple(lines)


def _url(value: Any, at: str) -> str | None:
    text = _text(value, at, MAX_URL)
    if text is None:
        return None
    if not text.lower().startswith(("https://", "http://")):
        raise _Bad(at, "expected an http(s) URL")
    return text
