"""Sync commands: "Sync Store" queues one, heartbeats deliver them until acknowledged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storeflow.core import clock
from storeflow.core.storage.tables import Integration, PluginCommand
from storeflow.core.stores import commands
from storeflow.core.work import tasks
from tests.connecting import ack, connected, heartbeat


@pytest.fixture
def inst(client, tenant):
    installation = connected(client, tenant.auth)
    # Take the initial sync out of the way: delivered, run, completed.
    initial = heartbeat(client, installation).get_json()["commands"][0]
    ack(client, installation, initial["id"], "started")
    ack(client, installation, initial["id"], "completed", "initial done")
    return installation


def click_sync(client, tenant, inst, **kwargs):
    return client.post(
        f"/api/integrations/{inst.integration_id}/sync", headers=tenant.auth, **kwargs
    )


def sync_state(client, tenant, inst):
    listing = client.get("/api/integrations", headers=tenant.auth).get_json()["integrations"]
    return next(i for i in listing if i["id"] == inst.integration_id)


def test_two_sync_store_clicks_queue_one_command(rt, client, tenant, inst):
    first = click_sync(client, tenant, inst)
    second = click_sync(client, tenant, inst)
    assert first.status_code == second.status_code == 202
    assert first.get_json()["queued"] is True and second.get_json()["queued"] is False
    assert first.get_json()["command"]["commandId"] == second.get_json()["command"]["commandId"]
    delivered = heartbeat(client, inst).get_json()["commands"]
    assert [c["id"] for c in delivered] == [first.get_json()["command"]["commandId"]]
    assert delivered[0]["type"] == "sync"
    assert delivered[0]["resources"] == ["products", "customers", "orders"]
    # A click after delivery but before "started" still finds the waiting one.
    third = click_sync(client, tenant, inst)
    assert third.get_json()["queued"] is False
    with rt.unit_of_work() as session:
        waiting = session.scalars(
            select(PluginCommand).where(PluginCommand.status.in_(commands.WAITING))
        ).all()
        assert len(waiting) == 1


def test_heartbeat_delivers_again_until_acknowledged(rt, client, tenant, inst):
    command_id = click_sync(client, tenant, inst).get_json()["command"]["commandId"]
    first = heartbeat(client, inst).get_json()
    assert [c["id"] for c in first["commands"]] == [command_id]
    assert "serverTime" in first and first["success"] is True
    # The plugin died before acknowledging: the next heartbeat hands it out again.
    second = heartbeat(client, inst).get_json()
    assert [c["id"] for c in second["commands"]] == [command_id]
    assert sync_state(client, tenant, inst)["sync"]["deliveries"] == 2
    assert sync_state(client, tenant, inst)["sync"]["state"] == "requested"

    ack(client, inst, command_id, "started")
    assert heartbeat(client, inst).get_json()["commands"] == []
    assert sync_state(client, tenant, inst)["sync"]["state"] == "running"


def test_ack_completed_records_the_sync(rt, client, tenant, inst):
    command_id = click_sync(client, tenant, inst).get_json()["command"]["commandId"]
    heartbeat(client, inst)
    ack(client, inst, command_id, "started")
    response = ack(client, inst, command_id, "completed", "3 products, 2 customers")
    assert response.status_code == 200 and response.get_json()["success"] is True
    row = sync_state(client, tenant, inst)
    assert row["sync"]["state"] == "completed"
    assert row["sync"]["detail"] == "3 products, 2 customers"
    assert row["lastSyncAt"] == row["sync"]["finishedAt"] and row["lastSyncError"] is None


def test_failed_sync_shows_its_detail_and_makes_health_failing(client, tenant, inst):
    command_id = click_sync(client, tenant, inst).get_json()["command"]["commandId"]
    heartbeat(client, inst)
    ack(client, inst, command_id, "started")
    before = sync_state(client, tenant, inst)["lastSyncAt"]
    ack(client, inst, command_id, "failed", "orders page 3: HTTP 503")
    row = sync_state(client, tenant, inst)
    assert row["sync"]["state"] == "failed" and row["sync"]["detail"] == "orders page 3: HTTP 503"
    assert row["lastSyncError"] == "orders page 3: HTTP 503"
    assert row["lastSyncAt"] == before  # the last *successful* sync
    assert row["health"] == "failing" and "sync_failed" in row["healthReasons"]

    # The next good sync clears it.
    retry = click_sync(client, tenant, inst).get_json()["command"]["commandId"]
    ack(client, inst, retry, "completed", "ok")
    row = sync_state(client, tenant, inst)
    assert row["lastSyncError"] is None and row["health"] == "healthy"


def test_click_while_running_queues_the_next_sync(client, tenant, inst):
    running = click_sync(client, tenant, inst).get_json()["command"]["commandId"]
    heartbeat(client, inst)
    ack(client, inst, running, "started")
    nxt = click_sync(client, tenant, inst).get_json()
    assert nxt["queued"] is True and nxt["command"]["commandId"] != running
    assert [c["id"] for c in heartbeat(client, inst).get_json()["commands"]] == [
        nxt["command"]["commandId"]
    ]


def test_ack_repeats_are_harmless_and_contradictions_conflict(rt, client, tenant, inst):
    command_id = click_sync(client, tenant, inst).get_json()["command"]["commandId"]
    assert ack(client, inst, command_id, "started").status_code == 200
    assert ack(client, inst, command_id, "started").status_code == 200
    assert ack(client, inst, command_id, "completed", "ok").status_code == 200
    assert ack(client, inst, command_id, "completed", "ok").status_code == 200
    contradiction = ack(client, inst, command_id, "failed", "late")
    assert contradiction.status_code == 409
    assert contradiction.get_json()["error"]["code"] == "command_finished"
    late_start = ack(client, inst, command_id, "started")
    assert late_start.status_code == 409
    with rt.unit_of_work() as session:
        command = session.get_one(PluginCommand, command_id)
        assert (command.status, command.detail) == ("completed", "ok")


def test_unknown_command_is_404(client, tenant, inst):
    response = ack(client, inst, "cmd_nope", "started")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "command_not_found"


def test_sync_can_name_resources_and_a_later_click_widens_it(client, tenant, inst):
    first = click_sync(client, tenant, inst, json={"resources": ["orders"]}).get_json()
    assert first["command"]["resources"] == ["orders"]
    second = click_sync(client, tenant, inst, json={"resources": ["products"]}).get_json()
    assert second["queued"] is False
    assert second["command"]["resources"] == ["products", "orders"]
    delivered = heartbeat(client, inst).get_json()["commands"]
    assert delivered[0]["resources"] == ["products", "orders"]


def test_sync_refused_for_disconnected_or_plugin_less_integrations(rt, client, tenant, inst):
    # The fixture's integration was created from the CLI: webhooks only, no plugin.
    response = client.post(f"/api/integrations/{tenant.integration_id}/sync", headers=tenant.auth)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "sync_not_supported"

    client.post(f"/api/integrations/{inst.integration_id}/disconnect", headers=tenant.auth)
    response = click_sync(client, tenant, inst)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "integration_not_connected"
    with rt.unit_of_work() as session:
        assert (
            session.scalars(
                select(PluginCommand).where(PluginCommand.status.in_(commands.WAITING))
            ).all()
            == []
        )


def test_a_run_never_finished_fails_after_the_timeout(rt, client, tenant, inst):
    command_id = click_sync(client, tenant, inst).get_json()["command"]["commandId"]
    ack(client, inst, command_id, "started")
    clock.travel(commands.RUN_TIMEOUT + timedelta(minutes=1))
    tasks.sweep(rt)
    with rt.unit_of_work() as session:
        command = session.get_one(PluginCommand, command_id)
        assert command.status == "failed" and "no completion reported" in command.detail
        assert session.get_one(Integration, inst.integration_id).last_sync_error == command.detail


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", b"x", 415),
        ("application/json", b"{", 400),
        ("application/json", b"[]", 422),
        ("application/json", b'{"resources": "orders"}', 422),
        ("application/json", b'{"resources": ["refunds"]}', 422),
    ],
)
def test_sync_rejects_garbage(rt, client, tenant, inst, content_type, body, status):
    response = click_sync(client, tenant, inst, data=body, content_type=content_type)
    assert response.status_code == status and response.get_json()["success"] is False
    assert heartbeat(client, inst).get_json()["commands"] == []
