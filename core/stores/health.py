"""Integration health: heartbeats in, ``healthy`` / ``stale`` / ``failing`` out.

Health is stored on the integration and recomputed on every heartbeat and by the
sweeper (the ``integration-health`` sweep), so an integration turns ``stale`` when its plugin goes
quiet even though no request arrives to notice it. The admin API shows the stored
value and the reasons behind it.

- ``stale``: a plugin-connected store sent no heartbeat for 15 minutes (or the
  integration is not connected). Stale wins over failing: old reports say little.
- ``failing``: the last heartbeat reported an error or failed queue items, the
  latest sync failed, or the last three deliveries from the store all failed.
- ``healthy`` otherwise.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.statuses import Health
from storeflow.core.storage.tables import InboundDelivery, Integration
from storeflow.core.stores import commands

if TYPE_CHECKING:
    from storeflow.core.runtime import Runtime

STALE_AFTER = timedelta(minutes=15)
# "Deliveries keep failing": this many most recent deliveries failed, none in between.
FAILING_STREAK = 3
ERROR_LIMIT = 2000


def record_heartbeat(
    session: Session,
    integration: Integration,
    *,
    plugin_version: str | None,
    wp_version: str | None,
    wc_version: str | None,
    store_url: str | None,
    queue: dict[str, int] | None,
    last_error: str | None,
) -> None:
    """Remember what the plugin reports and that it is alive, then recompute health."""
    now = clock.now()
    integration.plugin_version = plugin_version or integration.plugin_version
    integration.wp_version = wp_version or integration.wp_version
    integration.wc_version = wc_version or integration.wc_version
    integration.last_seen_at = now
    integration.plugin_state = {
        "queue": queue or {"pending": 0, "failed": 0},
        "lastError": last_error[:ERROR_LIMIT] if last_error else None,
        "storeUrl": store_url,
        "heartbeatAt": now.isoformat(),
    }
    refresh(session, integration, now)


def evaluate(session: Session, integration: Integration, now: datetime) -> tuple[Health, list[str]]:
    """The health and the reasons for it, from what is stored."""
    if integration.status != "connected":
        return "stale", ["not_connected"]
    reasons = []
    stale = _expects_heartbeats(integration) and now - _alive_since(integration) > STALE_AFTER
    if stale:
        reasons.append("no_heartbeat")
    state = integration.plugin_state or {}
    if state.get("lastError"):
        reasons.append("plugin_error")
    if int((state.get("queue") or {}).get("failed") or 0) > 0:
        reasons.append("plugin_queue_failed")
    latest = commands.latest_sync(session, integration.id)
    if latest is not None and latest.status == "failed":
        reasons.append("sync_failed")
    if deliveries_failing(session, integration.id):
        reasons.append("deliveries_failing")
    if stale:
        return "stale", reasons
    return ("failing" if reasons else "healthy"), reasons


def _expects_heartbeats(integration: Integration) -> bool:
    # Only plugin installations heartbeat; a webhook-only store (created from the CLI,
    # or Shopify) is judged by its deliveries alone.
    return integration.installation_token_hash is not None


def _alive_since(integration: Integration) -> datetime:
    moments = [m for m in (integration.last_seen_at, integration.connected_at) if m is not None]
    return max(moments) if moments else integration.created_at


def deliveries_failing(session: Session, integration_id: str) -> bool:
    latest = session.scalars(
        select(InboundDelivery.status)
        .where(InboundDelivery.integration_id == integration_id)
        .order_by(InboundDelivery.id.desc())
        .limit(FAILING_STREAK)
    ).all()
    return len(latest) == FAILING_STREAK and all(status == "failed" for status in latest)


def refresh(session: Session, integration: Integration, now: datetime | None = None) -> bool:
    """Store the current health; return whether it changed."""
    now = now or clock.now()
    health, reasons = evaluate(session, integration, now)
    if health == integration.health and reasons == list(integration.health_reasons or []):
        return False
    if health != integration.health:
        integration.health_changed_at = now
    integration.health, integration.health_reasons = health, reasons
    return True


def sweep(rt: Runtime, session: Session) -> None:
    """Periodic: recompute every integration that can change (connected, or not yet stale)."""
    now = clock.now()
    rows = session.scalars(
        select(Integration).where(
            or_(Integration.status == "connected", Integration.health != "stale")
        )
    ).all()
    for integration in rows:
        refresh(session, integration, now)


def recent_failures(session: Session, integration_id: str, limit: int = 10) -> list[dict[str, Any]]:
    """The latest failed deliveries with their reasons (diagnostics)."""
    rows = session.scalars(
        select(InboundDelivery)
        .where(InboundDelivery.integration_id == integration_id, InboundDelivery.status == "failed")
        .order_by(InboundDelivery.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "deliveryId": row.id,
            "kind": row.kind,
            "topic": row.topic,
            "receivedAt": row.received_at.isoformat(),
            "error": row.error,
        }
        for row in rows
    ]
