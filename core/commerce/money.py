"""Money as integer minor units plus an ISO 4217 currency; never a float.

Stores send decimal strings formatted with the store's own number of decimals
(``"29.35"``, ``"18000"`` for CLP, ``"1.250"`` for KWD) and sometimes JSON numbers
(WooCommerce ``line_items[].price``). JSON is parsed with ``parse_float=Decimal``
so numbers arrive here exactly as written.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

import attrs

# ISO 4217 minor units that differ from the default of 2.
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    **dict.fromkeys(["CLF", "UYW"], 4),
}


# Minor units are stored in a signed 64-bit column.
MAX_MINOR = 2**63


class MoneyError(ValueError):
    """A value that is not a valid amount of money."""


def exponent(currency: str) -> int:
    """Number of decimals of the currency's minor unit (2 when unknown)."""
    return _EXPONENTS.get(currency.upper(), 2)


@attrs.frozen(order=True)
class Money:
    minor: int
    currency: str

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise MoneyError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.minor + other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def to_decimal(self) -> Decimal:
        return to_major(self.minor, self.currency)

    def __str__(self) -> str:
        return f"{format_minor(self.minor, self.currency)} {self.currency}"


def to_minor(value: str | int | Decimal, currency: str) -> int:
    """Exact minor units of a decimal amount in ``currency``.

    Amounts with more decimals than the currency has (tax lines like ``"1.3636"``)
    are rounded half-even, the usual banker's rule for accounting.
    """
    if isinstance(value, bool) or value is None:
        raise MoneyError(f"not an amount: {value!r}")
    if isinstance(value, float):
        # Floats never reach here from our JSON parsing; refuse rather than guess.
        raise MoneyError("float amounts are not accepted; parse JSON with parse_float=Decimal")
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            raise MoneyError("empty amount")
        try:
            amount = Decimal(text)
        except InvalidOperation as exc:
            raise MoneyError(f"not a decimal amount: {value!r}") from exc
    else:
        amount = Decimal(value)
    if not amount.is_finite():
        raise MoneyError(f"not a finite amount: {value!r}")
    # Enough precision for any amount that fits the database's BIGINT, so nothing
    # rounds silently; anything larger is refused instead of overflowing.
    with localcontext(prec=60) as ctx:
        ctx.traps[InvalidOperation] = True
        try:
            scaled = amount.scaleb(exponent(currency)).quantize(
                Decimal(1), rounding=ROUND_HALF_EVEN
            )
        except InvalidOperation as exc:
            raise MoneyError(f"amount out of range: {value!r}") from exc
    minor = int(scaled)
    if abs(minor) >= MAX_MINOR:
        raise MoneyError(f"amount out of range: {value!r}")
    return minor


def parse(value: str | int | Decimal, currency: str) -> Money:
    return Money(to_minor(value, currency), currency.upper())


def parse_optional(value: str | int | Decimal | None, currency: str) -> Money | None:
    """Like :func:`parse`, but ``None`` and ``""`` (WooCommerce's "no price") give ``None``."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    return parse(value, currency)


def to_major(minor: int, currency: str) -> Decimal:
    """Major units, exact at any size (``4780, "USD"`` -> ``Decimal("47.80")``)."""
    return Decimal(format_minor(minor, currency))


def format_minor(minor: int, currency: str) -> str:
    """The decimal string a store sends for ``minor`` units (``1250, "KWD"`` -> ``"1.250"``).

    Plain integer arithmetic rather than ``Decimal.scaleb``: the decimal context's
    28-digit precision would round very large amounts silently.
    """
    places = exponent(currency)
    sign = "-" if minor < 0 else ""
    units, fraction = divmod(abs(minor), 10**places)
    if places == 0:
        return f"{sign}{units}"
    return f"{sign}{units}.{fraction:0{places}d}"
