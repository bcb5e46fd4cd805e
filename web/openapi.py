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


# --- connections (issue 3): WooCommerce connect/plugin protocol, integrations admin -------

PLUGIN = [{"pluginSignature": []}]
_PLUGIN_NOTE = (
    " Authenticated with 'Authorization: Bearer <installationToken>' plus Standard Webhooks "
    "headers (webhook-id, webhook-timestamp within ±300 s, webhook-signature); a repeated "
    "webhook-id gets the first answer again and has no second effect."
)

PATHS.update(
    {
        "/api/woocommerce/connect": {
            "post": _op(
                "Start connecting a WooCommerce store (no auth; rate limited per address). "
                "Body {storeUrl, siteName, pluginVersion, wpVersion, wcVersion, currency, "
                "timezone}. The request expires after 15 minutes.",
                "{connectRequestId, pollToken, authorizeUrl, expiresAt, pollIntervalSeconds}",
                400,
                415,
                422,
                429,
                status="201",
            )
        },
        "/api/woocommerce/connect/poll": {
            "post": _op(
                "Poll a connect request with {connectRequestId, pollToken}: status pending, "
                "approved, denied or expired; the first poll after approval also returns "
                "installationToken, signingSecret, webhookSecret, integrationId and companyId, "
                "exactly once (later polls: 409 already_claimed).",
                "{status, ...credentials once}",
                400,
                401,
                404,
                409,
                415,
                422,
                429,
            )
        },
        "/api/woocommerce/heartbeat": {
            "post": _op(
                "Plugin heartbeat {pluginVersion, wpVersion, wcVersion, storeUrl, queue: "
                "{pending, failed}, lastError}; answers the commands waiting for the store "
                "(delivered again until acknowledged)." + _PLUGIN_NOTE,
                "{success, commands: [{id, type, resources, requestedAt}], serverTime}",
                400,
                401,
                415,
                422,
                security=PLUGIN,
            )
        },
        "/api/woocommerce/commands/{commandId}/ack": {
            "post": _op(
                "Acknowledge a command: {status: started|completed|failed, detail}." + _PLUGIN_NOTE,
                "{success, command}",
                400,
                401,
                404,
                409,
                415,
                422,
                parameters=[_path_param("commandId")],
                security=PLUGIN,
            )
        },
        "/api/woocommerce/disconnect": {
            "post": _op(
                "Disconnect from the store side {reason}; the token and secrets stop working "
                "at once, synced data stays." + _PLUGIN_NOTE,
                "{success}",
                400,
                401,
                415,
                422,
                security=PLUGIN,
            )
        },
        "/api/integrations": {
            "get": _op(
                "The company's integrations: id, provider, storeUrl, status (pending, connected, "
                "disconnected), health (healthy, stale, failing) with healthReasons, lastSeenAt, "
                "pluginVersion, lastSyncAt, lastSyncError and the latest sync's state.",
                "{success, integrations, total}",
                401,
                422,
                parameters=_query("limit", "offset"),
                security=ADMIN,
            )
        },
        "/api/integrations/{integrationId}": {
            "get": _op(
                "One integration with diagnostics: the plugin's queue and last error, recent "
                "delivery failures with reasons, recent commands.",
                "{success, integration}",
                401,
                404,
                parameters=[_path_param("integrationId")],
                security=ADMIN,
            )
        },
        "/api/integrations/{integrationId}/sync": {
            "post": _op(
                "Sync Store: queue a sync command for the plugin's next heartbeat; while one "
                "waits, clicks return it instead of queueing another. Optional body "
                "{resources: [products|customers|orders]}.",
                "{success, queued, command}",
                400,
                401,
                404,
                409,
                415,
                422,
                status="202",
                parameters=[_path_param("integrationId")],
                security=ADMIN,
            )
        },
        "/api/integrations/{integrationId}/disconnect": {
            "post": _op(
                "Disconnect: the installation's credentials stop working at once; synced data "
                "stays and a reconnect reuses the integration. Optional body {reason}.",
                "{success, integration}",
                400,
                401,
                404,
                415,
                422,
                parameters=[_path_param("integrationId")],
                security=ADMIN,
            )
        },
        "/api/connect-requests/{requestId}/approve": {
            "post": _op(
                "Approve a connect request for the API key's company (operators and tests; "
                "merchants use /setup/woocommerce). Reconnects the company's existing "
                "integration for the same store URL. 409 when expired or already decided.",
                "{success, connectRequest, integration}",
                401,
                404,
                409,
                parameters=[_path_param("requestId")],
                security=ADMIN,
            )
        },
        "/api/connect-requests/{requestId}/deny": {
            "post": _op(
                "Deny a connect request. 409 when expired or already decided.",
                "{success, connectRequest}",
                401,
                404,
                409,
                parameters=[_path_param("requestId")],
                security=ADMIN,
            )
        },
    }
)


# --- sync (issue 4): store sync batches, sync progress, catalogue ------------------------

_SYNC_PLUGIN = [{"pluginSignature": []}]

PATHS.update(
    {
        "/api/woocommerce/sync/{resource}": {
            "post": _op(
                "One page of a store sync (resource: products, customers or orders). Body "
                "{syncRunId, page, isLast, items: [<WooCommerce REST v3 objects>] (at most 500), "
                "resources?: [...] (the run's resources when syncRunId is not a plugin command "
                "id)}. Items are applied as history: orders update profiles and record their "
                "events without starting automations. An older or identical item is counted "
                "in skippedStale (identical ones also in unchanged); one bad item is reported "
                "in failed [{index, id, code, message}] and never fails the batch. "
                "accepted + len(failed) = len(items); accepted = upserted + skippedStale + "
                "ignored. Authenticated with the installation token plus Standard Webhooks "
                "headers; a repeated webhook-id gets the first answer again.",
                "{success, accepted, upserted, skippedStale, unchanged, ignored, failed, "
                "runFinished}",
                400,
                401,
                403,
                404,
                413,
                415,
                422,
                503,
                parameters=[_path_param("resource")],
                security=_SYNC_PLUGIN,
            )
        },
        "/api/integrations/{integrationId}/sync-runs": {
            "get": _op(
                "Sync progress of an integration: lastSyncAt, lastSyncError and the latest "
                "sync runs, one row per resource, with pages, items, upserted, skippedStale, "
                "ignored and failed counts.",
                "{success, integrationId, lastSyncAt, lastSyncError, syncRuns, total}",
                401,
                404,
                422,
                parameters=[_path_param("integrationId"), *_query("limit")],
                security=ADMIN,
            )
        },
        "/api/products": {
            "get": _op(
                "Products with their variants, stock, price (minor units + currency), "
                "replenishment settings, waitlist counts and pending reminders. search matches "
                "the title, the provider id or a variant SKU; deleted=true includes deleted "
                "products.",
                "{success, products, total}",
                401,
                422,
                parameters=_query("provider", "search", "deleted", "limit", "offset"),
                security=ADMIN,
            )
        },
        "/api/products/{provider}/{providerProductId}": {
            "get": _op(
                "One product; a simple product has one variant whose providerVariantId is its "
                "providerProductId. With several stores of one provider, integration=<id> "
                "picks the store.",
                "{success, product}",
                401,
                404,
                parameters=[
                    _path_param("provider"),
                    _path_param("providerProductId"),
                    *_query("integration"),
                ],
                security=ADMIN,
            )
        },
    }
)


# --- rules engine (issue 5): sequences, dry-run, runs, ledger, settings ----------------------

_SEQUENCE_NOTE = (
    " The body and the answer use the rule-file schema (docs/rules.md) as JSON; invalid input "
    "is 422 with details [{path, message}] naming every problem."
)
_SEQUENCE_ID = [_path_param("sequenceId")]

PATHS.update(
    {
        "/api/sequences": {
            "get": _op(
                "Sequences (rule-file schema), highest priority first",
                "{success, sequences, total}",
                401,
                parameters=_query("status"),
                security=ADMIN,
            ),
            "post": _op(
                "Create a sequence." + _SEQUENCE_NOTE,
                "{success, sequence, meta}",
                400,
                401,
                409,
                415,
                422,
                status="201",
                security=ADMIN,
            ),
        },
        "/api/sequences/{sequenceId}": {
            "get": _op(
                "One sequence (its id is the slug of the rule file's id)",
                "{success, sequence, meta}",
                401,
                404,
                parameters=_SEQUENCE_ID,
                security=ADMIN,
            ),
            "put": _op(
                "Create or replace a sequence (201 when created). Pausing holds running "
                "enrollments at their next step; activating again resumes them." + _SEQUENCE_NOTE,
                "{success, sequence, meta}",
                400,
                401,
                415,
                422,
                parameters=_SEQUENCE_ID,
                security=ADMIN,
            ),
            "delete": _op(
                "Delete a sequence: its running enrollments are cancelled; enrollments and the "
                "send ledger are kept",
                "{success, cancelledEnrollments}",
                401,
                404,
                parameters=_SEQUENCE_ID,
                security=ADMIN,
            ),
        },
        "/api/sequences/{sequenceId}/dry-run": {
            "post": _op(
                "Replay the last `days` days (default 30) of stored events through the sequence "
                "without sending or writing anything: who would enter, be filtered, blocked by "
                "re-entry, stopped or capped, and why. Optional body {days, limit}.",
                "{success, dryRun: {summary, results, truncated, notes}}",
                400,
                401,
                404,
                415,
                422,
                parameters=_SEQUENCE_ID,
                security=ADMIN,
            )
        },
        "/api/settings/frequency-cap": {
            "get": _op(
                "The company's frequency cap {enabled, maxMessages, windowHours, whenCapped}",
                "{success, frequencyCap}",
                401,
                security=ADMIN,
            ),
            "put": _op(
                "Set the frequency cap (omitted keys take their defaults: 1 email per 16 h, delay)",
                "{success, frequencyCap}",
                400,
                401,
                415,
                422,
                security=ADMIN,
            ),
        },
        "/api/settings/webhook-signing-secret": {
            "get": _op(
                "The Standard Webhooks secret (whsec_...) that signs outbound webhook steps",
                "{success, webhookSigningSecret}",
                401,
                security=ADMIN,
            )
        },
    }
)
PATHS["/api/messages"]["get"]["parameters"] = _query(
    "email", "sequence", "status", "limit", "offset"
)


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "storeflow", "version": "1", "description": "storeflow HTTP contract v1"},
        "paths": PATHS,
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer"},
                "pluginSignature": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "installation token plus Standard Webhooks signature",
                },
            },
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
