"""Admin JSON API for integrations and connect requests (company API key).

Every integration route is scoped to the key's company: another company's
integration is a 404, as if it did not exist. Approving a connect request
attaches the store to the key's company (the browser page does the same for a
signed-in owner or admin).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from storeflow.core.errors import Conflict
from storeflow.core.storage.session import Session
from storeflow.core.storage.tables import Company, ConnectRequest, Integration, PluginCommand
from storeflow.core.stores import commands, connections, health, integrations
from storeflow.web import inputs, responses
from storeflow.web.auth import bearer_token, company_from_api_key
from storeflow.web.params import int_arg
from storeflow.web.runtime import rt

bp = Blueprint("integrations", __name__, url_prefix="/api")


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _command(command: PluginCommand) -> responses.CommandState:
    return responses.load(commands.state_json(command), responses.CommandState)


def _integration_fields(session: Session, row: Integration) -> dict[str, Any]:
    latest = commands.latest_sync(session, row.id)
    return {
        "id": row.id,
        "provider": row.provider,
        "store_url": row.store_url,
        "name": row.name,
        "status": row.status,
        "health": row.health,
        "health_reasons": list(row.health_reasons or []),
        "last_seen_at": _iso(row.last_seen_at),
        "plugin_version": row.plugin_version,
        "wp_version": row.wp_version,
        "wc_version": row.wc_version,
        "last_sync_at": _iso(row.last_sync_at),
        "last_sync_error": row.last_sync_error,
        "sync": _command(latest) if latest is not None else None,
        "connected_at": _iso(row.connected_at),
        "disconnected_at": _iso(row.disconnected_at),
        "disconnect_reason": row.disconnect_reason,
        "created_at": _iso(row.created_at),
    }


def integration_of(session: Session, row: Integration) -> responses.Integration:
    return responses.Integration(**_integration_fields(session, row))


def diagnostics_of(session: Session, row: Integration) -> responses.Diagnostics:
    state = row.plugin_state or {}
    queue = state.get("queue")
    return responses.Diagnostics(
        queue=responses.load(queue, responses.QueueCounts) if queue is not None else None,
        last_error=state.get("lastError"),
        reported_store_url=state.get("storeUrl"),
        last_heartbeat_at=state.get("heartbeatAt"),
        recent_failures=[
            responses.load(failure, responses.DeliveryFailure)
            for failure in health.recent_failures(session, row.id)
        ],
        recent_commands=[_command(c) for c in commands.recent(session, row.id)],
    )


def _request(row: ConnectRequest) -> responses.ConnectRequest:
    return responses.load(connections.request_json(row), responses.ConnectRequest)


def _decided_by() -> str:
    return f"api_key:{bearer_token()[:12]}"


@bp.get("/integrations")
def list_integrations() -> Response:
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        rows, total = integrations.page(
            session,
            company.id,
            limit=int_arg("limit", 100, low=1, high=500),
            offset=int_arg("offset", 0, high=10**9),
        )
        items = [integration_of(session, row) for row in rows]
        return responses.respond(responses.IntegrationList(integrations=items, total=total))


@bp.get("/integrations/<integration_id>")
def get_integration(integration_id: str) -> Response:
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        row = integrations.get(session, integration_id, company.id)
        item = responses.IntegrationDetail(
            **_integration_fields(session, row), diagnostics=diagnostics_of(session, row)
        )
        return responses.respond(responses.IntegrationDetailResponse(integration=item))


@bp.post("/integrations/<integration_id>/sync")
def request_sync(integration_id: str) -> Response:
    """The "Sync Store" button: queue a sync for the plugin's next heartbeat (one at a time)."""
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        row = integrations.get(session, integration_id, company.id)
        body = inputs.structure(inputs.json_body(optional=True), inputs.SyncBody)
        if row.status != "connected":
            raise Conflict(
                "this integration is not connected; reconnect it from WordPress first",
                code="integration_not_connected",
            )
        if row.installation_token_hash is None:
            raise Conflict(
                "this integration has no store plugin to run a sync",
                code="sync_not_supported",
            )
        command, queued = commands.request_sync(
            session, row, resources=body.resources or commands.SYNC_RESOURCES
        )
        answer = responses.SyncQueued(queued=queued, command=_command(command))
    return responses.respond(answer, 202)


@bp.post("/integrations/<integration_id>/disconnect")
def disconnect(integration_id: str) -> Response:
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        row = integrations.get(session, integration_id, company.id)
        body = inputs.structure(inputs.json_body(optional=True), inputs.ReasonBody)
        connections.disconnect(session, row, by="admin", reason=body.reason)
        answer = responses.IntegrationResponse(integration=integration_of(session, row))
        return responses.respond(answer)


@bp.post("/connect-requests/<request_id>/approve")
def approve_request(request_id: str) -> Response:
    """Operators and tests approve without a browser; the store joins the key's company."""
    with rt().unit_of_work() as session:
        company: Company = company_from_api_key(session)
        row = connections.approve(session, request_id, company, decided_by=_decided_by())
        request_row = connections.get(session, request_id)
        answer = responses.ConnectApproved(
            connect_request=_request(request_row), integration=integration_of(session, row)
        )
        return responses.respond(answer)


@bp.post("/connect-requests/<request_id>/deny")
def deny_request(request_id: str) -> Response:
    with rt().unit_of_work() as session:
        company = company_from_api_key(session)
        # A store another company holds is not this key's to refuse: 404, as if unknown.
        row = connections.deny(session, request_id, company, decided_by=_decided_by())
        return responses.respond(responses.ConnectDenied(connect_request=_request(row)))
