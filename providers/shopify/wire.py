"""Decoding Shopify webhook bodies: exact numbers, clear errors with a ``$.`` path.

Shopify sends the topic's REST resource unwrapped (wire-formats.md B1). ids are JSON
integers that exceed 2**53 in sample payloads, so numbers are never floats (decimals
become ``Decimal``); ids become strings. Every field can be missing (``include_fields``)
and most can be null, so only what a topic cannot be mapped without is required.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from storeflow import BadRequest, ValidationFailed

MAX_ID = 64


def loads(body: bytes) -> Any:
    try:
        return json.loads(
            body.removeprefix(b"\xef\xbb\xbf"), parse_float=Decimal, parse_constant=_no_constant
        )
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest(
            f"the body is not valid JSON: {str(exc)[:200]}", code="malformed_json"
        ) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def invalid(path: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{path}: {message}", details=[{"path": path, "message": message}])


def obj(value: Any, path: str = "$") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise invalid(path, "expected an object")
    return value


def objects(value: Any, path: str) -> list[Mapping[str, Any]]:
    """A list of objects; null or missing is empty."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(path, "expected an array")
    return [obj(item, f"{path}[{index}]") for index, item in enumerate(value)]


def ident(value: Any, path: str, *, required: bool = True) -> str | None:
    """An id (JSON integer or string) as a string."""
    if value is None or value == "":
        if required:
            raise invalid(path, "required")
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise invalid(path, "expected an integer or a string id")
    text = str(value).strip()
    if not text or len(text) > MAX_ID:
        raise invalid(path, f"expected 1 to {MAX_ID} characters")
    return text


def text(value: Any, path: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise invalid(path, "expected a string")
    return value


def integer(value: Any, path: str, *, default: int | None = None) -> int | None:
    if value is None:
        return default
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(path, "expected an integer")
    return value


def amount(value: Any, path: str) -> str | int | Decimal | None:
    """A money amount as Shopify writes it: a decimal string, or a number in a few places."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise invalid(path, 'expected a decimal amount such as "19.99"')
    return value


def timestamp(value: Any, path: str, *, required: bool = False) -> datetime | None:
    """ISO 8601 with the shop's offset or ``Z`` (carts, headers); naive means UTC."""
    if value is None or value == "":
        if required:
            raise invalid(path, "required")
        return None
    if not isinstance(value, str):
        raise invalid(path, "expected an ISO 8601 date-time")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise invalid(path, f"not an ISO 8601 date-time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def tags(value: Any, path: str) -> tuple[str, ...]:
    """``"tag1, tag2"`` (REST and webhooks) or a list (GraphQL) -> ``("tag1", "tag2")``."""
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(t.strip() for t in value if isinstance(t, str) and t.strip())
    return tuple(part.strip() for part in text(value, path).split(",") if part.strip())
