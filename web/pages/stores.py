"""Settings -> Integrations: each store's status, health, versions, sync, failures, actions.

Connecting starts in the store (WordPress: WooCommerce -> Sequenzy -> Connect) and ends
on the approval page (``/setup/woocommerce``); this page says how, with the one
setting the plugin needs. Sync Store queues a sync the plugin picks up on its next
heartbeat; Disconnect asks for confirmation on a page of its own (no script needed).
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask.typing import ResponseReturnValue

from storeflow.core.commerce import ingest, sync
from storeflow.core.storage.tables import Integration
from storeflow.core.stores import commands, connections, health, integrations
from storeflow.web.pages.common import (
    Viewer,
    back,
    blueprint,
    manager,
    notice,
    render,
    signed_in,
)
from storeflow.web.runtime import rt

bp = blueprint("pages_integrations", __name__, url_prefix="/settings/integrations")

REASONS = {
    "not_connected": "not connected",
    "no_heartbeat": "no heartbeat from the plugin for 15 minutes",
    "plugin_error": "the plugin reported an error",
    "plugin_queue_failed": "the plugin's queue has failed items",
    "sync_failed": "the latest sync failed",
    "deliveries_failing": "the last deliveries from the store failed",
}


def reason_text(code: str) -> str:
    return REASONS.get(code, code.replace("_", " "))


def _card(viewer: Viewer, row: Integration, *, full: bool) -> dict[str, Any]:
    latest = commands.latest_sync(viewer.db, row.id)
    card: dict[str, Any] = {
        "row": row,
        "reasons": [reason_text(code) for code in row.health_reasons or []],
        "sync": commands.state_json(latest) if latest is not None else None,
        "runs": [
            sync.run_json(run) for run in sync.runs(viewer.db, integration_id=row.id, limit=3)
        ],
        "failures": health.recent_failures(viewer.db, row.id, limit=10 if full else 3),
        "plugin": row.installation_token_hash is not None,
    }
    if full:
        card["commands"] = [commands.state_json(c) for c in commands.recent(viewer.db, row.id)]
        card["state"] = row.plugin_state or {}
    return card


@bp.get("")
@signed_in
def index(viewer: Viewer) -> ResponseReturnValue:
    rows = integrations.listing(viewer.db, company_id=viewer.company.id)
    return render(
        "pages/integrations.html", viewer, cards=[_card(viewer, row, full=False) for row in rows]
    )


@bp.get("/install")
@signed_in
def install(viewer: Viewer) -> ResponseReturnValue:
    return render("pages/install.html", viewer, service_url=rt().settings.base_url)


@bp.get("/<integration_id>")
@signed_in
def detail(viewer: Viewer, integration_id: str) -> ResponseReturnValue:
    row = integrations.get(viewer.db, integration_id, viewer.company.id)
    return render(
        "pages/integration.html",
        viewer,
        card=_card(viewer, row, full=True),
        service_url=rt().settings.base_url,
    )


@bp.post("/<integration_id>/sync")
@signed_in
def sync_store(viewer: Viewer, integration_id: str) -> ResponseReturnValue:
    row = integrations.get(viewer.db, integration_id, viewer.company.id)
    manager(viewer)
    if row.status != "connected":
        notice("This store is not connected; reconnect it from WordPress first.", "error")
    elif row.installation_token_hash is None:
        notice("This store has no plugin to run a sync (it sends webhooks only).", "error")
    else:
        _command, queued = commands.request_sync(viewer.db, row)
        notice(
            "Sync requested: the plugin starts it on its next heartbeat."
            if queued
            else "A sync is already waiting for the plugin."
        )
    return back("pages_integrations.detail", integration_id=row.id)


@bp.get("/<integration_id>/disconnect")
@signed_in
def confirm_disconnect(viewer: Viewer, integration_id: str) -> ResponseReturnValue:
    row = integrations.get(viewer.db, integration_id, viewer.company.id)
    return render("pages/disconnect.html", viewer, row=row)


@bp.post("/<integration_id>/disconnect")
@signed_in
def disconnect(viewer: Viewer, integration_id: str) -> ResponseReturnValue:
    row = integrations.get(viewer.db, integration_id, viewer.company.id)
    manager(viewer)
    if row.status == "disconnected":
        notice("This store was already disconnected.")
    else:
        reason = (request.form.get("reason") or "").strip()[:500] or None
        connections.disconnect(viewer.db, row, by=f"user:{viewer.user.email}", reason=reason)
        notice(f"{row.store_url or row.name} is disconnected. Reconnect it from WordPress.")
    return back("pages_integrations.detail", integration_id=row.id)


@bp.post("/<integration_id>/deliveries/<int:delivery_id>/replay")
@signed_in
def replay(viewer: Viewer, integration_id: str, delivery_id: int) -> ResponseReturnValue:
    row = integrations.get(viewer.db, integration_id, viewer.company.id)
    manager(viewer)
    ingest.replay(viewer.db, delivery_id, viewer.company.id)
    notice(f"Delivery {delivery_id} is queued again; it is processed in a moment.")
    return back("pages_integrations.detail", integration_id=row.id)
