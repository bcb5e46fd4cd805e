"""WooCommerce plugin protocol: connect, poll, heartbeat, command acks, disconnect.

``connect`` and ``connect/poll`` are unauthenticated (the poll token proves the
poller started the request) and rate limited per client address. Everything else
is plugin traffic through :func:`storeflow.web.plugin_auth.plugin_route`: bearer installation
token, Standard Webhooks signature within ±300 s, and ``webhook-id`` dedupe. Sync
batches and events live in their own modules.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from storeflow.core import clock
from storeflow.core.ratelimit import Limit
from storeflow.core.storage.session import Session
from storeflow.core.stores import commands, connections, health
from storeflow.web import inputs, responses
from storeflow.web.plugin_auth import PluginCall, plugin_route
from storeflow.web.ratelimits import client_address, client_ip, enforce
from storeflow.web.runtime import rt

bp = Blueprint("woocommerce_plugin", __name__, url_prefix="/api/woocommerce")

# A merchant clicks "Connect" a few times at most; a flood is abuse (each one is a row).
CONNECT_LIMIT = Limit("woocommerce-connect", count=10, seconds=600)
# Polls come every POLL_INTERVAL_SECONDS per pending request; leave room for a few stores
# behind one address, refuse floods.
POLL_LIMIT = Limit("woocommerce-poll", count=600, seconds=600)


@bp.post("/connect")
def connect() -> Response:
    enforce(CONNECT_LIMIT, client_ip(), "too many connect requests from this address; retry later")
    body = inputs.structure(inputs.json_body(), inputs.ConnectBody)
    runtime = rt()
    with runtime.unit_of_work() as session:
        new = connections.create(
            session,
            connections.StoreInfo(
                store_url=body.store_url,
                site_name=body.site_name,
                plugin_version=body.plugin_version,
                wp_version=body.wp_version,
                wc_version=body.wc_version,
                currency=body.currency,
                timezone=body.timezone,
            ),
            provider="woocommerce",
            requester_ip=client_address(),
        )
        # The base URL comes from settings, never from the Host header: a forged Host
        # must not be able to send a merchant to someone else's approval page.
        answer = responses.ConnectStarted(
            connect_request_id=new.request.id,
            poll_token=new.poll_token,
            authorize_url=f"{runtime.settings.base_url}/setup/woocommerce?request={new.request.id}",
            expires_at=new.request.expires_at.isoformat(),
            poll_interval_seconds=connections.POLL_INTERVAL_SECONDS,
        )
    return responses.respond(answer, 201)


@bp.post("/connect/poll")
def poll() -> Response:
    enforce(POLL_LIMIT, client_ip(), "too many polls from this address; slow down")
    body = inputs.structure(inputs.json_body(), inputs.PollBody)
    with rt().unit_of_work() as session:
        answer = connections.poll(session, body.connect_request_id, body.poll_token)
    return responses.respond(responses.load(answer, responses.PollAnswer))


@bp.post("/heartbeat")
@plugin_route
def heartbeat(session: Session, call: PluginCall) -> dict[str, Any]:
    body = inputs.structure(call.data, inputs.HeartbeatBody)
    queue = body.queue or inputs.QueueStats()
    health.record_heartbeat(
        session,
        call.integration,
        plugin_version=body.plugin_version,
        wp_version=body.wp_version,
        wc_version=body.wc_version,
        store_url=body.store_url,
        queue={"pending": queue.pending, "failed": queue.failed},
        last_error=body.last_error,
    )
    delivered = commands.deliver(session, call.integration)
    answer = responses.HeartbeatAnswer(
        commands=[responses.load(commands.wire_json(c), responses.WireCommand) for c in delivered],
        server_time=clock.now().isoformat(),
    )
    return responses.dump(answer)


@bp.post("/commands/<command_id>/ack")
@plugin_route
def ack(session: Session, call: PluginCall, command_id: str) -> dict[str, Any]:
    body = inputs.structure(call.data, inputs.AckBody)
    command = commands.acknowledge(session, call.integration, command_id, body.status, body.detail)
    health.refresh(session, call.integration)
    state = responses.load(commands.state_json(command), responses.CommandState)
    return responses.dump(responses.AckAnswer(command=state))


@bp.post("/disconnect")
@plugin_route
def disconnect(session: Session, call: PluginCall) -> dict[str, Any]:
    body = inputs.structure(call.data, inputs.ReasonBody)
    connections.disconnect(session, call.integration, by="plugin", reason=body.reason)
    return responses.dump(responses.Ok())
