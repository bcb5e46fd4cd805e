"""The OpenAPI 3.1 document at ``/api/openapi.json`` and its docs UI at ``/api/docs``.

Built, not written: request bodies come from the attrs classes that validate them
(``storeflow.web.inputs``, the rule-file schema in ``storeflow.rules.schema``, the
frequency cap and dry-run options of ``storeflow.rules``), 2xx bodies from the classes
the routes answer through (``storeflow.web.responses``), errors from the contract's
error shape. This module only adds what the classes cannot say: paths, methods,
parameters, summaries and status codes (``OPERATIONS``). Tests check that every
``/api`` route is listed and the document is valid; ``.ci/schemathesis`` checks that
the running server answers as documented.

The docs UI is Swagger UI 5 (it renders OpenAPI 3.1) from the assets packaged in the
``flask-swagger-ui`` wheel, served from that package's folder: no CDN.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs
from flask import Blueprint, Response, abort, jsonify, send_from_directory, url_for

from storeflow.core import statuses
from storeflow.rules import capping, dryrun
from storeflow.rules import schema as rules
from storeflow.web import commerce_api as _commerce_api
from storeflow.web import inputs, responses, ruledoc, sequences
from storeflow.web import shopify as _shopify
from storeflow.web import storefront as _storefront
from storeflow.web import woocommerce_events as _carts
from storeflow.web.apischema import Registry, Schema

bp = Blueprint("openapi", __name__)

Security = Literal["apiKey", "plugin", "none"]

ERRORS = {
    400: "Malformed JSON or form body",
    401: "Missing or invalid credentials or signature",
    403: "Authenticated but not allowed",
    404: "Unknown resource (or one of another company)",
    409: "Conflict",
    413: "Body too large",
    414: "Request line too long (uri_too_long); send long values in the body",
    415: "Wrong content type",
    422: "Validation failed; details list {path, message}",
    429: "Rate limited; see Retry-After",
    431: "Header fields too large or too many (headers_too_large)",
    503: "Storage unavailable; retry (see Retry-After)",
}
TAGS = {
    "plugin": "The WooCommerce plugin protocol: connect, heartbeats, commands, sync batches",
    "webhooks": "Provider-native webhooks, exactly as the platforms send them",
    "admin": "Admin API (company API key): integrations, connect requests, events, catalogue",
    "sequences": "The rules engine: sequences, dry-runs, enrollments, the send ledger",
    "settings": "Company settings of the rules engine",
    "docs": "This document and its UI",
}
_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}


@attrs.frozen(kw_only=True)
class Operation:
    """One method on one path: what the code cannot say about itself."""

    method: str
    path: str
    id: str
    summary: str
    ok: Any  # a class of storeflow.web.responses, or a schema
    status: int = 200
    also: tuple[int, ...] = ()  # other success statuses, with the same body
    errors: tuple[int, ...] = ()
    body: Any = None  # the class (or schema) of the JSON body
    body_required: bool = True
    body_example: Any = None
    params: tuple[Schema, ...] = ()
    security: Security = "apiKey"
    tag: str = "admin"
    description: str | None = None
    ok_media: str = "application/json"
    storage: bool = True  # touches the database: may answer 503

    def error_codes(self) -> list[int]:
        # 414/431: storeflow.web.errors.check_request_size refuses before any route runs.
        codes = set(self.errors) | {414, 431}
        if self.security != "none":
            codes.add(401)
        if self.body is not None:
            codes |= {400, 413, 415, 422}
        if self.storage:
            codes.add(503)
        return sorted(codes)


# --- parameters ------------------------------------------------------------------------------


def _param(where: str, name: str, schema: Schema, *, required: bool, doc: str = "") -> Schema:
    param: Schema = {"name": name, "in": where, "required": required, "schema": schema}
    if doc:
        param["description"] = doc
    return param


def path(name: str, schema: Schema | None = None, doc: str = "") -> Schema:
    return _param("path", name, schema or {"type": "string"}, required=True, doc=doc)


def query(name: str, schema: Schema | None = None, doc: str = "") -> Schema:
    return _param("query", name, schema or {"type": "string"}, required=False, doc=doc)


def _limit(default: int) -> Schema:
    return query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": default})


def _page(default: int) -> tuple[Schema, Schema]:
    """``limit`` and ``offset`` as ``storeflow.web.params.int_arg`` checks them."""
    offset = query("offset", {"type": "integer", "minimum": 0, "maximum": 10**9, "default": 0})
    return _limit(default), offset


def _choice(name: str, values: tuple[str, ...]) -> Schema:
    return query(name, {"type": "string", "enum": list(values)})


_PLUGIN_HEADERS = (
    _param("header", "webhook-id", {"type": "string"}, required=True, doc="unique per request"),
    _param(
        "header",
        "webhook-timestamp",
        {"type": "string", "pattern": "^[0-9]+$"},
        required=True,
        doc="Unix seconds; within ±300 s of the server's clock",
    ),
    _param(
        "header",
        "webhook-signature",
        {"type": "string"},
        required=True,
        doc="v1,<base64 HMAC-SHA256 of 'id.timestamp.body' with the signing secret>",
    ),
)
_WC_HEADERS = tuple(
    _param("header", name, {"type": "string"}, required=False, doc=doc)
    for name, doc in (
        ("X-WC-Webhook-Topic", "order.created, product.updated, ..."),
        ("X-WC-Webhook-Signature", "base64 HMAC-SHA256 of the raw body with webhookSecret"),
        ("X-WC-Webhook-Delivery-ID", ""),
    )
)

# Swagger UI's own files that the page loads; nothing else from the package is served.
DOCS_ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "favicon-32x32.png": "image/png",
}
_INIT = "docs.js"  # ours: starts the UI on this document

_INTEGRATION = path("integrationId")
_SEQUENCE = path("sequenceId", {"type": "string"}, "the slug of the rule file's id")
_RESOURCES = ("products", "customers", "orders")
_PLUGIN_NOTE = (
    "Plugin traffic: 'Authorization: Bearer <installationToken>' plus Standard Webhooks "
    "headers; a repeated webhook-id gets the first answer again and has no second effect."
)
_SEQUENCE_NOTE = (
    "The body and the answer use the rule-file schema (docs/rules.md) as JSON; invalid input "
    "is 422 with details [{path, message}] naming every problem."
)

OPENAPI_DOCUMENT: Schema = {
    "type": "object",
    "required": ["openapi", "info", "paths", "components"],
    "properties": {"openapi": {"const": "3.1.0"}},
}

OPERATIONS: tuple[Operation, ...] = (
    # --- the document and its UI
    Operation(
        method="get",
        path="/api/openapi.json",
        id="getOpenApi",
        summary="This document",
        ok=OPENAPI_DOCUMENT,
        security="none",
        tag="docs",
        storage=False,
    ),
    Operation(
        method="get",
        path="/api/docs",
        id="getDocs",
        summary="The docs UI (Swagger UI, from packaged assets)",
        ok={"type": "string"},
        ok_media="text/html",
        security="none",
        tag="docs",
        storage=False,
    ),
    Operation(
        method="get",
        path="/api/docs/{asset}",
        id="getDocsAsset",
        summary="A file of the docs UI",
        ok={"type": "string"},
        ok_media="*/*",
        errors=(404,),
        params=(path("asset", {"type": "string", "enum": sorted([*DOCS_ASSETS, _INIT])}),),
        security="none",
        tag="docs",
        storage=False,
    ),
    # --- provider-native webhooks
    Operation(
        method="post",
        path="/api/{providerName}/webhooks/{integrationId}",
        id="receiveWebhook",
        summary="Receive a provider-native webhook",
        description=(
            "WooCommerce: X-WC-Webhook-* headers, X-WC-Webhook-Signature = base64 HMAC-SHA256 "
            "of the raw body with webhookSecret. The creation ping (form body webhook_id=N, "
            "no signature) is answered 200. Authentic but invalid bodies are stored as failed "
            "and answered with their 4xx."
        ),
        ok=responses.WebhookReceived,
        errors=(400, 401, 404, 409, 413, 415, 422),
        body={"type": "object", "description": "the provider's own payload"},
        params=(path("providerName"), _INTEGRATION, *_WC_HEADERS),
        security="none",
        tag="webhooks",
    ),
    # --- WooCommerce plugin protocol
    Operation(
        method="post",
        path="/api/woocommerce/connect",
        id="connectStore",
        summary="Start connecting a WooCommerce store",
        description="No auth; rate limited per address. The request expires after 15 minutes.",
        ok=responses.ConnectStarted,
        status=201,
        errors=(429,),
        body=inputs.ConnectBody,
        body_example={"storeUrl": "https://shop.example.com", "siteName": "Example shop"},
        security="none",
        tag="plugin",
    ),
    Operation(
        method="post",
        path="/api/woocommerce/connect/poll",
        id="pollConnectRequest",
        summary="Poll a connect request",
        description=(
            "pending, approved, denied or expired; the first poll after approval also returns "
            "installationToken, signingSecret, webhookSecret, integrationId and companyId, "
            "exactly once (later polls: 409 already_claimed). The poll token proves the "
            "poller started the request (401 otherwise)."
        ),
        ok=responses.PollAnswer,
        errors=(401, 404, 409, 429),
        body=inputs.PollBody,
        security="none",
        tag="plugin",
    ),
    Operation(
        method="post",
        path="/api/woocommerce/heartbeat",
        id="heartbeat",
        summary="Plugin heartbeat; answers the commands waiting for the store",
        description="Commands are delivered again until acknowledged. " + _PLUGIN_NOTE,
        ok=responses.HeartbeatAnswer,
        body=inputs.HeartbeatBody,
        params=_PLUGIN_HEADERS,
        security="plugin",
        tag="plugin",
    ),
    Operation(
        method="post",
        path="/api/woocommerce/commands/{commandId}/ack",
        id="ackCommand",
        summary="Acknowledge a command: started, completed or failed",
        description=_PLUGIN_NOTE,
        ok=responses.AckAnswer,
        errors=(404, 409),
        body=inputs.AckBody,
        params=(path("commandId"), *_PLUGIN_HEADERS),
        security="plugin",
        tag="plugin",
    ),
    Operation(
        method="post",
        path="/api/woocommerce/disconnect",
        id="disconnectFromStore",
        summary="Disconnect from the store side",
        description="The token and secrets stop working at once; synced data stays. "
        + _PLUGIN_NOTE,
        ok=responses.Ok,
        body=inputs.ReasonBody,
        params=_PLUGIN_HEADERS,
        security="plugin",
        tag="plugin",
    ),
    Operation(
        method="post",
        path="/api/woocommerce/sync/{resource}",
        id="syncBatch",
        summary="One page of a store sync",
        description=(
            "Items are applied as history: orders update profiles and record their events "
            "without starting automations. An older or identical item counts in skippedStale "
            "(identical ones also in unchanged); one bad item is reported in failed and never "
            "fails the batch. " + _PLUGIN_NOTE
        ),
        ok=responses.SyncBatchResult,
        errors=(403, 404),
        body=inputs.SyncBatchBody,
        params=(path("resource", {"type": "string", "enum": list(_RESOURCES)}), *_PLUGIN_HEADERS),
        security="plugin",
        tag="plugin",
    ),
    # --- integrations and connect requests
    Operation(
        method="get",
        path="/api/integrations",
        id="listIntegrations",
        summary="The company's integrations with health and the latest sync",
        ok=responses.IntegrationList,
        errors=(422,),
        params=_page(100),
    ),
    Operation(
        method="get",
        path="/api/integrations/{integrationId}",
        id="getIntegration",
        summary="One integration with diagnostics",
        ok=responses.IntegrationDetailResponse,
        errors=(404,),
        params=(_INTEGRATION,),
    ),
    Operation(
        method="post",
        path="/api/integrations/{integrationId}/sync",
        id="requestSync",
        summary="Sync Store: queue a sync command for the plugin's next heartbeat",
        description="While one waits, requests return it instead of queueing another.",
        ok=responses.SyncQueued,
        status=202,
        errors=(404, 409),
        body=inputs.SyncBody,
        body_required=False,
        body_example={"resources": ["products"]},
        params=(_INTEGRATION,),
    ),
    Operation(
        method="post",
        path="/api/integrations/{integrationId}/disconnect",
        id="disconnectIntegration",
        summary="Disconnect: the installation's credentials stop working at once",
        description="Synced data stays and a reconnect reuses the integration.",
        ok=responses.IntegrationResponse,
        errors=(404,),
        body=inputs.ReasonBody,
        body_required=False,
        params=(_INTEGRATION,),
    ),
    Operation(
        method="get",
        path="/api/integrations/{integrationId}/sync-runs",
        id="listSyncRuns",
        summary="Sync progress of an integration, one row per resource and run",
        ok=responses.SyncRuns,
        errors=(404, 422),
        params=(_INTEGRATION, _limit(20)),
    ),
    Operation(
        method="post",
        path="/api/connect-requests/{requestId}/approve",
        id="approveConnectRequest",
        summary="Approve a connect request for the API key's company",
        description=(
            "Operators and tests; merchants use /setup/woocommerce. Reconnects the company's "
            "existing integration for the same store URL. 409 when expired or already decided."
        ),
        ok=responses.ConnectApproved,
        errors=(404, 409),
        params=(path("requestId"),),
    ),
    Operation(
        method="post",
        path="/api/connect-requests/{requestId}/deny",
        id="denyConnectRequest",
        summary="Deny a connect request",
        ok=responses.ConnectDenied,
        errors=(404, 409),
        params=(path("requestId"),),
    ),
    # --- what storeflow made of the traffic
    Operation(
        method="get",
        path="/api/events",
        id="listEvents",
        summary="Events, newest first",
        ok=responses.EventList,
        errors=(422,),
        params=(
            query("name"),
            query("email"),
            query("since", {"type": "string", "format": "date-time"}),
            *_page(50),
        ),
    ),
    Operation(
        method="get",
        path="/api/events/{eventId}",
        id="getEvent",
        summary="One event",
        ok=responses.EventResponse,
        errors=(404,),
        params=(path("eventId", {"type": "integer", "minimum": 0}),),
        description="Ids beyond 64 bits are 404, like any id that names no event.",
    ),
    Operation(
        method="get",
        path="/api/subscribers/{email}",
        id="getSubscriber",
        summary="Subscriber profile with revenue attributes (email matched case-insensitively)",
        ok=responses.SubscriberProfile,
        errors=(404,),
        params=(path("email"),),
    ),
    Operation(
        method="get",
        path="/api/products",
        id="listProducts",
        summary="Products with variants, stock, price, replenishment and waitlists",
        description=(
            "search matches the title, the provider id or a variant SKU; deleted=true "
            "includes deleted products."
        ),
        ok=responses.ProductList,
        errors=(422,),
        params=(
            query("provider"),
            query("search", doc="cut to its first 200 characters"),
            query("deleted", {"type": "boolean"}),
            *_page(50),
        ),
    ),
    Operation(
        method="get",
        path="/api/products/{provider}/{providerProductId}",
        id="getProduct",
        summary="One product; a simple product has one variant with its own id",
        ok=responses.ProductResponse,
        errors=(404,),
        params=(
            path("provider"),
            path("providerProductId"),
            query("integration", doc="picks the store when a provider has several"),
        ),
    ),
    # --- the rules engine
    Operation(
        method="get",
        path="/api/sequences",
        id="listSequences",
        summary="Sequences (rule-file schema), highest priority first",
        ok=responses.SequenceList,
        params=(_choice("status", statuses.SEQUENCE_STATUSES),),
        tag="sequences",
    ),
    Operation(
        method="post",
        path="/api/sequences",
        id="createSequence",
        summary="Create a sequence",
        description=_SEQUENCE_NOTE,
        ok=responses.SequenceResponse,
        status=201,
        errors=(409,),
        body=rules.Sequence,
        body_example=ruledoc.SEQUENCE_EXAMPLE,
        tag="sequences",
    ),
    Operation(
        method="get",
        path="/api/sequences/{sequenceId}",
        id="getSequence",
        summary="One sequence",
        ok=responses.SequenceResponse,
        errors=(404,),
        params=(_SEQUENCE,),
        tag="sequences",
    ),
    Operation(
        method="put",
        path="/api/sequences/{sequenceId}",
        id="putSequence",
        summary="Create or replace a sequence (201 when created)",
        description=(
            "The body's id, when given, must be the id in the URL. Pausing holds running "
            "enrollments at their next step; activating again resumes them. " + _SEQUENCE_NOTE
        ),
        ok=responses.SequenceResponse,
        also=(201,),
        body=rules.Sequence,
        body_example=ruledoc.SEQUENCE_EXAMPLE,
        params=(_SEQUENCE,),
        tag="sequences",
    ),
    Operation(
        method="delete",
        path="/api/sequences/{sequenceId}",
        id="deleteSequence",
        summary="Delete a sequence; its running enrollments are cancelled",
        description="Enrollments and the send ledger are kept.",
        ok=responses.SequenceDeleted,
        errors=(404,),
        params=(_SEQUENCE,),
        tag="sequences",
    ),
    Operation(
        method="post",
        path="/api/sequences/{sequenceId}/dry-run",
        id="dryRunSequence",
        summary="Replay stored events through the sequence without sending or writing",
        description=(
            "Who would enter, be filtered, blocked by re-entry, stopped or capped, and why, "
            "over the last `days` days (default 30)."
        ),
        ok=responses.DryRunResponse,
        errors=(404,),
        body=dryrun.Options,
        body_required=False,
        body_example={"days": 30, "limit": 200},
        params=(_SEQUENCE,),
        tag="sequences",
    ),
    Operation(
        method="get",
        path="/api/enrollments",
        id="listEnrollments",
        summary="Enrollments with step history and stop reason, newest first",
        ok=responses.EnrollmentList,
        errors=(422,),
        params=(
            query("sequence", doc="a sequence id"),
            query("email"),
            _choice("status", sequences.ENROLLMENT_STATUSES),
            *_page(50),
        ),
        tag="sequences",
    ),
    Operation(
        method="get",
        path="/api/messages",
        id="listMessages",
        summary="The send ledger, newest first",
        ok=responses.MessageList,
        errors=(422,),
        params=(
            query("email"),
            query("sequence", doc="a sequence id"),
            _choice("status", sequences.MESSAGE_STATUSES),
            *_page(50),
        ),
        tag="sequences",
    ),
    Operation(
        method="get",
        path="/api/settings/frequency-cap",
        id="getFrequencyCap",
        summary="The company's frequency cap",
        ok=responses.FrequencyCapResponse,
        tag="settings",
    ),
    Operation(
        method="put",
        path="/api/settings/frequency-cap",
        id="putFrequencyCap",
        summary="Set the frequency cap",
        description="Omitted keys take their defaults: 1 email per 16 h, delay.",
        ok=responses.FrequencyCapResponse,
        body=capping.FrequencyCap,
        body_example={"enabled": True, "maxMessages": 1, "windowHours": 16, "whenCapped": "delay"},
        tag="settings",
    ),
    Operation(
        method="get",
        path="/api/settings/webhook-signing-secret",
        id="getWebhookSigningSecret",
        summary="The Standard Webhooks secret that signs outbound webhook steps",
        ok=responses.WebhookSigningSecret,
        tag="settings",
    ),
)


# --- replenishment (storeflow.web.products) ----------------------------------------------

REPLENISHMENT_BODY: Schema = {
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean"},
        "days": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 730,
            "description": "required when enabled",
        },
        "match": {"enum": ["product", "variant"], "description": "default product"},
        "multiplyByQuantity": {
            "type": "boolean",
            "description": "due after days x the quantity bought; default false",
        },
    },
    "required": ["enabled"],
    "additionalProperties": False,
    "if": {"properties": {"enabled": {"const": True}}},
    "then": {"required": ["days"], "properties": {"days": {"type": "integer"}}},
}
OPERATIONS = (
    *OPERATIONS,
    Operation(
        method="put",
        path="/api/products/{provider}/{providerProductId}/replenishment",
        id="putProductReplenishment",
        summary="Set a product's replenishment reminder setting",
        description=(
            "Live orders of the product then schedule one reminder per buyer and product "
            "(or variant, per match), due days after the order. Disabling cancels the "
            "pending reminders; a new days or match applies to purchases from then on. "
            "Answers the product."
        ),
        ok=responses.ProductResponse,
        errors=(404,),
        body=REPLENISHMENT_BODY,
        body_example={"enabled": True, "days": 30, "match": "product"},
        params=(
            path("provider"),
            path("providerProductId"),
            query("integration", doc="picks the store when a provider has several"),
        ),
    ),
)
# --- end replenishment -------------------------------------------------------------------


# --- the document --------------------------------------------------------------------------

_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "apiKey": [{"apiKey": []}],
    "plugin": [{"pluginSignature": []}],
    "none": [],
}


def _content(reg: Registry, media: str, shape: Any, example: Any = None) -> Schema:
    schema = shape if isinstance(shape, Mapping) else reg.schema(shape)
    entry: Schema = {"schema": schema}
    if example is not None:
        entry["example"] = example
    return {media: entry}


def _operation(reg: Registry, op: Operation) -> Schema:
    answer: Schema = {"description": "OK", "content": _content(reg, op.ok_media, op.ok)}
    out: Schema = {
        "operationId": op.id,
        "summary": op.summary,
        "tags": [op.tag],
        "security": _SECURITY[op.security],
        "responses": {str(code): answer for code in (op.status, *op.also)},
    }
    if op.description:
        out["description"] = op.description
    if op.params:
        out["parameters"] = list(op.params)
    if op.body is not None:
        content = _content(reg, "application/json", op.body, op.body_example)
        if op.id == "receiveWebhook":
            content["application/x-www-form-urlencoded"] = {
                "schema": {"type": "object", "properties": {"webhook_id": {"type": "string"}}}
            }
        out["requestBody"] = {"required": op.body_required, "content": content}
    error = reg.schema(responses.ErrorResponse)
    for code in op.error_codes():
        described: Schema = {
            "description": ERRORS[code],
            "content": {"application/json": {"schema": error}},
        }
        if code in (429, 503):
            described["headers"] = _RETRY_AFTER
        out["responses"][str(code)] = described
    return out


@functools.cache
def document() -> dict[str, Any]:
    reg = ruledoc.registry()
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(reg, op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "storeflow",
            "version": "1",
            "description": "The storeflow HTTP contract, v1. Errors everywhere under /api are "
            '{"success": false, "error": {"code", "message", "details": [{"path", "message"}]}}.',
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "an admin API key (storeflow api-keys create)",
                },
                "pluginSignature": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the installation token, plus a Standard Webhooks signature "
                    "(webhook-id, webhook-timestamp, webhook-signature headers)",
                },
            },
            "schemas": dict(sorted(reg.components.items())),
        },
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
    }


@bp.get("/api/openapi.json")
def serve() -> Response:
    return jsonify(document())


# --- the docs UI -----------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>storeflow API</title>
  <link rel="stylesheet" href="{css}">
  <link rel="icon" type="image/png" href="{icon}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{bundle}"></script>
  <script src="{init}"></script>
</body>
</html>
"""

# validatorUrl null: Swagger UI would otherwise send the document to an online validator.
_INIT_JS = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: %s,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
"""

_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
)


def swagger_ui_dir() -> Path:
    return Path(str(importlib.resources.files("flask_swagger_ui") / "dist"))


def _asset(name: str) -> str:
    return url_for("openapi.docs_asset", asset=name)


@bp.get("/api/docs")
def docs() -> Response:
    html = _PAGE.format(
        css=_asset("swagger-ui.css"),
        icon=_asset("favicon-32x32.png"),
        bundle=_asset("swagger-ui-bundle.js"),
        init=_asset(_INIT),
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = _CSP
    return response


@bp.get("/api/docs/<asset>")
def docs_asset(asset: str) -> Response:
    if asset == _INIT:
        script = _INIT_JS % json.dumps(url_for("openapi.serve"))
        return Response(script, mimetype="text/javascript")
    if asset not in DOCS_ASSETS:
        abort(404)
    response = send_from_directory(swagger_ui_dir(), asset, mimetype=DOCS_ASSETS[asset])
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


# --- back in stock -------------------------------------------------------------------------
TAGS["storefront"] = "Called from the shopper's browser on the store's own pages (no key)"
OPERATIONS += (
    Operation(
        method="post",
        path=_storefront.SUBSCRIBE,
        id="subscribeBackInStock",
        summary="Ask to be emailed when a product or variant is back in stock",
        description=(
            "Called from the store's product page. The store is found by storeUrl (scheme, "
            "www., trailing slash and case do not matter; companyId picks one company when "
            "several connect the same store). The Origin header must be the store's (403 "
            "otherwise); CORS (OPTIONS) answers only a connected store's origin, with "
            "Vary: Origin. Simple products omit providerVariantId. Rate limited per client "
            "IP and per email; body at most 32 KiB. A repeated request while waiting "
            "changes nothing and answers 200. Records ecommerce.back_in_stock_requested; "
            "no signup automation starts."
        ),
        ok=responses.Ok,
        errors=(403, 404, 429),
        body=_storefront.SubscribeBody,
        body_example={
            "storeUrl": "https://shop.example.com",
            "email": "ana@example.com",
            "providerProductId": "732",
            "providerVariantId": "733",
            "productTitle": "Hoodie",
            "variantTitle": "Blue, Large",
        },
        security="none",
        tag="storefront",
    ),
    Operation(
        method="get",
        path="/api/settings/back-in-stock",
        id="getBackInStockSettings",
        summary="The company's back-in-stock settings",
        ok=responses.WaitlistSettingsResponse,
        tag="settings",
    ),
    Operation(
        method="put",
        path="/api/settings/back-in-stock",
        id="putBackInStockSettings",
        summary="Set re-arm, backorders-count-as-in-stock and pacing",
        description=(
            "rearm (default true): entries notified by a restock wait again when the variant "
            "sells out before the shopper bought it. backordersInStock (default false). "
            "pacing: null notifies every waiting shopper at once; {perUnit, intervalMinutes} "
            "notifies perUnit shoppers per unit of stock, oldest request first, and every "
            "intervalMinutes the next ones while stock remains."
        ),
        ok=responses.WaitlistSettingsResponse,
        body=_storefront.SettingsBody,
        body_example={
            "rearm": True,
            "backordersInStock": False,
            "pacing": {"perUnit": 2, "intervalMinutes": 60},
        },
        tag="settings",
    ),
)


# --- carts ---------------------------------------------------------------------------------
OPERATIONS += (
    Operation(
        method="post",
        path="/api/woocommerce/events",
        id="cartEvents",
        summary="A batch of cart and checkout events from the store plugin",
        description=(
            "Each event is recorded once per id (a repeat counts in duplicates) and applied "
            "by occurredAt, whatever the arrival order. An event that cannot be taken is "
            "reported in failed by index and never fails the batch. A cart without an email "
            "is kept by sessionKey until the session identifies itself. Body at most 1 MiB, "
            "500 events. " + _PLUGIN_NOTE
        ),
        ok=_carts.EventsAccepted,
        errors=(403,),
        body=_carts.CartEventBody,
        params=_PLUGIN_HEADERS,
        security="plugin",
        tag="plugin",
    ),
    Operation(
        method="get",
        path="/api/sequences/{sequenceId}/recovery",
        id="getSequenceRecovery",
        summary="Revenue of orders placed within the attribution window after its emails",
        ok=sequences.SequenceRecovery,
        errors=(404,),
        params=(_SEQUENCE,),
        tag="sequences",
    ),
    Operation(
        method="get",
        path="/api/settings/cart-recovery",
        id="getCartRecoverySettings",
        summary="The company's cart abandonment, cooldown, expiry and attribution times",
        ok=sequences.CartRecoverySettings,
        tag="settings",
    ),
    Operation(
        method="put",
        path="/api/settings/cart-recovery",
        id="putCartRecoverySettings",
        summary="Set the cart recovery times (omitted keys take their defaults)",
        description=(
            "abandonAfterMinutes (60): inactivity before ecommerce.cart_abandoned; "
            "cooldownHours (24): at most one abandonment per subscriber in this time; "
            "anonymousExpiryHours (72): anonymous carts are forgotten after this idle time; "
            "attributionWindowHours (120): an order this soon after a recovery email counts "
            "for its sequence."
        ),
        ok=sequences.CartRecoverySettings,
        body=sequences.CartSettingsBody,
        body_example={"abandonAfterMinutes": 60, "cooldownHours": 24},
        tag="settings",
    ),
)


# --- shopify (issue 14): webhooks, OAuth install and callback, sync, privacy exports ------
ERRORS.setdefault(502, "Shopify could not be reached or refused the call; retry later")
TAGS.setdefault("shopify", "Shopify: webhooks, OAuth install, sync through the Admin API")
_SHOPIFY_HEADERS = tuple(
    _param("header", name, {"type": "string"}, required=False, doc=doc)
    for name, doc in (
        ("X-Shopify-Topic", "orders/create, inventory_levels/update, customers/redact, ..."),
        ("X-Shopify-Hmac-Sha256", "base64 HMAC-SHA256 of the raw body with the app's secret"),
        ("X-Shopify-Shop-Domain", "<name>.myshopify.com"),
        ("X-Shopify-Webhook-Id", "unique per delivery; a repeat has no second effect"),
    )
)
_SHOP = query("shop", {"type": "string"}, "the shop's <name>.myshopify.com domain")
OPERATIONS += (
    Operation(
        method="post",
        path="/api/shopify/webhooks",
        id="receiveShopifyWebhook",
        summary="Receive a Shopify webhook (every topic, every shop)",
        description=(
            "Verified with X-Shopify-Hmac-Sha256 over the raw body (bad HMAC: 401), stored "
            "with its job, deduplicated on X-Shopify-Webhook-Id. Privacy topics "
            "(customers/data_request, customers/redact, shop/redact) erase or export."
        ),
        ok=responses.WebhookReceived,
        errors=(400, 401, 404, 413, 415, 422),
        body={"type": "object", "description": "the topic's Shopify resource, unwrapped"},
        params=_SHOPIFY_HEADERS,
        security="none",
        tag="shopify",
    ),
    Operation(
        method="get",
        path="/api/shopify/install",
        id="installShopify",
        summary="Start connecting a shop: its OAuth consent page (302, or JSON when asked)",
        description=(
            "With Accept: application/json the answer is 200 {authorizeUrl}; otherwise a 302 "
            "redirect to that URL."
        ),
        ok=_shopify.ShopifyInstall,
        also=(302,),
        errors=(422,),
        params=(_SHOP,),
        tag="shopify",
    ),
    Operation(
        method="get",
        path="/api/shopify/callback",
        id="shopifyCallback",
        summary="Shopify's OAuth redirect: verify, exchange the code, register webhooks, sync",
        description=(
            "The query hmac (hex HMAC-SHA256 of the sorted parameters) and state are verified; "
            "missing scopes answer status reconnect_required with a reconnectUrl."
        ),
        ok=_shopify.ShopifyConnected,
        errors=(400, 401, 404, 422, 502),
        params=tuple(query(n) for n in ("code", "hmac", "shop", "state", "timestamp", "host")),
        security="none",
        tag="shopify",
    ),
    Operation(
        method="post",
        path="/api/shopify/sync",
        id="syncShopify",
        summary="Sync a connected shop's products, customers and orders through GraphQL",
        ok=_shopify.ShopifySynced,
        errors=(404, 502),
        body=_shopify.ShopifySyncBody,
        body_example={"shop": "demo-store.myshopify.com"},
        tag="shopify",
    ),
    Operation(
        method="get",
        path="/api/shopify/data-requests/{requestId}",
        id="getShopifyDataRequest",
        summary="The export a customers/data_request produced",
        ok=_shopify.ShopifyDataExport,
        errors=(404,),
        params=(path("requestId"),),
        tag="shopify",
    ),
)
# --- end shopify ----------------------------------------------------------------------------


# --- commerce api (issue 13): /api/v1 for custom stores (storeflow.web.commerce_api) -------
TAGS["commerce"] = "The Commerce API: a custom store's backend pushes catalogue, orders, checkouts"
_ID: Schema = {"type": "string", "minLength": 1, "maxLength": 64}
_CENTS: Schema = {"type": ["integer", "null"], "minimum": 0, "maximum": 2**63 - 1}
_TEXT: Schema = {"type": ["string", "null"], "maxLength": 500}
_URL: Schema = {"type": ["string", "null"], "maxLength": 1000}
_CURRENCY: Schema = {"type": "string", "pattern": "^[A-Za-z]{3}$"}
_CUSTOMER: Schema = {
    "type": "object",
    "properties": {
        "email": {"type": "string", "format": "email", "maxLength": 320},
        "externalId": {"type": ["string", "null"], "maxLength": 64},
        "firstName": {"type": ["string", "null"], "maxLength": 200},
        "lastName": {"type": ["string", "null"], "maxLength": 200},
        "attributes": {"type": ["object", "null"]},
    },
    "required": ["email"],
}
_ITEM: Schema = {
    "type": "object",
    "properties": {
        "productId": _ID,
        "variantId": {"type": ["string", "null"], "maxLength": 64},
        "title": {"type": "string", "minLength": 1, "maxLength": 500},
        "variantTitle": _TEXT,
        "quantity": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
        "priceCents": _CENTS,
        "sku": {"type": ["string", "null"], "maxLength": 200},
    },
    "required": ["productId", "title", "quantity"],
}
_API_PRODUCT: Schema = {
    "type": "object",
    "description": "Partial update: an omitted field keeps its stored value, null clears it.",
    "properties": {
        "productId": _ID,
        "title": _TEXT,
        "description": {"type": ["string", "null"], "maxLength": 5000},
        "imageUrl": _URL,
        "url": _URL,
        "priceCents": _CENTS,
        "compareAtPriceCents": _CENTS,
        "currency": {**_CURRENCY, "type": ["string", "null"]},
        "inStock": {"type": ["boolean", "null"]},
        "providerCreatedAt": {"type": ["string", "null"], "maxLength": 40},
        "variants": {
            "type": ["array", "null"],
            "maxItems": 100,
            "items": {
                "type": "object",
                "properties": {
                    "variantId": _ID,
                    "title": _TEXT,
                    "priceCents": _CENTS,
                    "inStock": {"type": ["boolean", "null"]},
                    "inventoryQuantity": {
                        "type": ["integer", "null"],
                        "minimum": -(2**31 - 1),
                        "maximum": 2**31 - 1,
                    },
                    "sku": {"type": ["string", "null"], "maxLength": 200},
                    "imageUrl": _URL,
                },
                "required": ["variantId"],
            },
        },
    },
    "required": ["productId"],
}
_TIME: Schema = {"type": "string", "format": "date-time", "maxLength": 40}
_API_ORDER: Schema = {
    "type": "object",
    "properties": {
        "orderId": _ID,
        "orderNumber": {"type": ["string", "null"], "maxLength": 64},
        "status": {"enum": ["placed", "cancelled", "fulfilled", "refunded"]},
        "totalCents": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
        "currency": _CURRENCY,
        "orderedAt": _TIME,
        "updatedAt": {
            **_TIME,
            "description": "the store's version time; storeflow's receive time when omitted",
        },
        "customer": _CUSTOMER,
        "items": {"type": "array", "maxItems": 1000, "items": _ITEM},
        "refundAmountCents": _CENTS,
        "customerTotals": {
            "type": ["object", "null"],
            "properties": {
                "ordersCount": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
                "totalSpentCents": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
            },
            "required": ["ordersCount", "totalSpentCents"],
        },
        "properties": {"type": ["object", "null"]},
    },
    "required": ["orderId", "totalCents", "currency", "customer", "items"],
}
OPERATIONS += (
    Operation(
        method="post",
        path="/api/v1/products",
        id="pushProducts",
        summary="Create or update 1 to 100 products (partial updates)",
        description=(
            "An omitted optional field keeps its stored value, an explicit null clears it. "
            "variantId defaults to productId (a simple product). A variant whose inStock "
            "turns true opens a back-in-stock restock (backInStockEventsTriggered)."
        ),
        ok=_commerce_api.ProductsPushed,
        errors=(429,),
        body={
            "type": "object",
            "properties": {
                "products": {"type": "array", "minItems": 1, "maxItems": 100, "items": _API_PRODUCT}
            },
            "required": ["products"],
        },
        body_example={
            "products": [
                {"productId": "mug", "title": "Mug", "priceCents": 1900, "currency": "EUR"}
            ]
        },
        tag="commerce",
    ),
    Operation(
        method="get",
        path="/api/v1/products",
        id="listApiProducts",
        summary="Products pushed through the Commerce API",
        ok=_commerce_api.ApiProducts,
        errors=(422, 429),
        params=(query("search"), *_page(50)),
        tag="commerce",
    ),
    Operation(
        method="delete",
        path="/api/v1/products/{productId}",
        id="deleteApiProduct",
        summary="Delete a product pushed through the Commerce API",
        ok=responses.Ok,
        errors=(404, 429),
        params=(path("productId"),),
        tag="commerce",
    ),
    Operation(
        method="post",
        path="/api/v1/orders",
        id="pushOrder",
        summary="Create or update an order (queued; idempotent by orderId)",
        description=(
            "Stored and answered 202; the worker applies it. Pushing the same order again "
            "never counts revenue twice; a push with another status emits that status's "
            "event. refunded without refundAmountCents is a full refund."
        ),
        ok=_commerce_api.OrderQueued,
        status=202,
        errors=(429,),
        body=_API_ORDER,
        body_example={
            "orderId": "A-1001",
            "totalCents": 4780,
            "currency": "EUR",
            "customer": {"email": "ada@example.com"},
            "items": [{"productId": "mug", "title": "Mug", "quantity": 2, "priceCents": 2390}],
        },
        tag="commerce",
    ),
    Operation(
        method="post",
        path="/api/v1/checkouts",
        id="pushCheckout",
        summary="Record a started checkout (emits ecommerce.checkout_started)",
        description="The same checkoutId again answers its first event.",
        ok=_commerce_api.CheckoutRecorded,
        errors=(429,),
        body={
            "type": "object",
            "properties": {
                "checkoutId": _ID,
                "totalCents": _CENTS,
                "currency": {**_CURRENCY, "type": ["string", "null"]},
                "checkoutUrl": {"type": ["string", "null"], "maxLength": 2000},
                "customer": _CUSTOMER,
                "items": {"type": ["array", "null"], "maxItems": 1000, "items": _ITEM},
                "properties": {"type": ["object", "null"]},
            },
            "required": ["checkoutId", "customer"],
        },
        body_example={"checkoutId": "chk-1", "customer": {"email": "ada@example.com"}},
        tag="commerce",
    ),
    Operation(
        method="post",
        path="/api/v1/back-in-stock",
        id="pushBackInStockRequest",
        summary="Put a shopper on a product's waitlist (no signup automation starts)",
        ok=_commerce_api.WaitlistRecorded,
        errors=(429,),
        body={
            "type": "object",
            "properties": {
                "productId": _ID,
                "variantId": {"type": ["string", "null"], "maxLength": 64},
                "productTitle": _TEXT,
                "variantTitle": _TEXT,
                "customer": _CUSTOMER,
            },
            "required": ["productId", "customer"],
        },
        body_example={"productId": "mug", "customer": {"email": "ada@example.com"}},
        tag="commerce",
    ),
    Operation(
        method="post",
        path="/api/v1/subscribers/events",
        id="pushSubscriberEvent",
        summary="Record a custom event of a subscriber (by email, or externalId of a buyer)",
        description=(
            "ecommerce.* names are refused (orders, checkouts and stock emit them). eventId, "
            "when sent, makes the push idempotent. customAttributes merge into the "
            "subscriber's attributes (the computed revenue attributes are kept)."
        ),
        ok=_commerce_api.SubscriberEventRecorded,
        errors=(404, 429),
        body={
            "type": "object",
            "properties": {
                "email": {"type": ["string", "null"], "format": "email", "maxLength": 320},
                "externalId": {"type": ["string", "null"], "maxLength": 64},
                "eventId": {"type": ["string", "null"], "maxLength": 100},
                "event": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$"},
                "properties": {"type": ["object", "null"]},
                "customAttributes": {"type": ["object", "null"]},
            },
            "required": ["event"],
        },
        body_example={"email": "ada@example.com", "event": "app_opened"},
        tag="commerce",
    ),
)
# --- end commerce api -----------------------------------------------------------------------
