"""The OpenAPI 3.1 document, served at ``/api/openapi.json``.

Written by hand from the contract (``shared/spec/api.md``); a test checks that
every ``/api`` route the app serves is described here, so it cannot fall behind.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

bp = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"application/json": {"schema": schema or {"type": "object"}}}


def _responses(ok: str, *errors: int, status: str = "200") -> dict[str, Any]:
    described = {
        400: "Malformed JSON or form body",
        401: "Missing or invalid credentials or signature",
        403: "Authenticated but not allowed",
        404: "Unknown resource (or one of another company)",
        409: "Conflict",
        413: "Body too large",
        415: "Wrong content type",
        422: "Validation failed; details list {path, message}",
        429: "Rate limited; see Retry-After",
        503: "Storage unavailable; retry",
    }
    out: dict[str, Any] = {status: {"description": ok, "content": _json()}}
    for code in errors:
        out[str(code)] = {"description": described[code], "content": _json(ERROR)}
    return out


def _op(summary: str, ok: str, *errors: int, status: str = "200", **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": _responses(ok, *errors, status=status), **extra}


def _query(*names: str) -> list[dict[str, Any]]:
    return [
        {"name": n, "in": "query", "required": False, "schema": {"type": "string"}} for n in names
    ]


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


ADMIN = [{"apiKey": []}]

PATHS: dict[str, dict[str, Any]] = {
    "/api/openapi.json": {"get": _op("This document", "The OpenAPI document")},
    "/api/{providerName}/webhooks/{integrationId}": {
        "post": _op(
            "Receive a provider-native webhook (WooCommerce: X-WC-Webhook-* headers, "
            "X-WC-Webhook-Signature = base64 HMAC-SHA256 of the raw body). The creation "
            "ping (form body webhook_id=N) is answered 200.",
            "Stored (or a duplicate, or the ping)",
            400,
            401,
            404,
            413,
            422,
            503,
            parameters=[_path_param("providerName"), _path_param("integrationId")],
        )
    },
    "/api/events": {
        "get": _op(
            "Events, newest first",
            "List of events",
            401,
            422,
            parameters=_query("name", "email", "since", "limit", "offset"),
            security=ADMIN,
        )
    },
    "/api/events/{eventId}": {
        "get": _op(
            "One event", "The event", 401, 404, parameters=[_path_param("eventId")], security=ADMIN
        )
    },
    "/api/subscribers/{email}": {
        "get": _op(
            "Subscriber profile with revenue attributes",
            "The profile",
            401,
            404,
            parameters=[_path_param("email")],
            security=ADMIN,
        )
    },
    "/api/enrollments": {
        "get": _op(
            "Enrollments with step history and stop reason",
            "List of enrollments",
            401,
            404,
            422,
            parameters=_query("sequence", "email", "status", "limit", "offset"),
            security=ADMIN,
        )
    },
    "/api/messages": {
        "get": _op(
            "The send ledger",
            "List of messages",
            401,
            422,
            parameters=_query("email", "limit", "offset"),
            security=ADMIN,
        )
    },
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "storeflow", "version": "1", "description": "storeflow HTTP contract v1"},
        "paths": PATHS,
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["success", "error"],
                    "properties": {
                        "success": {"const": False},
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "details": {"type": "array", "items": {"type": "object"}},
                            },
                        },
                    },
                }
            },
        },
    }


@bp.get("/api/openapi.json")
def serve() -> Response:
    return jsonify(document())
