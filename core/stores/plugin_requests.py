"""The ``webhook-id`` of each plugin request, with the answer it got.

A plugin retries a request it got no answer to with the same ``webhook-id``; the
repeat is answered as the first one was and has no second effect. The answer is
remembered in the transaction that had the effect, under a unique key, so of two
concurrent requests with one id exactly one is remembered.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.storage.tables import Integration, PluginRequest
from storeflow.core.storage.upsert import insert_ignore


def _query(integration_id: str, webhook_id: str) -> Select[PluginRequest]:
    return select(PluginRequest).where(
        PluginRequest.integration_id == integration_id,
        PluginRequest.webhook_id == webhook_id,
    )


def find(session: Session, integration_id: str, webhook_id: str) -> PluginRequest | None:
    """The earlier request with this ``webhook-id``, if there was one."""
    return session.scalar(_query(integration_id, webhook_id))


def get(session: Session, integration_id: str, webhook_id: str) -> PluginRequest:
    """The request with this ``webhook-id``; raises when there is none."""
    return session.scalars(_query(integration_id, webhook_id)).one()


def remember(
    session: Session,
    integration: Integration,
    webhook_id: str,
    *,
    path: str,
    status: int,
    response: dict[str, Any],
) -> bool:
    """Store the answer; False when a request with the same id was remembered first."""
    stored = insert_ignore(
        session,
        PluginRequest.__table__,
        {
            "company_id": integration.company_id,
            "integration_id": integration.id,
            "webhook_id": webhook_id,
            "path": path,
            "status": status,
            "response": response,
            "created_at": clock.now(),
        },
        ["integration_id", "webhook_id"],
    )
    return stored is not None
