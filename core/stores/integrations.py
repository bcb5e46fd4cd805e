"""Store integrations: one connected store of one provider, owned by one company."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.errors import NotFound
from storeflow.core.statuses import IntegrationStatus
from storeflow.core.storage import paging
from storeflow.core.storage.tables import Company, Integration
from storeflow.core.stores.provider import StoreContext


def new_secret() -> str:
    # 32 random bytes; URL-safe text so it survives WooCommerce's secret sanitising.
    return secrets.token_urlsafe(32)


def create(
    session: Session,
    company: Company,
    provider: str,
    *,
    store_url: str = "",
    name: str = "",
    currency: str = "USD",
    timezone: str = "UTC",
    status: IntegrationStatus = "connected",
) -> Integration:
    integration = Integration(
        id="int_" + uuid.uuid4().hex,
        company_id=company.id,
        provider=provider,
        store_url=normalize_store_url(store_url),
        name=name,
        status=status,
        currency=currency.upper(),
        timezone=timezone,
        webhook_secret=new_secret(),
        settings={},
    )
    session.add(integration)
    session.flush()
    return integration


def normalize_store_url(url: str) -> str:
    return url.strip().rstrip("/")


def get(session: Session, integration_id: str, company_id: int | None = None) -> Integration:
    """Load an integration; with ``company_id``, one of another company is "not found"."""
    integration = session.get(Integration, integration_id)
    if integration is None or (company_id is not None and integration.company_id != company_id):
        raise NotFound("no such integration", code="integration_not_found")
    return integration


def context(integration: Integration) -> StoreContext:
    return StoreContext(
        integration_id=integration.id,
        company_id=integration.company_id,
        store_url=integration.store_url,
        currency=integration.currency,
        timezone=integration.timezone,
    )


def listing(
    session: Session, *, company_id: int | None = None, integration_id: str | None = None
) -> list[Integration]:
    """Integrations in creation order, optionally of one company or one id."""
    query = select(Integration).order_by(Integration.created_at)
    if company_id is not None:
        query = query.where(Integration.company_id == company_id)
    if integration_id:
        query = query.where(Integration.id == integration_id)
    return list(session.scalars(query))


def page(
    session: Session, company_id: int, *, limit: int, offset: int
) -> tuple[list[Integration], int]:
    """One page of the company's integrations in creation order, and how many there are."""
    query = select(Integration).where(Integration.company_id == company_id)
    return paging.page(
        session, query, Integration.created_at, Integration.id, limit=limit, offset=offset
    )


def find_for_store(
    session: Session, company_id: int, provider: str, store_url: str
) -> Integration | None:
    """The company's integration of ``provider`` whose store URL is exactly ``store_url``."""
    return session.scalar(
        select(Integration).where(
            Integration.company_id == company_id,
            Integration.provider == provider,
            Integration.store_url == store_url,
        )
    )


# --- shopify: OAuth-connected stores and their encrypted access tokens -------------------
#
# An Admin API token lets anyone read the store's customers and orders, so it is stored
# encrypted (Fernet: AES-128-CBC + HMAC-SHA256) with a key derived from
# ``STOREFLOW_TOKEN_KEY`` or, when that is unset, from the secret key. A database dump
# alone does not give the token away.


def _fernet(key_material: str) -> Fernet:
    if not key_material:
        raise ValueError("no key to encrypt access tokens with (set STOREFLOW_SECRET_KEY)")
    digest = hashlib.sha256(b"storeflow access token v1\0" + key_material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def store_access_token(integration: Integration, token: str, key_material: str) -> None:
    integration.access_token_ciphertext = (
        _fernet(key_material).encrypt(token.encode()).decode("ascii")
    )


def access_token(integration: Integration, key_material: str) -> str | None:
    """The plaintext token, or None when there is none or it cannot be decrypted."""
    if not integration.access_token_ciphertext:
        return None
    try:
        return _fernet(key_material).decrypt(integration.access_token_ciphertext).decode()
    except InvalidToken:
        return None


def find_by_store_url(session: Session, provider: str, store_url: str) -> Integration | None:
    """The newest integration of ``provider`` for the store at ``store_url`` (any company)."""
    return session.scalar(
        select(Integration)
        .where(Integration.provider == provider, Integration.store_url == store_url)
        .order_by(Integration.created_at.desc())
        .limit(1)
    )


def uninstalled(session: Session, integration_id: str, reason: str) -> None:
    """The store removed storeflow: its token is revoked already, forget it."""
    integration = session.get(Integration, integration_id)
    if integration is None:
        return
    integration.access_token_ciphertext = None
    if integration.status != "disconnected":
        integration.status = "disconnected"
        integration.disconnected_at = clock.now()
        integration.disconnect_reason = f"store: {reason}"
