"""Query-string parsing with contract errors instead of 500s."""

from __future__ import annotations

from datetime import datetime

from flask import request

from storeflow.core.clock import ensure_utc
from storeflow.core.errors import ValidationFailed


def int_arg(name: str, default: int, *, low: int = 0, high: int = 1000) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed(
            f"{name} must be an integer",
            details=[{"path": f"$.query.{name}", "message": "not an integer"}],
        ) from None
    if not low <= value <= high:
        raise ValidationFailed(
            f"{name} must be between {low} and {high}",
            details=[{"path": f"$.query.{name}", "message": f"out of range {low}..{high}"}],
        )
    return value


def datetime_arg(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return ensure_utc(datetime.fromisoformat(raw.replace("Z", "+00:00")))
    except (ValueError, OverflowError):  # 9999-12-31T23:59:59-23:59 overflows on conversion
        raise ValidationFailed(
            f"{name} must be an ISO 8601 time",
            details=[{"path": f"$.query.{name}", "message": "not an ISO 8601 time"}],
        ) from None
