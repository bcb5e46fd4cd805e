"""The Commerce API for custom stores: ``/api/v1/...`` with the company API key.

A store that is neither WooCommerce nor Shopify pushes its catalogue, orders,
checkouts and waitlist requests. Records are stored under provider ``api``
(``storeflow.providers.commerce_api``), in one integration per company that the
first push creates. Every route counts against the key's rate limit (429 with
``Retry-After``).

- Orders go through the delivery flow of webhooks: the body is validated, stored
  raw (plus ``receivedAt``) with a ``delivery`` job, answered 202, and the worker
  maps and applies it: idempotent by ``orderId``, status changes emit their events.
- Products are answered with what was written, so they are applied in the request:
  the push is merged with the stored product (an omitted field keeps its value, an
  explicit ``null`` clears it), the merged document is stored as the delivery and
  applied through the same ``ingest`` functions the worker uses (its job then finds
  the delivery done). Stock turning true drives back-in-stock like a restock.
- Checkouts, waitlist requests and subscriber events answer the ids of what they
  created, so they are written in the request too.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Any, cast

import attrs
from flask import Blueprint, Response, request

from storeflow.core import clock, ratelimit
from storeflow.core.commerce import catalog, events, ingest, pushes, records, subscribers, waitlists
from storeflow.core.emails import usable_email
from storeflow.core.errors import NotFound
from storeflow.core.storage.session import Session
from storeflow.core.storage.tables import Company, Integration, Subscriber
from storeflow.core.stores import integrations
from storeflow.providers.commerce_api import plugin as api_provider
from storeflow.providers.commerce_api import wire
from storeflow.web import ratelimits, responses
from storeflow.web.apischema import output
from storeflow.web.auth import bearer_token, company_from_api_key
from storeflow.web.inputs import json_body
from storeflow.web.params import int_arg
from storeflow.web.products import product_of
from storeflow.web.runtime import rt

bp = Blueprint("commerce_api", __name__, url_prefix="/api/v1")

PROVIDER = api_provider.NAME
EVENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")
RESERVED_ATTRIBUTES = frozenset(
    {"ordersCount", "totalSpent", "ltv", "aov", "currency", "firstOrderAt", "lastOrderAt"}
)


# --- response shapes ---------------------------------------------------------------------


@output
@attrs.frozen(kw_only=True)
class ProductsPushed(responses.Ok):
    upserted: int
    back_in_stock_events_triggered: int
    products: list[responses.Product]


@output
@attrs.frozen(kw_only=True)
class Pagination:
    total: int
    has_more: bool


@output
@attrs.frozen(kw_only=True)
class ApiProducts(responses.Ok):
    products: list[responses.Product]
    pagination: Pagination


@output
@attrs.frozen(kw_only=True)
class OrderQueued(responses.Ok):
    queued: bool
    job_id: int | None
    order_id: str
    status: str


@output
@attrs.frozen(kw_only=True)
class CheckoutRecorded(responses.Ok):
    checkout_id: str
    subscriber_id: int
    event_id: int | None


@output
@attrs.frozen(kw_only=True)
class WaitlistRecorded(responses.Ok):
    subscriber_id: int


@output
@attrs.frozen(kw_only=True)
class ApiSubscriber:
    id: int
    email: str
    external_id: str | None
    created: bool


@output
@attrs.frozen(kw_only=True)
class ApiEventRef:
    id: int | None
    name: str


@output
@attrs.frozen(kw_only=True)
class SubscriberEventRecorded(responses.Ok):
    subscriber: ApiSubscriber
    event: ApiEventRef


# --- who is pushing -----------------------------------------------------------------------


def _limit() -> ratelimit.Limit:
    return ratelimit.Limit("commerce-api", rt().settings.commerce_api_per_minute, 60)


def _authenticate() -> int:
    """The key's company id, before the body is looked at: 401 and 429 come first."""
    with rt().reading() as session:
        company_id = company_from_api_key(session).id
    key = hashlib.sha256(bearer_token().encode()).hexdigest()[:24]
    ratelimits.enforce(_limit(), key, "too many Commerce API requests for this API key")
    return company_id


def _caller(session: Session, company_id: int) -> tuple[Company, Integration]:
    """The company (authenticated by :func:`_authenticate`) and its Commerce API integration."""
    company = session.get_one(Company, company_id)
    return company, _integration(session, company)


def _integration(session: Session, company: Company) -> Integration:
    return pushes.integration_for(session, company, PROVIDER, "Commerce API")


def _raw() -> bytes:
    json_body()  # content type and JSON syntax: 415 / 400 in the contract's shape
    return request.get_data(cache=True)


def _now_iso() -> str:
    return clock.now().isoformat()


# --- products -------------------------------------------------------------------------------


@bp.post("/products")
def push_products() -> Response:
    company_id = _authenticate()
    raw = _raw()
    provider = _provider()
    items = wire.check_products(wire.loads(raw))
    with rt().unit_of_work() as session:
        _, integration = _caller(session, company_id)
        merged = [merge_product(_stored(session, integration, item), item) for item in items]
        body = api_provider.stamped(api_provider.encode({"products": merged}), _now_iso())
        verified = provider.verified(api_provider.PRODUCTS, body)
        applied, triggered = pushes.apply_now(session, integration, provider, verified, body)
        pids = list(dict.fromkeys(str(item["productId"]) for item in items))
        answer = ProductsPushed(
            upserted=applied.upserted,
            back_in_stock_events_triggered=triggered,
            products=_products(session, integration, pids),
        )
        return responses.respond(answer)


def merge_product(stored: dict[str, Any] | None, pushed: dict[str, Any]) -> dict[str, Any]:
    """The product after a partial push: omitted fields keep, ``null`` clears."""
    if stored is None:
        return dict(pushed)
    merged = {**stored, **{key: value for key, value in pushed.items() if key != "variants"}}
    if "variants" not in pushed:
        return merged
    if not pushed["variants"]:
        merged.pop("variants", None)
        return merged
    before = {str(v["variantId"]): v for v in stored.get("variants") or ()}
    variants = [{**before.pop(str(v["variantId"]), {}), **v} for v in pushed["variants"]]
    merged["variants"] = variants + list(before.values())
    return merged


def _in_stock(status: str | None) -> bool | None:
    return None if status is None else waitlists.in_stock(status, None)


def _stored(session: Session, integration: Integration, pushed: dict[str, Any]) -> Any:
    pid = str(pushed["productId"])
    row = catalog.get_product(session, integration.company_id, PROVIDER, pid, integration.id)
    if row is None or row.deleted:
        return None
    variants = catalog.variants_of(session, [row.id]).get(row.id, [])
    document: dict[str, Any] = {
        "productId": pid,
        "title": row.title,
        "url": row.url,
        "imageUrl": row.image_url,
        "priceCents": row.price_cents,
        "currency": row.currency,
        "inStock": _in_stock(row.stock_status),
    }
    simple = len(variants) == 1 and variants[0].provider_variant_id == pid
    if simple:
        document["inventoryQuantity"] = variants[0].stock_quantity
        document["sku"] = variants[0].sku
    elif variants:
        document["variants"] = [
            {
                "variantId": v.provider_variant_id,
                "title": v.title,
                "priceCents": v.price_cents,
                "inStock": _in_stock(v.stock_status),
                "inventoryQuantity": v.stock_quantity,
                "sku": v.sku,
                "imageUrl": v.image_url,
            }
            for v in variants
        ]
    return document


def _products(session: Session, integration: Integration, pids: list[str]) -> list[Any]:
    rows = [
        catalog.get_product(session, integration.company_id, PROVIDER, pid, integration.id)
        for pid in pids
    ]
    found = [row for row in rows if row is not None]
    variants = catalog.variants_of(session, [row.id for row in found])
    return [product_of(row, variants.get(row.id, [])) for row in found]


@bp.get("/products")
def list_products() -> Response:
    company_id = _authenticate()
    limit = int_arg("limit", 50, low=1, high=500)
    offset = int_arg("offset", 0, low=0, high=10**9)
    with rt().unit_of_work() as session:
        company, integration = _caller(session, company_id)
        rows, total = catalog.list_products(
            session,
            company.id,
            provider=PROVIDER,
            search=(request.args.get("search") or "")[:200] or None,
            limit=limit,
            offset=offset,
        )
        variants = catalog.variants_of(session, [row.id for row in rows])
        answer = ApiProducts(
            products=[product_of(row, variants.get(row.id, [])) for row in rows],
            pagination=Pagination(total=total, has_more=offset + len(rows) < total),
        )
        return responses.respond(answer)


@bp.delete("/products/<product_id>")
def delete_product(product_id: str) -> Response:
    company_id = _authenticate()
    with rt().unit_of_work() as session:
        _, integration = _caller(session, company_id)
        row = catalog.get_product(
            session, integration.company_id, PROVIDER, product_id, integration.id
        )
        if row is None or row.deleted:
            raise NotFound(
                f"no product {product_id!r} pushed through the Commerce API",
                code="product_not_found",
            )
        catalog.mark_deleted(session, integrations.context(integration), PROVIDER, product_id)
        return responses.respond(responses.Ok())


# --- orders ---------------------------------------------------------------------------------


@bp.post("/orders")
def push_order() -> Response:
    company_id = _authenticate()
    raw = _raw()
    provider = _provider()
    order = wire.check_order(wire.loads(raw))
    body = api_provider.stamped(raw, _now_iso())
    verified = provider.verified(api_provider.ORDERS, body)
    with rt().unit_of_work() as session:
        _, integration = _caller(session, company_id)
        received = ingest.store(session, integration, provider, verified, body, None)
        job_id = pushes.delivery_job(session, received.delivery_id)
    answer = OrderQueued(
        queued=True,
        job_id=job_id,
        order_id=str(order["orderId"]),
        status=str(order.get("status") or "placed"),
    )
    return responses.respond(answer, 202)


# --- checkouts, waitlists, subscriber events ----------------------------------------------


@bp.post("/checkouts")
def push_checkout() -> Response:
    company_id = _authenticate()
    data = json_body()  # floats, not Decimal: these bodies go to JSON columns
    checkout = _check_checkout(data)
    with rt().unit_of_work() as session:
        _, integration = _caller(session, company_id)
        buyer = checkout["customer"]
        subscriber = subscribers.upsert(
            session,
            integration.company_id,
            buyer["email"],
            buyer.get("firstName") or "",
            buyer.get("lastName") or "",
        )
        checkout_id = str(checkout["checkoutId"])
        currency = str(checkout.get("currency") or integration.currency).upper()
        properties = {
            **(checkout.get("properties") or {}),
            "cartId": checkout_id,
            "checkoutId": checkout_id,
            "totalCents": checkout.get("totalCents"),
            "currency": currency,
            "checkoutUrl": checkout.get("checkoutUrl"),
            "lineItems": [_line(item) for item in checkout.get("items") or ()],
        }
        key = f"{integration.id}:checkout:{checkout_id}"
        event_id = events.append(
            session,
            company_id=integration.company_id,
            name="ecommerce.checkout_started",
            key=key,
            occurred_at=clock.now(),
            subscriber=subscriber,
            properties=properties,
            provider=PROVIDER,
            integration_id=integration.id,
        )
        if event_id is None:  # the same checkout again: its first event
            event_id = pushes.event_by_key(session, integration.company_id, key)
        answer = CheckoutRecorded(
            checkout_id=checkout_id, subscriber_id=subscriber.id, event_id=event_id
        )
        return responses.respond(answer)


def _line(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "provider": PROVIDER,
        "providerProductId": str(item["productId"]),
        "providerVariantId": str(item.get("variantId") or item["productId"]),
        "title": item.get("title") or "",
        "variantTitle": item.get("variantTitle") or "",
        "quantity": item.get("quantity") or 1,
        "priceCents": item.get("priceCents"),
        "sku": item.get("sku") or "",
    }


def _check_checkout(data: Any) -> dict[str, Any]:
    problems = wire.Problems()
    checkout = problems.object(data, "$")
    problems.string(checkout, "checkoutId", "$", required=True, size=64)
    problems.integer(checkout, "totalCents", "$")
    problems.currency(checkout, "currency", "$")
    problems.string(checkout, "checkoutUrl", "$", size=2000)
    problems.customer(checkout, "$")
    items = checkout.get("items")
    if items is not None and (not isinstance(items, list) or len(items) > 1000):
        problems.add("$.items", "must be a list of at most 1000 items")
    for index, item in enumerate(items if isinstance(items, list) else []):
        where = f"$.items[{index}]"
        line = problems.object(item, where)
        if line:
            problems.string(line, "productId", where, required=True, size=64)
            problems.string(line, "variantId", where, size=64)
            problems.string(line, "title", where, size=500)
            problems.string(line, "variantTitle", where, size=500)
            problems.integer(line, "quantity", where, low=1, high=wire.MAX_QUANTITY)
            problems.integer(line, "priceCents", where)
            problems.string(line, "sku", where, size=200)
    if checkout.get("properties") is not None and not isinstance(checkout["properties"], dict):
        problems.add("$.properties", "must be an object")
    problems.raise_any("checkout")
    return checkout


@bp.post("/back-in-stock")
def push_back_in_stock() -> Response:
    company_id = _authenticate()
    data = json_body()  # floats, not Decimal: these bodies go to JSON columns
    problems = wire.Problems()
    body = problems.object(data, "$")
    problems.string(body, "productId", "$", required=True, size=64)
    problems.string(body, "variantId", "$", size=64)
    problems.string(body, "productTitle", "$", size=500)
    problems.string(body, "variantTitle", "$", size=500)
    problems.customer(body, "$")
    problems.raise_any("back-in-stock request")
    with rt().unit_of_work() as session:
        _, integration = _caller(session, company_id)
        requested = waitlists.request(
            session,
            integration,
            email=body["customer"]["email"],
            provider_product_id=str(body["productId"]),
            provider_variant_id=body.get("variantId"),
            product_title=body.get("productTitle") or "",
            variant_title=body.get("variantTitle"),
        )
        return responses.respond(WaitlistRecorded(subscriber_id=requested.entry.subscriber_id))


@bp.post("/subscribers/events")
def push_subscriber_event() -> Response:
    company_id = _authenticate()
    data = json_body()  # floats, not Decimal: these bodies go to JSON columns
    body = _check_subscriber_event(data)
    with rt().unit_of_work() as session:
        _, integration = _caller(session, company_id)
        subscriber, created = _subscriber_for(session, integration, body)
        custom = body.get("customAttributes") or {}
        if custom:
            kept = {k: v for k, v in custom.items() if k not in RESERVED_ATTRIBUTES}
            subscriber.attributes = {**(subscriber.attributes or {}), **kept}
        name = str(body["event"])
        event_key = body.get("eventId") or uuid.uuid4().hex
        key = f"{integration.id}:subscriber_event:{event_key}"
        event_id = events.append(
            session,
            company_id=integration.company_id,
            name=cast(records.EventName, name),  # custom names are the store's own
            key=key,
            occurred_at=clock.now(),
            subscriber=subscriber,
            properties=dict(body.get("properties") or {}),
            provider=PROVIDER,
            integration_id=integration.id,
        )
        if event_id is None:
            event_id = pushes.event_by_key(session, integration.company_id, key)
        answer = SubscriberEventRecorded(
            subscriber=ApiSubscriber(
                id=subscriber.id,
                email=subscriber.email,
                external_id=body.get("externalId"),
                created=created,
            ),
            event=ApiEventRef(id=event_id, name=name),
        )
        return responses.respond(answer)


def _check_subscriber_event(data: Any) -> dict[str, Any]:
    problems = wire.Problems()
    body = problems.object(data, "$")
    problems.string(body, "email", "$", size=320)
    problems.string(body, "externalId", "$", size=64)
    problems.string(body, "eventId", "$", size=100)
    if isinstance(body.get("email"), str) and usable_email(body["email"]) is None:
        problems.add("$.email", "must be an email address")
    if not body.get("email") and not body.get("externalId"):
        problems.add("$.email", "email or externalId is required")
    event = body.get("event")
    if not isinstance(event, str) or not EVENT_NAME.fullmatch(event):
        problems.add("$.event", "must be a name of 1 to 100 letters, digits and _.:-")
    elif event.startswith("ecommerce."):
        problems.add("$.event", "ecommerce.* events come from orders, checkouts and stock")
    for key in ("properties", "customAttributes"):
        if body.get(key) is not None and not isinstance(body[key], dict):
            problems.add(f"$.{key}", "must be an object")
    problems.raise_any("subscriber event")
    return body


def _subscriber_for(
    session: Session, integration: Integration, body: dict[str, Any]
) -> tuple[Subscriber, bool]:
    email = body.get("email")
    if not email:
        subscriber_id = pushes.buyer(session, integration.id, str(body.get("externalId")))
        if subscriber_id is None:
            raise NotFound(
                f"no subscriber with externalId {body.get('externalId')!r}; send their email",
                code="subscriber_not_found",
            )
        return subscribers.get(session, subscriber_id), False
    created = not pushes.is_subscriber(session, integration.company_id, email)
    return subscribers.upsert(session, integration.company_id, email), created


def _provider() -> api_provider.CommerceApiProvider:
    provider = rt().providers.get(PROVIDER)
    if not isinstance(provider, api_provider.CommerceApiProvider):
        raise NotFound("the Commerce API provider is not loaded", code="provider_not_found")
    return provider
