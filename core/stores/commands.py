"""Commands for store plugins (a store sync), handed out on heartbeats until acknowledged.

The store may not accept inbound calls, so storeflow never calls it: commands wait
in ``plugin_commands`` and every heartbeat hands out those not yet started. A
command delivered but never acknowledged is delivered again on the next heartbeat
(the plugin may have crashed after receiving it); once the plugin acknowledges
``started`` it is running and is not handed out again.

At most one sync waits per integration (``pending_key`` is unique while a command
waits), so two "Sync Store" clicks queue one command, even when they race.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.commerce.sync import RESOURCES, Resource
from storeflow.core.errors import Conflict, NotFound
from storeflow.core.statuses import COMMAND_FINISHED, COMMAND_WAITING, CommandAck, CommandState
from storeflow.core.storage.db import rows_changed
from storeflow.core.storage.tables import Integration, PluginCommand
from storeflow.core.storage.upsert import insert_ignore

if TYPE_CHECKING:
    from storeflow.core.runtime import Runtime

# Names this module has always offered (the admin API and tests use them).
SYNC_RESOURCES = RESOURCES
WAITING = COMMAND_WAITING
# A plugin that said "started" and never finished is presumed dead after this long.
RUN_TIMEOUT = timedelta(hours=6)
DETAIL_LIMIT = 2000


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def request_sync(
    session: Session,
    integration: Integration,
    *,
    reason: str = "manual",
    resources: Sequence[Resource] = RESOURCES,
) -> tuple[PluginCommand, bool]:
    """Queue a sync unless one already waits; return the waiting command and whether it is new.

    A click that asks for resources the waiting command lacks widens that command.
    """
    wanted = [name for name in RESOURCES if name in resources]
    command_id = "cmd_" + uuid.uuid4().hex
    inserted = insert_ignore(
        session,
        PluginCommand.__table__,
        {
            "id": command_id,
            "company_id": integration.company_id,
            "integration_id": integration.id,
            "type": "sync",
            "resources": wanted,
            "status": "requested",
            "pending_key": "sync",
            "reason": reason,
            "deliveries": 0,
            "requested_at": clock.now(),
        },
        ["integration_id", "pending_key"],
    )
    if inserted is not None:
        return session.get_one(PluginCommand, command_id), True
    waiting = session.scalars(
        select(PluginCommand).where(
            PluginCommand.integration_id == integration.id, PluginCommand.pending_key == "sync"
        )
    ).one()
    if not set(wanted) <= set(waiting.resources):
        waiting.resources = [n for n in RESOURCES if n in set(wanted) | set(waiting.resources)]
    return waiting, False


def deliver(session: Session, integration: Integration) -> list[PluginCommand]:
    """The commands to hand out on this heartbeat, marked delivered (again)."""
    now = clock.now()
    waiting = session.scalars(
        select(PluginCommand)
        .where(
            PluginCommand.integration_id == integration.id,
            PluginCommand.status.in_(COMMAND_WAITING),
        )
        .order_by(PluginCommand.requested_at, PluginCommand.id)
    ).all()
    for command in waiting:
        command.status = "delivered"
        command.delivered_at = now
        command.deliveries += 1
    return list(waiting)


def acknowledge(
    session: Session,
    integration: Integration,
    command_id: str,
    status: CommandAck,
    detail: str | None = None,
) -> PluginCommand:
    """Apply the plugin's ``started``/``completed``/``failed``; repeating one is harmless."""
    command = session.scalar(
        select(PluginCommand).where(
            PluginCommand.id == command_id, PluginCommand.integration_id == integration.id
        )
    )
    if command is None:  # includes another integration's command: not ours to see
        raise NotFound("no such command for this installation", code="command_not_found")
    detail = detail[:DETAIL_LIMIT] if detail else None
    if command.status in COMMAND_FINISHED:
        if command.status == status:
            return command  # the same final answer again (a retry): nothing changes
        raise Conflict(f"command {command.id} is already {command.status}", code="command_finished")
    now = clock.now()
    if status == "started":
        if command.status != "running":
            command.status, command.started_at, command.pending_key = "running", now, None
            command.detail = detail
        return command
    command.status, command.finished_at, command.pending_key = status, now, None
    command.started_at = command.started_at or now
    command.detail = detail
    if command.type == "sync":
        _record_sync(integration, command)
    return command


def _record_sync(integration: Integration, command: PluginCommand) -> None:
    if command.status == "completed":
        integration.last_sync_at = command.finished_at
        integration.last_sync_error = None
    else:
        integration.last_sync_error = command.detail or "the plugin reported a failed sync"


def cancel_waiting(session: Session, integration: Integration, detail: str) -> int:
    """Cancel commands not yet started (on disconnect or reconnect); return how many."""
    return rows_changed(
        session,
        update(PluginCommand)
        .where(
            PluginCommand.integration_id == integration.id,
            PluginCommand.status.in_(COMMAND_WAITING),
        )
        .values(status="cancelled", pending_key=None, finished_at=clock.now(), detail=detail)
        .execution_options(synchronize_session="fetch"),
    )


def latest_sync(session: Session, integration_id: str) -> PluginCommand | None:
    return session.scalars(
        select(PluginCommand)
        .where(PluginCommand.integration_id == integration_id, PluginCommand.type == "sync")
        .order_by(PluginCommand.requested_at.desc(), PluginCommand.id.desc())
        .limit(1)
    ).first()


def recent(session: Session, integration_id: str, limit: int = 10) -> list[PluginCommand]:
    return list(
        session.scalars(
            select(PluginCommand)
            .where(PluginCommand.integration_id == integration_id)
            .order_by(PluginCommand.requested_at.desc(), PluginCommand.id.desc())
            .limit(limit)
        )
    )


def time_out_running(rt: Runtime, session: Session) -> None:
    """Periodic: a run the plugin never finished is failed, so the UI stops saying "running"."""
    cutoff = clock.now() - RUN_TIMEOUT
    stuck = session.scalars(
        select(PluginCommand).where(
            PluginCommand.status == "running", PluginCommand.started_at < cutoff
        )
    ).all()
    for command in stuck:
        command.status, command.finished_at = "failed", clock.now()
        command.detail = f"no completion reported within {RUN_TIMEOUT} of the start"
        if command.type == "sync":
            _record_sync(session.get_one(Integration, command.integration_id), command)


def wire_json(command: PluginCommand) -> dict[str, Any]:
    """A command as the plugin receives it on a heartbeat."""
    return {
        "id": command.id,
        "type": command.type,
        "resources": list(command.resources),
        "requestedAt": _iso(command.requested_at),
    }


def state_json(command: PluginCommand) -> dict[str, Any]:
    """A command as the admin API shows it: ``state`` is requested, running, completed, ..."""
    return {
        "commandId": command.id,
        "type": command.type,
        "state": state_of(command),
        "reason": command.reason,
        "resources": list(command.resources),
        "detail": command.detail,
        "deliveries": command.deliveries,
        "requestedAt": _iso(command.requested_at),
        "deliveredAt": _iso(command.delivered_at),
        "startedAt": _iso(command.started_at),
        "finishedAt": _iso(command.finished_at),
    }


def state_of(command: PluginCommand) -> CommandState:
    # Delivered or not, a command that waits for the plugin is still "requested".
    return "requested" if command.status == "delivered" else command.status
