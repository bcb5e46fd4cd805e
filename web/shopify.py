"""Shopify's routes: webhooks, the OAuth install and callback, sync, privacy exports.

- ``POST /api/shopify/webhooks``: every shop posts here; the shop is the
  ``X-Shopify-Shop-Domain`` header. The HMAC (the app's client secret, previous one
  accepted during a rotation) is checked before anything else, so an unknown shop
  learns nothing without a valid signature. Then the delivery is stored with its job in
  one short transaction, exactly like the WooCommerce webhooks. Privacy topics for a
  shop storeflow has no record of are answered 200 with nothing to do (Shopify
  requires a 2xx for them).
- ``GET /api/shopify/install?shop=``: started from storeflow with a company API key
  (the merchant connects their shop to their company); answers a redirect to the
  shop's OAuth consent page with a signed ``state`` (company, shop, nonce; 10 minutes).
- ``GET /api/shopify/callback``: verifies the query ``hmac``, the ``state`` and the shop
  domain, exchanges the code, stores the token encrypted, checks the granted scopes
  (missing ones: the integration stays ``pending`` and the answer asks for a
  reconnect), registers the webhooks and runs the initial sync.
- ``POST /api/shopify/sync?shop=``: a manual sync through the Admin GraphQL API.
- ``GET /api/shopify/data-requests/<requestId>``: the export a ``customers/data_request``
  produced, for the merchant to hand to the shopper.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any, Literal

import attrs
from flask import Blueprint, Response, redirect, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from storeflow.core import clock
from storeflow.core.commerce import ingest, privacy, sync
from storeflow.core.errors import (
    BadRequest,
    NotFound,
    StoreflowError,
    Unauthenticated,
    ValidationFailed,
)
from storeflow.core.runtime import Runtime
from storeflow.core.storage.session import Session
from storeflow.core.storage.tables import Company, Integration
from storeflow.core.stores import integrations
from storeflow.providers.shopify import admin_api, oauth, plugin, signature
from storeflow.web import inputs, responses
from storeflow.web.apischema import output
from storeflow.web.auth import company_from_api_key
from storeflow.web.runtime import rt
from storeflow.web.webhooks import webhook_request

bp = Blueprint("shopify", __name__)


# --- answers ---------------------------------------------------------------------------


def _omitted() -> Any:
    return attrs.field(default=None, metadata={"omit_none": True})


@output
@attrs.frozen(kw_only=True)
class ResourceSynced:
    items: int
    upserted: int
    failed: int


@output
@attrs.frozen(kw_only=True)
class ShopifySyncCounts:
    products: ResourceSynced
    customers: ResourceSynced
    orders: ResourceSynced


@output
@attrs.frozen(kw_only=True)
class ShopifyConnected(responses.Ok):
    """``status`` connected, or reconnect_required with the scopes still missing."""

    integration_id: str
    status: Literal["connected", "reconnect_required"]
    missing_scopes: list[str]
    reconnect_url: str | None = _omitted()
    webhooks_refused: list[str] | None = _omitted()
    sync: ShopifySyncCounts | None = _omitted()


@attrs.frozen(kw_only=True)
class ShopifySyncBody:
    """Which connected shop to sync."""

    shop: str = attrs.field(metadata={"doc": "the shop's <name>.myshopify.com domain"})


@output
@attrs.frozen(kw_only=True)
class ShopifyInstall(responses.Ok):
    """Where to send the merchant's browser (the shop's OAuth consent page)."""

    authorize_url: str


@output
@attrs.frozen(kw_only=True)
class ShopifySynced(responses.Ok):
    integration_id: str
    sync: ShopifySyncCounts


@output
@attrs.frozen(kw_only=True)
class ShopifyDataExport(responses.Ok):
    """What storeflow held about the shopper when the data request arrived."""

    request_id: str
    shop: str
    created_at: responses.Timestamp
    data: dict[str, Any]


STATE_MAX_AGE = 600
PROVIDER = "shopify"


class ShopifyUnavailable(StoreflowError):
    status, code = 502, "shopify_unavailable"


def _secrets(runtime: Runtime) -> str:
    current = runtime.settings.shopify_api_secret
    if not current:
        raise Unauthenticated(
            "Shopify is not set up here: STOREFLOW_SHOPIFY_API_SECRET is empty",
            code="shopify_not_configured",
        )
    return " ".join(s for s in (current, runtime.settings.shopify_previous_api_secret) if s)


def _store_url(shop: str) -> str:
    return f"https://{shop}"


# --- webhooks ----------------------------------------------------------------------------


@bp.post("/api/shopify/webhooks")
def receive() -> Response:
    runtime = rt()
    provider = runtime.providers[PROVIDER]
    inbound = webhook_request()
    verified = provider.verify_webhook(inbound, _secrets(runtime))
    shop = oauth.valid_shop(verified.headers.get("x-shopify-shop-domain"))
    if shop is None:
        raise ValidationFailed(
            "X-Shopify-Shop-Domain must be the shop's <name>.myshopify.com domain",
            code="invalid_shop",
            details=[{"path": "header X-Shopify-Shop-Domain", "message": "not *.myshopify.com"}],
        )
    with runtime.reading() as session:
        integration = integrations.find_by_store_url(session, PROVIDER, _store_url(shop))
    if integration is None:
        if verified.topic in plugin.PRIVACY_TOPICS:
            # Nothing of this shop is stored: the request is fulfilled as it is.
            return responses.respond(responses.WebhookReceived())
        raise NotFound(f"no store is connected for {shop}", code="integration_not_found")
    error = ingest.check(provider, verified, inbound.body)
    with runtime.unit_of_work() as session:
        received = ingest.store(session, integration, provider, verified, inbound.body, error)
    if received.error is not None:
        raise received.error
    return responses.respond(
        responses.WebhookReceived(duplicate=received.duplicate, delivery_id=received.delivery_id)
    )


# --- OAuth ---------------------------------------------------------------------------------


def _serializer(runtime: Runtime) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(runtime.settings.secret_key, salt="storeflow.shopify.oauth")


def _shop_arg(value: str | None, path: str = "query.shop") -> str:
    shop = oauth.valid_shop(value)
    if shop is None:
        raise ValidationFailed(
            "shop must be the shop's <name>.myshopify.com domain",
            code="invalid_shop",
            details=[{"path": path, "message": "not a *.myshopify.com domain"}],
        )
    return shop


def _authorize_url(runtime: Runtime, company_id: int, shop: str) -> str:
    state = _serializer(runtime).dumps({"c": company_id, "s": shop, "n": secrets.token_urlsafe(16)})
    settings = runtime.settings
    return oauth.authorize_url(
        settings.shopify_base_url,
        shop,
        api_key=settings.shopify_api_key,
        redirect_uri=f"{settings.base_url}/api/shopify/callback",
        state=state,
    )


@bp.get("/api/shopify/install")
def install() -> Response:
    runtime = rt()
    _secrets(runtime)
    shop = _shop_arg(request.args.get("shop"))
    with runtime.reading() as session:
        company = company_from_api_key(session)
        company_id = company.id
    url = _authorize_url(runtime, company_id, shop)
    # An admin page holding the API key asks for JSON and then navigates the browser;
    # anything else (a link, curl -L) gets the redirect itself.
    if request.accept_mimetypes.best == "application/json":
        return responses.respond(ShopifyInstall(authorize_url=url))
    return redirect(url, code=302)  # type: ignore[return-value]


def _state(runtime: Runtime, value: str | None, shop: str) -> int:
    """The company the install was started for; 401 for a forged, stale or foreign state."""
    try:
        data = _serializer(runtime).loads(value or "", max_age=STATE_MAX_AGE)
    except BadSignature:
        raise Unauthenticated(
            "the state parameter is not one storeflow issued (or it expired)", code="invalid_state"
        ) from None
    if not isinstance(data, dict) or data.get("s") != shop or not isinstance(data.get("c"), int):
        raise Unauthenticated(
            "the state parameter was issued for another shop", code="invalid_state"
        )
    return int(data["c"])


@bp.get("/api/shopify/callback")
def callback() -> Response:
    runtime = rt()
    settings = runtime.settings
    params = {key: request.args.get(key, "") for key in request.args}
    if not signature.verify_query(params, _secrets(runtime).split()):
        raise Unauthenticated("the query's hmac does not match", code="invalid_hmac")
    shop = _shop_arg(params.get("shop"))
    company_id = _state(runtime, params.get("state"), shop)
    code = params.get("code", "").strip()
    if not code:
        raise BadRequest("the callback carries no code", code="missing_code")
    try:
        token, scope = admin_api.exchange_code(
            settings.shopify_base_url,
            shop,
            api_key=settings.shopify_api_key,
            api_secret=settings.shopify_api_secret,
            code=code,
        )
    except admin_api.ShopifyAPIError as exc:
        raise ShopifyUnavailable(f"the token exchange failed: {exc}") from None
    missing = oauth.missing_scopes(scope)
    with runtime.unit_of_work() as session:
        integration = _connect(session, runtime, company_id, shop, token, scope, missing)
        integration_id = integration.id
    if missing:
        answer = ShopifyConnected(
            integration_id=integration_id,
            status="reconnect_required",
            missing_scopes=missing,
            reconnect_url=_authorize_url(runtime, company_id, shop),
        )
        return responses.respond(answer)
    refused = _register_webhooks(runtime, integration_id, shop, token)
    result = run_sync(runtime, integration_id)
    connected = ShopifyConnected(
        integration_id=integration_id,
        status="connected",
        missing_scopes=[],
        webhooks_refused=refused,
        sync=result,
    )
    return responses.respond(connected)


def _connect(
    session: Session,
    runtime: Runtime,
    company_id: int,
    shop: str,
    token: str,
    scope: str,
    missing: list[str],
) -> Integration:
    company = session.get(Company, company_id)
    if company is None:
        raise NotFound("the company this install was started for is gone", code="company_not_found")
    integration = integrations.find_for_store(session, company_id, PROVIDER, _store_url(shop))
    if integration is None:
        integration = integrations.create(
            session, company, PROVIDER, store_url=_store_url(shop), name=shop
        )
    integrations.store_access_token(integration, token, _token_key(runtime))
    integration.status = "pending" if missing else "connected"
    integration.connected_at = None if missing else clock.now()
    integration.disconnected_at = None
    integration.disconnect_reason = None
    integration.settings = {
        **(integration.settings or {}),
        "shopifyScopes": scope,
        "missingScopes": missing,
    }
    return integration


def _token_key(runtime: Runtime) -> str:
    return runtime.settings.token_key or runtime.settings.secret_key


def _register_webhooks(runtime: Runtime, integration_id: str, shop: str, token: str) -> list[str]:
    settings = runtime.settings
    api = admin_api.AdminAPI(settings.shopify_base_url, shop, token, settings.shopify_api_version)
    try:
        refused = api.register_webhooks(
            f"{settings.base_url}/api/shopify/webhooks", plugin.SUBSCRIBED
        )
    except admin_api.ShopifyAPIError as exc:
        refused = [f"*: {exc}"]
    with runtime.unit_of_work() as session:
        row = session.get_one(Integration, integration_id)
        row.settings = {**(row.settings or {}), "webhooksRefused": refused}
    return refused


# --- sync ------------------------------------------------------------------------------------


def run_sync(runtime: Runtime, integration_id: str) -> ShopifySyncCounts:
    """Read products, customers and orders through GraphQL, page by page, and apply each
    page as a sync batch (history: no automations start). One transaction per page."""
    with runtime.reading() as session:
        row = session.get_one(Integration, integration_id)
        token = integrations.access_token(row, _token_key(runtime))
        shop = row.store_url.removeprefix("https://")
    if token is None:
        raise Unauthenticated(
            "no usable access token: reconnect the shop", code="reconnect_required"
        )
    settings = runtime.settings
    api = admin_api.AdminAPI(settings.shopify_base_url, shop, token, settings.shopify_api_version)
    provider = runtime.providers[PROVIDER]
    run_id = f"shopify-{uuid.uuid4().hex}"
    counts: dict[str, ResourceSynced] = {}
    try:
        for resource in ("products", "customers", "orders"):
            items_seen = upserted = failed = 0
            for page, (items, last) in enumerate(api.pages(resource), start=1):
                batch = sync.Batch(run_id, page, last, items)
                with runtime.unit_of_work() as session:
                    integration = session.get_one(Integration, integration_id)
                    result = sync.apply_batch(session, integration, provider, resource, batch)
                items_seen += len(items)
                upserted += result.upserted
                failed += len(result.failed)
            counts[resource] = ResourceSynced(items=items_seen, upserted=upserted, failed=failed)
    except admin_api.ShopifyAPIError as exc:
        raise ShopifyUnavailable(f"the sync stopped: {exc}") from None
    return ShopifySyncCounts(**counts)


def _company_integration(runtime: Runtime, shop: str) -> str:
    with runtime.reading() as session:
        company = company_from_api_key(session)
        row = integrations.find_for_store(session, company.id, PROVIDER, _store_url(shop))
        if row is None:
            raise NotFound(f"{shop} is not connected to this company", code="integration_not_found")
        return row.id


@bp.post("/api/shopify/sync")
def manual_sync() -> Response:
    runtime = rt()
    body = inputs.structure(inputs.json_body(), ShopifySyncBody)
    integration_id = _company_integration(runtime, _shop_arg(body.shop, "$.shop"))
    synced = ShopifySynced(integration_id=integration_id, sync=run_sync(runtime, integration_id))
    return responses.respond(synced)


# --- privacy exports ---------------------------------------------------------------------------


@bp.get("/api/shopify/data-requests/<request_id>")
def data_request(request_id: str) -> Response:
    runtime = rt()
    with runtime.reading() as session:
        company = company_from_api_key(session)
        row = privacy.find_export(session, company.id, request_id)
        if row is None:
            raise NotFound("no export for this data request", code="data_request_not_found")
        integration = session.get(Integration, row.integration_id)
        answer = ShopifyDataExport(
            request_id=row.request_id,
            shop=integration.store_url.removeprefix("https://") if integration else "",
            created_at=row.created_at.isoformat(),
            data=row.data,
        )
        return responses.respond(answer)
