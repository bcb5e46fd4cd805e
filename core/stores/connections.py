"""Connecting a store: connect requests, approval or denial, claiming credentials, disconnect.

The plugin creates a request (:func:`create`) and polls it (:func:`poll`) while a
company owner or admin approves it in the browser or through the API
(:func:`approve`). Approval creates the integration, or reconnects the company's
existing one for the same store URL (new credentials, the old ones revoked at once,
synced data kept), and queues the initial sync. The first poll after approval
claims the credentials exactly once; their plaintext is wiped in the same
transaction, so it lives only between approval and that poll.

Requests expire 15 minutes after creation; approval restarts the clock so the
plugin has 15 minutes to claim. The sweeper expires what is left and wipes any
unclaimed plaintext.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

import attrs
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storeflow.core import accounts, clock
from storeflow.core.errors import Conflict, NotFound, Unauthenticated, ValidationFailed
from storeflow.core.statuses import CONNECT_OPEN, ConnectStatus
from storeflow.core.storage.db import rows_changed
from storeflow.core.storage.tables import Company, ConnectRequest, Integration
from storeflow.core.stores import commands, health, integrations

if TYPE_CHECKING:
    from storeflow.core.runtime import Runtime

REQUEST_TTL = timedelta(minutes=15)
POLL_INTERVAL_SECONDS = 5
INSTALLATION_TOKEN_PREFIX = "sfit_"
POLL_TOKEN_PREFIX = "sfpt_"


@attrs.frozen
class StoreInfo:
    """What the plugin tells us about the store when it asks to connect."""

    store_url: str
    site_name: str = ""
    plugin_version: str | None = None
    wp_version: str | None = None
    wc_version: str | None = None
    currency: str = "USD"
    timezone: str = "UTC"


@attrs.frozen
class NewRequest:
    request: ConnectRequest
    poll_token: str  # shown once; only its hash is stored


@attrs.frozen(repr=False)  # never print secrets by accident
class Credentials:
    installation_token: str
    signing_secret: str
    webhook_secret: str

    @classmethod
    def generate(cls) -> Credentials:
        return cls(
            installation_token=INSTALLATION_TOKEN_PREFIX + secrets.token_urlsafe(32),
            # Standard Webhooks form: whsec_ + base64 of 32 random bytes.
            signing_secret="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
            webhook_secret=integrations.new_secret(),
        )


def canonical_store_url(url: str) -> str:
    """``HTTPS://Shop.Example.com/shop/`` -> ``https://shop.example.com/shop``.

    Scheme and host are case-insensitive; the path is kept (WordPress may live in a
    sub-directory); query and fragment are dropped. Reconnects match on this form.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # a malformed legacy value: compare it as plain text
        return url.strip().rstrip("/").lower()
    out = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), "", ""))
    # Dropping the fragment can expose whitespace the first strip could not see: repeat
    # until nothing changes, so the form is a fixed point (reconnects compare it).
    trimmed = out.strip()
    return out if trimmed == out else canonical_store_url(trimmed)


_CURRENCY = re.compile(r"^[A-Za-z]{3}$")


def validate(info: StoreInfo) -> None:
    """Reject what no store would send; 422 with the paths the plugin used."""
    problems = []
    try:
        parts = urlsplit(info.store_url.strip())
        host, _port = parts.hostname, parts.port  # both raise on a malformed netloc
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not host:
        problems.append({"path": "$.storeUrl", "message": "must be an http(s) URL with a host"})
    elif parts.username or parts.password:
        problems.append({"path": "$.storeUrl", "message": "must not contain credentials"})
    if not _CURRENCY.match(info.currency):
        problems.append({"path": "$.currency", "message": "must be an ISO 4217 code like EUR"})
    if not info.timezone.strip():
        problems.append({"path": "$.timezone", "message": "must not be empty"})
    if problems:
        raise ValidationFailed(
            f"the store details are not valid: {problems[0]['path']}: {problems[0]['message']}",
            details=problems,
        )


def create(
    session: Session,
    info: StoreInfo,
    *,
    provider: str = "woocommerce",
    requester_ip: str | None = None,
) -> NewRequest:
    validate(info)
    poll_token = POLL_TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    request = ConnectRequest(
        id="cr_" + uuid.uuid4().hex,
        provider=provider,
        poll_token_hash=accounts.hash_token(poll_token),
        store_url=canonical_store_url(info.store_url),
        site_name=info.site_name,
        plugin_version=info.plugin_version,
        wp_version=info.wp_version,
        wc_version=info.wc_version,
        currency=info.currency.upper(),
        timezone=info.timezone,
        requester_ip=requester_ip,
        status="pending",
        created_at=now,
        expires_at=now + REQUEST_TTL,
    )
    session.add(request)
    session.flush()
    return NewRequest(request, poll_token)


def get(session: Session, request_id: str) -> ConnectRequest:
    request = session.get(ConnectRequest, request_id) if isinstance(request_id, str) else None
    if request is None:
        raise NotFound("no such connect request", code="connect_request_not_found")
    return request


def by_installation_token(session: Session, token: str) -> Integration | None:
    """The integration an installation token was issued to (whatever its status now)."""
    return session.scalar(
        select(Integration).where(Integration.installation_token_hash == accounts.hash_token(token))
    )


def status_of(request: ConnectRequest) -> ConnectStatus:
    """The status a client sees: an undecided or unclaimed request past its time is expired."""
    if request.status in CONNECT_OPEN and clock.now() >= request.expires_at:
        return "expired"
    return request.status


def _ensure_pending(request: ConnectRequest) -> None:
    status = status_of(request)
    if status == "expired":
        raise Conflict(
            "this connect request has expired; start again from WordPress",
            code="connect_request_expired",
        )
    if status != "pending":
        raise Conflict(
            f"this connect request was already {'approved' if status == 'claimed' else status}",
            code="connect_request_decided",
        )


def _decide(
    session: Session,
    request: ConnectRequest,
    status: Literal["approved", "denied"],
    decided_by: str,
) -> None:
    """Move pending -> ``status`` with a conditional UPDATE, so two deciders cannot both win."""
    _ensure_pending(request)
    now = clock.now()
    decided = rows_changed(
        session,
        update(ConnectRequest)
        .where(
            ConnectRequest.id == request.id,
            ConnectRequest.status == "pending",
            ConnectRequest.expires_at > now,
        )
        .values(status=status, decided_at=now, decided_by=decided_by[:400])
        .execution_options(synchronize_session=False),
    )
    if decided != 1:
        session.refresh(request)
        _ensure_pending(request)  # raises with the reason it is no longer pending
        raise Conflict("this connect request changed; try again", code="connect_request_decided")
    session.refresh(request)


def approve(session: Session, request_id: str, company: Company, *, decided_by: str) -> Integration:
    """Approve for ``company``: connect (or reconnect) the store and queue its first sync."""
    request = get(session, request_id)
    _decide(session, request, "approved", decided_by)
    credentials = Credentials.generate()
    integration = _existing(session, company, request.provider, request.store_url)
    if integration is None:
        integration = integrations.create(
            session,
            company,
            request.provider,
            store_url=request.store_url,
            name=request.site_name,
            currency=request.currency,
            timezone=request.timezone,
        )
    else:
        _forget_unclaimed(session, integration, keep=request.id)
        commands.cancel_waiting(session, integration, "superseded by a reconnect")
    _connect(integration, request, credentials)
    request.company_id = company.id
    request.integration_id = integration.id
    request.installation_token = credentials.installation_token
    request.signing_secret = credentials.signing_secret
    request.webhook_secret = credentials.webhook_secret
    # Approval restarts the clock: the plugin has REQUEST_TTL to claim the credentials.
    request.expires_at = clock.now() + REQUEST_TTL
    session.flush()
    commands.request_sync(session, integration, reason="initial")
    health.refresh(session, integration)
    return integration


def _existing(
    session: Session, company: Company, provider: str, store_url: str
) -> Integration | None:
    """The company's integration for this store, if any (connected ones first, then newest)."""
    rows = session.scalars(
        select(Integration).where(
            Integration.company_id == company.id, Integration.provider == provider
        )
    ).all()
    same = [row for row in rows if canonical_store_url(row.store_url) == store_url]
    same.sort(key=lambda row: (row.status == "connected", row.created_at), reverse=True)
    return same[0] if same else None


def _connect(integration: Integration, request: ConnectRequest, creds: Credentials) -> None:
    """Install new credentials: whatever the old ones were, they stop working now."""
    integration.status = "connected"
    integration.installation_token_hash = accounts.hash_token(creds.installation_token)
    integration.signing_secret = creds.signing_secret
    integration.webhook_secret = creds.webhook_secret
    integration.store_url = request.store_url
    integration.name = request.site_name or integration.name
    integration.currency = request.currency
    integration.timezone = request.timezone
    integration.plugin_version = request.plugin_version
    integration.wp_version = request.wp_version
    integration.wc_version = request.wc_version
    integration.connected_at = clock.now()
    integration.disconnected_at = None
    integration.disconnect_reason = None
    integration.plugin_state = {}


def _forget_unclaimed(session: Session, integration: Integration, keep: str | None = None) -> None:
    """Approved but never claimed requests of this integration hold dead credentials: wipe them."""
    query = update(ConnectRequest).where(
        ConnectRequest.integration_id == integration.id, ConnectRequest.status == "approved"
    )
    if keep is not None:
        query = query.where(ConnectRequest.id != keep)
    session.execute(
        query.values(status="expired", **_WIPED).execution_options(synchronize_session="fetch")
    )


_WIPED: dict[str, None] = {
    "installation_token": None,
    "signing_secret": None,
    "webhook_secret": None,
}


def deny(
    session: Session, request_id: str, company: Company | None = None, *, decided_by: str
) -> ConnectRequest:
    """Deny a pending request on behalf of ``company`` (see :func:`may_deny`)."""
    request = get(session, request_id)
    if company is not None:
        _ensure_pending(request)  # a decided request says so (409), whoever asks
        if not may_deny(session, request, company):
            raise NotFound("no such connect request", code="connect_request_not_found")
    _decide(session, request, "denied", decided_by)
    return request


def holders(session: Session, request: ConnectRequest) -> set[int]:
    """The companies that already have an integration for the request's store."""
    prefix = request.store_url.split("://", 1)[-1].split("/", 1)[0].lower()
    rows = session.execute(
        select(Integration.company_id, Integration.store_url).where(
            Integration.provider == request.provider,
            func.lower(Integration.store_url).contains(prefix, autoescape=True),
        )
    )
    return {
        company_id
        for company_id, url in rows
        if canonical_store_url(url) == canonical_store_url(request.store_url)
    }


def may_deny(session: Session, request: ConnectRequest, company: Company) -> bool:
    """Whether ``company`` may turn the store away.

    A reconnect of a store some companies already hold is theirs to refuse: any other
    company is told the request does not exist (it would only be breaking someone
    else's connection). A store no company holds yet may be refused by any company
    that was given the request id (the id is the merchant's to hand out).
    """
    found = holders(session, request)
    return not found or company.id in found


def poll(session: Session, request_id: str, poll_token: str) -> dict[str, Any]:
    """The plugin's poll: the status, and on the first poll after approval the credentials."""
    request = get(session, request_id)
    if not hmac.compare_digest(request.poll_token_hash, accounts.hash_token(poll_token)):
        raise Unauthenticated(
            "wrong poll token for this connect request", code="invalid_poll_token"
        )
    status = status_of(request)
    if status == "claimed":
        raise Conflict(
            "the credentials of this connect request were already handed out",
            code="already_claimed",
        )
    if status != "approved":
        return {"success": True, "status": status}
    answer = {
        "success": True,
        "status": "approved",
        "installationToken": request.installation_token,
        "signingSecret": request.signing_secret,
        "webhookSecret": request.webhook_secret,
        "integrationId": request.integration_id,
        "companyId": request.company_id,
    }
    # Claim with a conditional UPDATE: of two concurrent polls exactly one gets the secrets.
    claimed = rows_changed(
        session,
        update(ConnectRequest)
        .where(ConnectRequest.id == request.id, ConnectRequest.status == "approved")
        .values(status="claimed", claimed_at=clock.now(), **_WIPED)
        .execution_options(synchronize_session=False),
    )
    if claimed != 1:
        raise Conflict(
            "the credentials of this connect request were already handed out",
            code="already_claimed",
        )
    return answer


def disconnect(session: Session, integration: Integration, *, by: str, reason: str | None) -> None:
    """Revoke the installation's credentials at once; synced data stays for a reconnect."""
    if integration.status == "disconnected":
        return
    integration.status = "disconnected"
    integration.installation_token_hash = None
    integration.signing_secret = None
    integration.webhook_secret = None
    integration.disconnected_at = clock.now()
    integration.disconnect_reason = f"{by}: {reason}" if reason else by
    commands.cancel_waiting(session, integration, f"integration disconnected by the {by}")
    _forget_unclaimed(session, integration)
    health.refresh(session, integration)


def expire_requests(rt: Runtime, session: Session) -> None:
    """Periodic: mark requests past their time expired and wipe unclaimed plaintext."""
    session.execute(
        update(ConnectRequest)
        .where(
            ConnectRequest.status.in_(CONNECT_OPEN),
            ConnectRequest.expires_at <= clock.now(),
        )
        .values(status="expired", **_WIPED)
        .execution_options(synchronize_session=False)
    )


def request_json(request: ConnectRequest) -> dict[str, Any]:
    """A connect request as operators see it (never its secrets)."""
    return {
        "id": request.id,
        "provider": request.provider,
        "storeUrl": request.store_url,
        "siteName": request.site_name,
        "status": status_of(request),
        "companyId": request.company_id,
        "integrationId": request.integration_id,
        "createdAt": request.created_at.isoformat(),
        "expiresAt": request.expires_at.isoformat(),
        "decidedAt": request.decided_at.isoformat() if request.decided_at else None,
    }
