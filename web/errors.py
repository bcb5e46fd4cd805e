"""JSON errors in the contract's shape everywhere under ``/api/*``; never an HTML page.

``{"success": false, "error": {"code", "message", "details"}}``. Bad input is a 4xx;
a database that cannot be reached is a 503 (the sender should retry); anything
else is a logged 500 with no internals in the body.

Oversized requests are answered here too: a request line over
:data:`MAX_REQUEST_LINE` bytes is a 414, a header field over
:data:`MAX_HEADER_FIELD` bytes or more than :data:`MAX_HEADER_FIELDS` fields a 431.
``storeflow serve`` sets gunicorn's own limits above these (see
``storeflow.web.commands.processes``), so such requests reach the app and get the
contract's JSON instead of gunicorn's HTML page.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, RequestHeaderFieldsTooLarge, RequestURITooLarge

from storeflow.core.errors import StoreflowError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    431: "headers_too_large",
    500: "internal_error",
    503: "storage_unavailable",
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    response = jsonify(
        {"success": False, "error": {"code": code, "message": message, "details": details or []}}
    )
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/api"


# What gunicorn refuses by default, answered by the app instead (gunicorn's limits are
# set higher by ``storeflow serve``).
MAX_REQUEST_LINE = 4096
MAX_HEADER_FIELD = 8190
MAX_HEADER_FIELDS = 100


def _request_line_length() -> int:
    environ = request.environ
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not isinstance(target, str):
        query = environ.get("QUERY_STRING", "")
        target = request.full_path if query else request.path
    protocol = environ.get("SERVER_PROTOCOL", "HTTP/1.1")
    return len(request.method) + len(target) + len(protocol) + 2


def check_request_size() -> None:
    """Refuse an over-long request line (414) or oversized headers (431)."""
    if _request_line_length() > MAX_REQUEST_LINE:
        raise RequestURITooLarge(
            f"the request line is longer than {MAX_REQUEST_LINE} bytes; "
            "send long values in the request body"
        )
    fields = request.headers
    if len(fields) > MAX_HEADER_FIELDS:
        raise RequestHeaderFieldsTooLarge(
            f"the request has more than {MAX_HEADER_FIELDS} header fields"
        )
    for name, value in fields.items():
        if len(name) + len(value) + 2 > MAX_HEADER_FIELD:
            raise RequestHeaderFieldsTooLarge(
                f"the {name[:40]} header is longer than {MAX_HEADER_FIELD} bytes"
            )


def init_app(app: Flask) -> None:
    app.before_request(check_request_size)

    @app.errorhandler(StoreflowError)
    def _storeflow(exc: StoreflowError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response | HTTPException:
        if not _wants_json():
            return exc
        status = exc.code or 500
        message = exc.description or exc.name
        if status == 413:
            message = "the request body is larger than this endpoint accepts"
        return error_response(status, _HTTP_CODES.get(status, "http_error"), message)

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def _storage(exc: Exception) -> Response:
        log.exception("storage error")
        return error_response(
            503,
            "storage_unavailable",
            "storage is unavailable; retry later",
            headers={"Retry-After": "5"},
        )

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "an unexpected error occurred; it was logged")
