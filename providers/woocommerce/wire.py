"""WooCommerce REST v3 payloads as attrs classes, and the one converter for them.

Webhook bodies are the store's internal REST GET response run through
``wp_json_encode`` (see wire-formats.md A3, A7-A10); sync batches carry the same
objects. This module only decodes and validates; ``mapping.py`` turns the result
into ``storeflow.core.commerce.records``. What the converter tolerates, and why:

* Extra keys are ignored: every WooCommerce release and many plugins add fields.
* Missing optional keys take defaults; only the fields we cannot do without are
  required (``id`` everywhere, ``status``/``currency``/``total`` on orders,
  ``quantity``/``total`` on line items, ``total`` on refunds).
* IDs may be JSON ints (larger than 2**53 from some plugins) or numeric strings;
  they are kept as normalised decimal strings, never floats.
* Dates have no offset (``"2017-03-22T16:28:02"``). ``*_gmt`` fields are UTC and get
  ``tzinfo=UTC`` attached; the local-time fields stay naive (the mapping resolves
  them with the store's timezone only when the ``_gmt`` twin is missing).
* Money stays a ``Decimal`` exactly as written (strings like ``"29.35"``, JSON
  numbers like ``line_items[].price`` parsed with ``parse_float=Decimal``); the
  mapping turns it into minor units with the order's currency.
* PHP writes an empty associative array as ``[]``, so an object field may arrive as
  ``[]``; and an array that lost its sequential keys (``array_filter`` without
  ``array_values``) arrives as ``{"0": ..., "2": ...}``. Both are accepted.
* ``null`` where a string is expected reads as ``""``: the REST schema allows null
  for many strings (``billing.email``) and an empty string means the same thing.

Every error becomes ``storeflow.core.errors.BadRequest`` (undecodable body) or
``storeflow.core.errors.ValidationFailed`` (decodable but wrong), with ``$.x[0].y`` paths.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, NewType, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.cols import homogenous_tuple_structure_factory
from cattrs.gen import make_dict_structure_fn
from cattrs.v import format_exception

from storeflow import ValidationFailed, parse_json

T = TypeVar("T")

# --- scalar wire types -------------------------------------------------------------

WcId = NewType("WcId", str)
"""A WooCommerce id as a normalised decimal string (``727``, ``"727"`` -> ``"727"``)."""

Amount = NewType("Amount", Decimal)
"""An exact amount as written on the wire; its currency is known only to the mapping."""

CurrencyCode = NewType("CurrencyCode", str)
"""An ISO 4217 code, upper-cased."""

GmtDatetime = NewType("GmtDatetime", datetime)
"""A ``*_gmt`` field: UTC-aware."""

LocalDatetime = NewType("LocalDatetime", datetime)
"""A field without ``_gmt``: site-local time, naive unless the store sent an offset."""

ManageStock = bool | Literal["parent"]
"""``true``/``false``, or ``"parent"`` on a variation whose parent manages stock."""

# Bounds that keep later arithmetic and database columns sane: a BIGINT holds
# 9.2e18 minor units, i.e. 9.2e14 major units of a 4-decimal currency.
_MAX_AMOUNT = Decimal(10) ** 14
_MAX_INT = 2**63
_ID_RE = re.compile(r"[0-9]{1,40}")
_INT_RE = re.compile(r"[+-]?[0-9]{1,19}")
_AMOUNT_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_CURRENCY_RE = re.compile(r"[A-Z]{3}")

MAX_DETAILS = 50  # a payload with 500 broken line items needs no 500-entry answer


class WireError(ValueError):
    """A value of the wrong shape; its message is shown to the sender as is."""


def _kind(value: Any) -> str:
    """How a JSON value is called in messages meant for store developers."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | Decimal | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


# --- scalar hooks ------------------------------------------------------------------


def _structure_str(value: Any, _: type) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        # A lone surrogate (``"\ud800"``) decodes fine but breaks every UTF-8 write later.
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise WireError("string contains an unpaired UTF-16 surrogate") from None
        return value
    if isinstance(value, int | Decimal | float) and not isinstance(value, bool):
        return str(value)  # e.g. a numeric SKU or order number from a plugin
    raise WireError(f"expected a string, got {_kind(value)}")


def _structure_int(value: Any, _: type) -> int:
    if isinstance(value, bool):
        raise WireError("expected an integer, got a boolean")
    result: int | None = None
    if isinstance(value, int):
        result = value
    elif isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        result = int(value.strip())
    elif (
        isinstance(value, Decimal | float)
        and _finite(value)
        and -_MAX_INT < value < _MAX_INT  # before int(): 1e1000000 must not be expanded
        and value == int(value)
    ):
        result = int(value)
    if result is None or abs(result) >= _MAX_INT:
        raise WireError(f"expected an integer, got {_kind(value)}")
    return result


def _structure_bool(value: Any, _: type) -> bool:
    # cattrs' default is ``bool(value)``, which reads the string "false" as True.
    if isinstance(value, bool):
        return value
    raise WireError(f"expected true or false, got {_kind(value)}")


def _structure_id(value: Any, _: type) -> WcId:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**40:
        return WcId(str(value))
    if isinstance(value, str) and _ID_RE.fullmatch(value.strip()):
        # "0727" and 727 are the same object in WooCommerce.
        return WcId(value.strip().lstrip("0") or "0")
    raise WireError(f"expected an id (a non-negative integer), got {_kind(value)}")


def _structure_amount(value: Any, _: type) -> Amount:
    amount: Decimal | None = None
    if isinstance(value, bool):
        amount = None
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        # Only from items a caller decoded without parse_float=Decimal. repr() is the
        # shortest round-trip text, which is what PHP (>= 7.1) wrote on the wire.
        amount = Decimal(repr(value))
    elif isinstance(value, str) and _AMOUNT_RE.fullmatch(value.strip()):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            amount = None
    if amount is None or not amount.is_finite() or abs(amount) >= _MAX_AMOUNT:
        raise WireError(f"expected a decimal amount, got {_kind(value)}")
    return Amount(amount)


def _structure_currency(value: Any, _: type) -> CurrencyCode:
    if isinstance(value, str) and _CURRENCY_RE.fullmatch(value.strip().upper()):
        return CurrencyCode(value.strip().upper())
    raise WireError(f"expected an ISO 4217 currency code, got {_kind(value)}")


def _parse_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise WireError(f"expected a date like 2017-03-22T16:28:02, got {_kind(value)}")


def _structure_gmt(value: Any, _: type) -> GmtDatetime:
    parsed = _parse_datetime(value)
    if parsed.tzinfo is None:
        return GmtDatetime(parsed.replace(tzinfo=UTC))
    return GmtDatetime(parsed.astimezone(UTC))


def _structure_local(value: Any, _: type) -> LocalDatetime:
    return LocalDatetime(_parse_datetime(value))


def _structure_manage_stock(value: Any, _: type) -> bool | str:
    if isinstance(value, bool):
        return value
    if value == "parent":
        return "parent"
    raise WireError(f'expected true, false or "parent", got {_kind(value)}')


def _blank_is_none(hook: Callable[[Any, type], T]) -> Callable[[Any, type], T | None]:
    """Optional variant of a hook: ``null`` and ``""`` mean "not set" (an unset price)."""

    def structure_optional(value: Any, cl: type) -> T | None:
        if value is None or (isinstance(value, str) and value.strip() == ""):
            return None
        return hook(value, cl)

    return structure_optional


def _finite(value: Decimal | float) -> bool:
    return (
        value.is_finite()
        if isinstance(value, Decimal)
        else value == value and abs(value) != float("inf")
    )


# --- container hooks ---------------------------------------------------------------


def _is_homogeneous_tuple(type_: Any) -> bool:
    args = get_args(type_)
    return get_origin(type_) is tuple and len(args) == 2 and args[1] is Ellipsis


def _array_hook_factory(type_: Any, converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    inner = homogenous_tuple_structure_factory(type_, converter)

    def structure_array(value: Any, cl: Any) -> Any:
        if isinstance(value, Mapping) and all(
            isinstance(key, str) and key.isdigit() for key in value
        ):
            # A PHP list with holes is encoded as an object keyed "0", "2", ...
            value = [value[key] for key in sorted(value, key=int)]
        elif not isinstance(value, list):
            raise WireError(f"expected an array, got {_kind(value)}")
        return inner(value, cl)

    return structure_array


def _object_hook_factory(cl: type, converter: cattrs.Converter) -> Callable[[Any, Any], Any]:
    inner: Callable[[Any, Any], Any] = make_dict_structure_fn(cl, converter)

    def structure_object(value: Any, type_: Any) -> Any:
        if isinstance(value, list) and not value:
            value = {}  # PHP encodes an empty object as []
        elif not isinstance(value, Mapping):
            raise WireError(f"expected an object, got {_kind(value)}")
        return inner(value, type_)

    return structure_object


def make_converter(*, detailed: bool = True) -> cattrs.Converter:
    """The converter for WooCommerce wire data (one per edge, as design.md asks).

    ``detailed=False`` builds the same converter without cattrs' error bookkeeping,
    several times faster on the happy path; ``structure`` falls back to the detailed
    one only to explain a failure.
    """
    converter = cattrs.Converter(forbid_extra_keys=False, detailed_validation=detailed)
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(bool, _structure_bool)
    converter.register_structure_hook(WcId, _structure_id)
    converter.register_structure_hook(Amount, _structure_amount)
    converter.register_structure_hook(Amount | None, _blank_is_none(_structure_amount))
    converter.register_structure_hook(CurrencyCode, _structure_currency)
    converter.register_structure_hook(GmtDatetime, _structure_gmt)
    converter.register_structure_hook(GmtDatetime | None, _blank_is_none(_structure_gmt))
    converter.register_structure_hook(LocalDatetime, _structure_local)
    converter.register_structure_hook(LocalDatetime | None, _blank_is_none(_structure_local))
    converter.register_structure_hook(ManageStock, _structure_manage_stock)
    converter.register_structure_hook_factory(_is_homogeneous_tuple, _array_hook_factory)
    converter.register_structure_hook_factory(attrs.has, _object_hook_factory)
    return converter


# --- payload classes ---------------------------------------------------------------


@attrs.frozen
class MetaData:
    """``meta_data[]``: ``value`` is mixed (string, number, array, object)."""

    key: str = ""
    value: Any = None
    id: WcId | None = None
    display_key: str | None = None
    display_value: Any = None


@attrs.frozen
class Billing:
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    address_1: str = ""
    address_2: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    country: str = ""
    email: str = ""  # the only place an order carries the buyer's email
    phone: str = ""


@attrs.frozen
class Shipping:
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    address_1: str = ""
    address_2: str = ""
    city: str = ""
    state: str = ""
    postcode: str = ""
    country: str = ""
    phone: str = ""


@attrs.frozen
class LineItemImage:
    src: str = ""  # "" when the product has no image


@attrs.frozen
class LineItem:
    quantity: int
    total: Amount  # after discounts, before tax
    id: WcId | None = None  # the order item id, not the product id
    name: str = ""
    product_id: WcId = WcId("0")  # the parent for variations; "0" if the product was deleted
    variation_id: WcId = WcId("0")  # "0" for simple products
    subtotal: Amount | None = None
    total_tax: Amount | None = None
    price: Amount | None = None  # a JSON number: total / quantity
    sku: str | None = None  # null when the product no longer exists
    image: LineItemImage = attrs.field(factory=LineItemImage)
    parent_name: str | None = None
    meta_data: tuple[MetaData, ...] = ()


@attrs.frozen
class Refund:
    total: Amount  # negative ("-5.00")
    id: WcId | None = None
    reason: str = ""


@attrs.frozen
class Order:
    id: WcId
    status: str
    currency: CurrencyCode
    total: Amount
    parent_id: WcId = WcId("0")
    number: str = ""
    order_key: str = ""
    created_via: str = ""
    date_created: LocalDatetime | None = None
    date_created_gmt: GmtDatetime | None = None
    date_modified: LocalDatetime | None = None
    date_modified_gmt: GmtDatetime | None = None
    date_paid_gmt: GmtDatetime | None = None
    date_completed_gmt: GmtDatetime | None = None
    discount_total: Amount | None = None
    shipping_total: Amount | None = None
    total_tax: Amount | None = None
    customer_id: WcId = WcId("0")  # "0" = guest
    customer_note: str = ""
    billing: Billing = attrs.field(factory=Billing)
    shipping: Shipping = attrs.field(factory=Shipping)
    payment_method: str = ""
    meta_data: tuple[MetaData, ...] = ()
    line_items: tuple[LineItem, ...] = ()
    refunds: tuple[Refund, ...] = ()


@attrs.frozen
class Image:
    id: WcId | None = None  # 0 for the v2 placeholder image
    src: str = ""
    name: str = ""
    alt: str = ""


@attrs.frozen
class Term:
    """A category or tag."""

    id: WcId | None = None
    name: str = ""
    slug: str = ""


@attrs.frozen
class Attribute:
    """Parents and simple products list ``options``; a variation has one ``option``."""

    id: WcId | None = None  # 0 for custom (non-taxonomy) attributes
    name: str = ""
    slug: str = ""
    option: str | None = None
    options: tuple[str, ...] = ()


@attrs.frozen
class Product:
    """A product, or a variation (``type == "variation"``, ``parent_id`` set)."""

    id: WcId
    name: str = ""
    slug: str = ""
    permalink: str = ""
    type: str = "simple"
    status: str = "publish"
    date_created: LocalDatetime | None = None
    date_created_gmt: GmtDatetime | None = None
    date_modified: LocalDatetime | None = None
    date_modified_gmt: GmtDatetime | None = None
    sku: str = ""
    price: Amount | None = None  # "" (no price) reads as None
    regular_price: Amount | None = None
    sale_price: Amount | None = None
    manage_stock: ManageStock = False
    stock_quantity: int | None = None  # the parent's quantity when manage_stock == "parent"
    stock_status: str | None = None
    parent_id: WcId = WcId("0")
    categories: tuple[Term, ...] = ()
    images: tuple[Image, ...] = ()
    # The REST variations endpoint sends one ``image`` (or null) instead of ``images``.
    image: Image | None = None
    attributes: tuple[Attribute, ...] = ()
    variations: tuple[WcId, ...] = ()
    meta_data: tuple[MetaData, ...] = ()


@attrs.frozen
class Customer:
    id: WcId
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    username: str = ""
    role: str = ""
    date_created: LocalDatetime | None = None
    date_created_gmt: GmtDatetime | None = None
    date_modified: LocalDatetime | None = None
    date_modified_gmt: GmtDatetime | None = None
    billing: Billing = attrs.field(factory=Billing)
    shipping: Shipping = attrs.field(factory=Shipping)
    meta_data: tuple[MetaData, ...] = ()


@attrs.frozen
class Deleted:
    """The whole payload of ``*.deleted``: ``{"id": N}``."""

    id: WcId


Resource = Order | Product | Customer | Deleted

CONVERTER = make_converter()
FAST_CONVERTER = make_converter(detailed=False)


# --- entry points ------------------------------------------------------------------


def loads(body: bytes) -> Any:
    """Decode a WooCommerce body: UTF-8 JSON, numbers with a fraction as ``Decimal``.

    The std json module already handles PHP's escaping (``\\/``, ``\\u00e9``,
    surrogate pairs). ``NaN``/``Infinity`` are rejected: they are not JSON and PHP
    never writes them. storeflow's parser also refuses absurd nesting
    (``json_too_deep``), which would otherwise break the decoding after it.
    """
    return parse_json(body, decimals=True)


def rest_error(obj: Any) -> tuple[str, str, int | None] | None:
    """``(code, message, status)`` when ``obj`` is a WP REST error object, else None.

    WooCommerce sends one instead of the resource when the webhook's user lost its
    capabilities or the resource vanished before delivery (wire-formats.md A3).
    """
    if not isinstance(obj, Mapping) or "id" in obj:
        return None
    code, message = obj.get("code"), obj.get("message")
    if not isinstance(code, str) or not code or not isinstance(message, str):
        return None
    data = obj.get("data")
    status = data.get("status") if isinstance(data, Mapping) else None
    if not isinstance(status, int) or isinstance(status, bool):
        status = None
    return code, message, status


def raise_for_rest_error(obj: Any) -> None:
    found = rest_error(obj)
    if found is None:
        return
    code, message, status = found
    shown = f"HTTP {status}, " if status is not None else ""
    raise ValidationFailed(
        f"WooCommerce sent the REST error {code!r} ({shown}{message!r}) instead of the "
        "resource; check that the webhook's user still exists and can read it.",
        code="woocommerce_rest_error",
        details=[{"path": "$.code", "message": code}],
    )


def _format_exception(exc: BaseException, type_: type | None) -> str:
    if isinstance(exc, WireError):
        return str(exc)
    return format_exception(exc, type_)


def error_details(exc: BaseException) -> list[dict[str, str]]:
    """``[{"path": "$.line_items[0].quantity", "message": ...}]`` for a structuring error."""
    details = []
    for line in cattrs.transform_error(exc, path="$", format_exception=_format_exception):
        message, _, path = line.rpartition(" @ ")
        details.append({"path": path, "message": message})
    return details


def structure(obj: Any, cls: type[T]) -> T:
    """Validate decoded JSON into ``cls``; any mismatch raises ``ValidationFailed``."""
    try:
        # Sync pages bring 500 objects at a time: validate fast, explain slowly.
        return FAST_CONVERTER.structure(obj, cls)
    except Exception:
        pass
    try:
        return CONVERTER.structure(obj, cls)
    except Exception as exc:  # every cattrs or hook failure is bad input, never a 500
        details = error_details(exc)
        first = details[0] if details else {"path": "$", "message": str(exc)}
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        raise ValidationFailed(
            f"The WooCommerce {cls.__name__.lower()} is not valid: "
            f"{first['path']}: {first['message']}{more}.",
            details=details[:MAX_DETAILS],
        ) from None
