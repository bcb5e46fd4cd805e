"""Storefront routes: the shopper's browser asks to be told when a variant is back.

``POST /api/woocommerce/back-in-stock/subscribe`` is called from the store's own
pages, so it carries no key: the store is found by ``storeUrl`` (``companyId``
picks one company when several connect the same store), and the ``Origin`` header
must be that store's (403 otherwise). CORS answers only a connected store's
origin, always with ``Vary: Origin`` so that a shared cache never hands one
store's answer to another. Bodies are capped at ``storefront_body_limit`` (32 KiB)
and requests are rate limited per client IP and per email.

``GET /storefront/back-in-stock.js`` is the drop-in snippet (``docs/woocommerce.md``
shows the HTML block a merchant pastes on a product page).
"""

from __future__ import annotations

from pathlib import Path

import attrs
from flask import Blueprint, Response, g, jsonify, request, send_from_directory

from storeflow.core import emails, ratelimit
from storeflow.core.commerce import waitlists
from storeflow.core.errors import Forbidden, PayloadTooLarge, ValidationFailed
from storeflow.web import inputs, ratelimits, responses
from storeflow.web.auth import company_from_api_key
from storeflow.web.errors import error_response
from storeflow.web.runtime import rt

bp = Blueprint("storefront", __name__)

SUBSCRIBE = "/api/woocommerce/back-in-stock/subscribe"
PROVIDER = "woocommerce"
STATIC = Path(__file__).parent / "static"
SNIPPET = "back-in-stock.js"
_ORIGIN = "storeflow.storefront_origin"


@attrs.frozen(kw_only=True)
class SubscribeBody:
    store_url: str = attrs.field(metadata={"max": 500})
    company_id: int | None = None
    email: str = attrs.field(metadata={"max": 320})
    provider_product_id: str = attrs.field(metadata={"max": 64})
    provider_variant_id: str | None = attrs.field(default=None, metadata={"max": 64})
    product_title: str = attrs.field(default="", metadata={"max": 500})
    variant_title: str | None = attrs.field(default=None, metadata={"max": 500})


def _limits() -> tuple[ratelimit.Limit, ratelimit.Limit]:
    settings = rt().settings
    return (
        ratelimit.Limit("back-in-stock-ip", settings.storefront_ip_per_minute, 60),
        ratelimit.Limit("back-in-stock-email", settings.storefront_email_per_hour, 3600),
    )


def _check_size() -> bytes:
    limit = rt().settings.storefront_body_limit
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(
            f"storefront requests are limited to {limit} bytes", code="payload_too_large"
        )
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        raise PayloadTooLarge(
            f"storefront requests are limited to {limit} bytes", code="payload_too_large"
        )
    return raw


def _email(value: str) -> str:
    """What store data accepts (``emails.check_email``: deliverable, no DNS look-up),
    in the form subscribers are stored in, so a shopper asking here and buying later
    is one subscriber."""
    try:
        return emails.check_email(value)
    except emails.InvalidAddress as exc:
        raise ValidationFailed(
            "email is not a valid address", details=[{"path": "$.email", "message": str(exc)}]
        ) from None


def _body() -> SubscribeBody:
    body = inputs.structure(inputs.json_body(), SubscribeBody)
    problems = [
        {"path": f"$.{name}", "message": "must not be empty"}
        for name, value in (
            ("storeUrl", body.store_url),
            ("providerProductId", body.provider_product_id),
        )
        if not value.strip()
    ]
    if problems:
        raise ValidationFailed("invalid back-in-stock request", details=problems)
    return body


@bp.route(SUBSCRIBE, methods=["OPTIONS"])
def preflight() -> Response:
    """CORS preflight: allowed only for the origin of a connected store."""
    origin = request.headers.get("Origin", "")
    with rt().reading() as session:
        known = bool(origin) and bool(waitlists.stores_for_origin(session, PROVIDER, origin))
    if not known:
        response = error_response(403, "forbidden", "this origin is not a connected store")
    else:
        response = Response(status=204)
        g.setdefault(_ORIGIN, origin)
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    return response


@bp.post(SUBSCRIBE)
def subscribe() -> Response:
    _check_size()
    ip_limit, email_limit = _limits()
    ratelimits.enforce(ip_limit, ratelimits.client_ip(), "too many back-in-stock requests")
    body = _body()
    email = _email(body.email)
    origin = request.headers.get("Origin", "")
    with rt().unit_of_work() as session:
        store = waitlists.find_store(session, PROVIDER, body.store_url, body.company_id)
        if waitlists.origin_key(origin) != waitlists.store_origin_key(store.store_url):
            raise Forbidden(
                "the request must come from the store's own pages (Origin header)",
                code="wrong_origin",
            )
        g.setdefault(_ORIGIN, origin)
        ratelimits.enforce(
            email_limit, f"{store.company_id}:{email.lower()}", "too many requests for this email"
        )
        waitlists.request(
            session,
            store,
            email=email,
            provider_product_id=body.provider_product_id.strip(),
            provider_variant_id=(body.provider_variant_id or "").strip() or None,
            product_title=body.product_title,
            variant_title=body.variant_title,
        )
    return jsonify({"success": True})


@bp.after_request
def _cors(response: Response) -> Response:
    """Let the store's page read the answer (errors too, once its origin is known)."""
    if request.path != SUBSCRIBE:
        return response
    response.vary.add("Origin")
    origin = g.get(_ORIGIN)
    if origin is None and response.status_code >= 400:
        origin = _known_origin()
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
    return response


def _known_origin() -> str | None:
    origin = request.headers.get("Origin", "")
    if not origin:
        return None
    try:
        with rt().reading() as session:
            return origin if waitlists.stores_for_origin(session, PROVIDER, origin) else None
    except Exception:  # the answer is an error already; CORS headers are a courtesy
        return None


# --- the company's back-in-stock settings (admin API) ---------------------------------------


@attrs.frozen(kw_only=True)
class PacingBody:
    per_unit: int = attrs.field(metadata={"schema": {"minimum": 1, "maximum": 10_000}})
    interval_minutes: int = attrs.field(
        default=60, metadata={"schema": {"minimum": 1, "maximum": 10_080}}
    )


@attrs.frozen(kw_only=True)
class SettingsBody:
    """``PUT /api/settings/back-in-stock`` (``waitlists.parse_settings`` validates it)."""

    rearm: bool = True
    backorders_in_stock: bool = False
    pacing: PacingBody | None = None


def _settings_response(value: waitlists.WaitlistSettings) -> Response:
    settings = responses.load(value.to_json(), responses.WaitlistSettings)
    return responses.respond(responses.WaitlistSettingsResponse(settings=settings))


@bp.get("/api/settings/back-in-stock")
def get_settings() -> Response:
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        return _settings_response(waitlists.settings_of(company))


@bp.put("/api/settings/back-in-stock")
def put_settings() -> Response:
    value = waitlists.parse_settings(inputs.json_body())
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        waitlists.save_settings(company, value)
        return _settings_response(value)


@bp.get(f"/storefront/{SNIPPET}")
def snippet() -> Response:
    response = send_from_directory(STATIC, SNIPPET, mimetype="text/javascript")
    response.cache_control.public = True
    response.cache_control.max_age = 3600
    # Any store's pages may load the script (a <script> tag needs no CORS; fetch() does).
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
