"""Provider-native webhooks: verify, store with a job, answer fast.

``POST /api/<provider>/webhooks/<integration_id>``. The provider checks the
signature over the raw body bytes; a bad signature is a 401 and nothing is stored.
An authentic delivery is stored with its outbox job in one transaction and
answered 200 (WooCommerce counts 2xx as success and never retries, so a 5xx after
commit would be the worst answer). Authentic but invalid bodies are stored as
failed with their reason and answered with the 4xx the contract asks for.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from storeflow.core.commerce import ingest
from storeflow.core.errors import NotFound, Unauthenticated
from storeflow.core.stores import integrations
from storeflow.core.stores.provider import WebhookRequest
from storeflow.web import responses
from storeflow.web.runtime import rt

bp = Blueprint("webhooks", __name__)


def webhook_request() -> WebhookRequest:
    return WebhookRequest(
        headers={name.lower(): value for name, value in request.headers.items()},
        body=request.get_data(cache=False),
        content_type=request.content_type or "",
    )


@bp.post("/api/<provider_name>/webhooks/<integration_id>")
def receive(provider_name: str, integration_id: str) -> Response:
    runtime = rt()
    provider = runtime.providers.get(provider_name)
    if provider is None:
        raise NotFound(f"no provider named {provider_name!r}", code="provider_not_found")
    inbound = webhook_request()
    # Look up, verify and parse before any write: on SQLite the write lock is held only
    # for the two inserts (delivery and job), never while a body is checked.
    with runtime.reading() as session:
        integration = integrations.get(session, integration_id)
    if integration.provider != provider.name:
        raise NotFound("no such integration", code="integration_not_found")
    if integration.status != "connected" or not integration.webhook_secret:
        raise Unauthenticated("this integration is not connected", code="integration_disconnected")
    verified = provider.verify_webhook(inbound, integration.webhook_secret)
    if verified.kind == "ping":
        return responses.respond(responses.WebhookReceived(ping=True))
    error = ingest.check(provider, verified, inbound.body)
    with runtime.unit_of_work() as session:
        received = ingest.store(session, integration, provider, verified, inbound.body, error)
    if received.error is not None:
        # Stored as failed (committed above); tell the sender what was wrong.
        raise received.error
    answer = responses.WebhookReceived(
        duplicate=received.duplicate, delivery_id=received.delivery_id
    )
    return responses.respond(answer)
