"""Integration health: heartbeats, stale without any request (the sweeper), failing, diagnostics."""

from __future__ import annotations

from datetime import timedelta

from storeflow.core import clock
from storeflow.core.storage.tables import Integration
from storeflow.core.stores import health
from storeflow.core.work import tasks
from tests.connecting import connected, heartbeat
from tests.providers import woocommerce_payloads as fixtures


def show(client, tenant, integration_id):
    response = client.get(f"/api/integrations/{integration_id}", headers=tenant.auth)
    assert response.status_code == 200
    return response.get_json()["integration"]


def test_heartbeat_records_versions_queue_and_last_error(client, tenant):
    inst = connected(client, tenant.auth)
    heartbeat(
        client,
        inst,
        pluginVersion="1.2.0",
        wpVersion="6.9",
        wcVersion="10.0",
        queue={"pending": 4, "failed": 0},
    )
    row = show(client, tenant, inst.integration_id)
    assert (row["pluginVersion"], row["wpVersion"], row["wcVersion"]) == ("1.2.0", "6.9", "10.0")
    assert row["lastSeenAt"] is not None and row["health"] == "healthy"
    assert row["diagnostics"]["queue"] == {"pending": 4, "failed": 0}

    heartbeat(client, inst, lastError="cURL error 28: Operation timed out")
    row = show(client, tenant, inst.integration_id)
    assert row["health"] == "failing" and row["healthReasons"] == ["plugin_error"]
    assert row["diagnostics"]["lastError"] == "cURL error 28: Operation timed out"

    heartbeat(client, inst, queue={"pending": 0, "failed": 2})
    row = show(client, tenant, inst.integration_id)
    assert row["health"] == "failing" and row["healthReasons"] == ["plugin_queue_failed"]

    heartbeat(client, inst)
    assert show(client, tenant, inst.integration_id)["health"] == "healthy"


def test_quiet_plugin_turns_stale_through_the_sweeper_alone(rt, client, tenant):
    inst = connected(client, tenant.auth)
    heartbeat(client, inst)
    clock.travel(health.STALE_AFTER - timedelta(seconds=30))
    tasks.sweep(rt)
    assert show(client, tenant, inst.integration_id)["health"] == "healthy"

    clock.travel(timedelta(minutes=1))
    # No request arrives; the stored health is what the API shows until the sweeper runs.
    assert show(client, tenant, inst.integration_id)["health"] == "healthy"
    tasks.sweep(rt)
    row = show(client, tenant, inst.integration_id)
    assert row["health"] == "stale" and row["healthReasons"] == ["no_heartbeat"]
    with rt.unit_of_work() as session:
        changed = session.get_one(Integration, inst.integration_id).health_changed_at
        assert clock.now() - timedelta(seconds=5) < changed <= clock.now()

    heartbeat(client, inst)  # the plugin is back
    assert show(client, tenant, inst.integration_id)["health"] == "healthy"


def test_approved_plugin_that_never_heartbeats_turns_stale(rt, client, tenant):
    inst = connected(client, tenant.auth)
    clock.travel(timedelta(minutes=16))
    tasks.sweep(rt)
    assert show(client, tenant, inst.integration_id)["health"] == "stale"


def test_webhook_only_integrations_are_not_judged_by_heartbeats(rt, client, tenant):
    clock.travel(timedelta(hours=2))
    tasks.sweep(rt)
    assert show(client, tenant, tenant.integration_id)["health"] == "healthy"


def test_disconnected_is_stale(rt, client, tenant):
    inst = connected(client, tenant.auth)
    client.post(f"/api/integrations/{inst.integration_id}/disconnect", headers=tenant.auth)
    row = show(client, tenant, inst.integration_id)
    assert row["status"] == "disconnected" and row["health"] == "stale"
    assert row["healthReasons"] == ["not_connected"]


def test_deliveries_that_keep_failing_make_it_failing_with_reasons(rt, client, tenant):
    inst = connected(client, tenant.auth)
    heartbeat(client, inst)
    url = f"/api/woocommerce/webhooks/{inst.integration_id}"
    for n in range(3):
        # Authentic (signed) but not a product: stored as failed with its reason.
        body = fixtures.php_json({"id": "not-a-number", "n": n})
        headers = fixtures.webhook_headers("product.updated", body, inst.webhook_secret)
        assert client.post(url, data=body, headers=headers).status_code == 422
    tasks.sweep(rt)
    row = show(client, tenant, inst.integration_id)
    assert row["health"] == "failing" and row["healthReasons"] == ["deliveries_failing"]
    failures = row["diagnostics"]["recentFailures"]
    assert len(failures) == 3
    assert all(f["topic"] == "product.updated" and f["error"] for f in failures)

    # One good delivery breaks the streak.
    body = fixtures.php_json(fixtures.product_simple(id=794))
    headers = fixtures.webhook_headers("product.updated", body, inst.webhook_secret)
    assert client.post(url, data=body, headers=headers).status_code == 200
    tasks.sweep(rt)
    assert show(client, tenant, inst.integration_id)["health"] == "healthy"
