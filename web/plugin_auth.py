"""Authenticated plugin traffic: a bearer installation token plus a Standard Webhooks signature.

Every plugin request (heartbeat, sync batches, events, command acks, disconnect)
carries ``Authorization: Bearer <installationToken>`` and ``webhook-id``,
``webhook-timestamp``, ``webhook-signature`` computed with the integration's
``signingSecret`` (verified by the ``standardwebhooks`` library, ±300 s). A repeated
``webhook-id`` is answered with the first answer and has no second effect.

Routes use :func:`plugin_route`, which authenticates, parses the JSON body, runs the
handler in one unit of work and remembers its answer under the ``webhook-id``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import attrs
from flask import Response, jsonify, request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from storeflow.core.errors import BadRequest, Unauthenticated, UnsupportedMediaType
from storeflow.core.storage.session import Session
from storeflow.core.storage.tables import Integration
from storeflow.core.stores import connections, plugin_requests
from storeflow.web import inputs
from storeflow.web.runtime import rt

# The Standard Webhooks library's window (±5 minutes), for the bytes-level check below.
SIGNATURE_TOLERANCE_SECONDS = 300


@attrs.frozen
class PluginCall:
    integration: Integration
    webhook_id: str
    body: bytes
    data: Any  # the decoded JSON body (floats as Decimal)
    prepared: Any = None  # what the route's ``prepare`` made of it, if it has one


def integration_for_token(session: Session) -> Integration:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(
            "send 'Authorization: Bearer <installationToken>'", code="missing_credentials"
        )
    integration = connections.by_installation_token(session, token.strip())
    if integration is None or integration.status != "connected":
        raise Unauthenticated("unknown or revoked installation token", code="invalid_token")
    return integration


def verify_signature(integration: Integration, body: bytes) -> str:
    headers = {name.lower(): value for name, value in request.headers.items()}
    secret = integration.signing_secret or ""
    try:
        Webhook(secret).verify(body, headers, json_parse=False)
    except UnicodeDecodeError:
        # The library verifies text; the signature is over bytes. A correctly signed body
        # that is not UTF-8 is the plugin's bug, not a wrong secret: say so with a 400.
        if _signed_bytes(secret, headers, body):
            raise BadRequest(
                "the body is not valid UTF-8 (the signature is valid)", code="malformed_json"
            ) from None
        raise Unauthenticated(
            "invalid or stale request signature", code="invalid_signature"
        ) from None
    except (WebhookVerificationError, ValueError) as exc:
        raise Unauthenticated(
            f"invalid or stale request signature ({exc})", code="invalid_signature"
        ) from None
    return headers["webhook-id"]


def _signed_bytes(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks verification over raw bytes (what the library does over text)."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    if not msg_id or not stamp.isascii() or not stamp.isdigit():
        return False
    if abs(time.time() - int(stamp)) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    try:
        key = base64.b64decode(secret.removeprefix("whsec_") + "==")
    except ValueError:
        return False
    expected = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    for signature in headers.get("webhook-signature", "").split(" "):
        version, _, value = signature.partition(",")
        try:
            sent = base64.b64decode(value, validate=True)
        except ValueError:
            continue
        if version == "v1" and hmac.compare_digest(expected, sent):
            return True
    return False


def decode_json(body: bytes) -> Any:
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            "send Content-Type: application/json", code="unsupported_media_type"
        )
    return inputs.parse_json(body, decimals=True)


Handler = Callable[..., tuple[dict[str, Any], int] | dict[str, Any]]


def plugin_route(handler: Handler | None = None, *, prepare: Callable[..., Any] | None = None):
    """Authenticate, dedupe by ``webhook-id``, run ``handler`` in one transaction.

    ``prepare(integration, data, *args, **kwargs)``, when given, runs after the
    request is authenticated and *before* the handler's transaction; its result
    reaches the handler as ``call.prepared``. CPU-heavy work (mapping a 500-item
    sync page) then runs outside that transaction: SQLite holds its write lock for
    a whole transaction, and two web workers would otherwise take turns. The
    request is authenticated again inside the transaction (a token revoked in
    between is refused).
    """
    if handler is None:
        return functools.partial(plugin_route, prepare=prepare)

    @functools.wraps(handler)
    def view(*args: Any, **kwargs: Any) -> Response:
        body = request.get_data(cache=False)
        data: Any = None
        prepared: Any = None
        if prepare is not None:
            with rt().unit_of_work() as session:
                integration = integration_for_token(session)
                verify_signature(integration, body)
            data = decode_json(body)
            prepared = prepare(integration, data, *args, **kwargs)
        with rt().unit_of_work() as session:
            integration = integration_for_token(session)
            webhook_id = verify_signature(integration, body)
            seen = plugin_requests.find(session, integration.id, webhook_id)
            if seen is not None:
                return _respond(seen.response, seen.status)
            if prepare is None:
                data = decode_json(body)
            call = PluginCall(integration, webhook_id, body, data, prepared)
            result = handler(session, call, *args, **kwargs)
            payload, status = result if isinstance(result, tuple) else (result, 200)
            stored = plugin_requests.remember(
                session, integration, webhook_id, path=request.path, status=status, response=payload
            )
            if not stored:
                # A concurrent request with the same id won the race: undo ours, answer as it did.
                session.rollback()
                seen = plugin_requests.get(session, integration.id, webhook_id)
                return _respond(seen.response, seen.status)
        return _respond(payload, status)

    return view


def _respond(payload: dict[str, Any], status: int) -> Response:
    response = jsonify(payload)
    response.status_code = status
    return response
