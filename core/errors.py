"""Errors that carry the contract's JSON shape: a snake_case code, a sentence, details.

Raised anywhere (core, providers, web); ``web/errors.py`` renders them as
``{"success": false, "error": {"code", "message", "details"}}`` with ``status``.
"""

from __future__ import annotations

from typing import Any


class StoreflowError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details or []
        self.headers = headers or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class BadRequest(StoreflowError):
    status, code = 400, "bad_request"


class Unauthenticated(StoreflowError):
    status, code = 401, "unauthenticated"


class Forbidden(StoreflowError):
    status, code = 403, "forbidden"


class NotFound(StoreflowError):
    status, code = 404, "not_found"


class Conflict(StoreflowError):
    status, code = 409, "conflict"


class PayloadTooLarge(StoreflowError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(StoreflowError):
    status, code = 415, "unsupported_media_type"


class ValidationFailed(StoreflowError):
    """422; ``details`` lists ``{"path": "$.items[3].email", "message": ...}``."""

    status, code = 422, "validation_failed"


class RateLimited(StoreflowError):
    status, code = 429, "rate_limited"


class StorageUnavailable(StoreflowError):
    status, code = 503, "storage_unavailable"


class Unmappable(StoreflowError):
    """Authentic data a provider cannot turn into records; kept as failed, replayable."""

    status, code = 422, "unmappable"
