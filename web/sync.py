"""Store sync: batches from the plugin in, sync progress out.

``POST /api/woocommerce/sync/<resource>`` is plugin traffic (installation token +
Standard Webhooks signature, ``webhook-id`` dedupe, see ``storeflow.web.plugin_auth``); the
token names the integration, so a store can only ever write its own company's
data. ``GET /api/integrations/<id>/sync-runs`` shows progress to an admin key.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from storeflow.core.commerce import sync
from storeflow.core.errors import Forbidden
from storeflow.core.storage.session import Session
from storeflow.core.storage.tables import Integration
from storeflow.core.stores import integrations
from storeflow.web import responses
from storeflow.web.auth import company_from_api_key
from storeflow.web.params import int_arg
from storeflow.web.plugin_auth import PluginCall, plugin_route
from storeflow.web.runtime import rt

bp = Blueprint("sync", __name__)


def _check_provider(integration: Integration) -> None:
    if integration.provider != "woocommerce":
        raise Forbidden(
            "this installation token belongs to another provider's integration",
            code="wrong_provider",
        )


def _prepare(integration: Integration, data: Any, resource: str) -> sync.Prepared:
    """Validate and map the page before the write transaction opens (see plugin_route)."""
    _check_provider(integration)
    sync.check_resource(resource)
    batch = sync.parse_batch(data)
    provider = rt().providers["woocommerce"]
    return sync.map_batch(integrations.context(integration), provider, resource, batch)


@bp.post("/api/woocommerce/sync/<resource>")
@plugin_route(prepare=_prepare)
def sync_batch(session: Session, call: PluginCall, resource: str) -> dict[str, Any]:
    _check_provider(call.integration)
    result = sync.apply_prepared(session, call.integration, "woocommerce", resource, call.prepared)
    return responses.dump(responses.load(result.to_json(), responses.SyncBatchResult))


@bp.get("/api/integrations/<integration_id>/sync-runs")
def sync_runs(integration_id: str) -> Response:
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        integration = integrations.get(session, integration_id, company.id)
        rows = sync.runs(
            session, integration_id=integration.id, limit=int_arg("limit", 20, low=1, high=500)
        )
        answer = responses.SyncRuns(
            integration_id=integration.id,
            last_sync_at=_iso(integration.last_sync_at),
            last_sync_error=integration.last_sync_error,
            sync_runs=[responses.load(sync.run_json(row), responses.SyncRun) for row in rows],
            total=len(rows),
        )
        return responses.respond(answer)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
