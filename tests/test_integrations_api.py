"""Admin integration routes: the contract's list shape, tenant isolation, bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storeflow.core.storage.tables import Integration, PluginCommand
from tests.connecting import connected, heartbeat

CONTRACT_FIELDS = {
    "id",
    "provider",
    "storeUrl",
    "status",
    "health",
    "lastSeenAt",
    "pluginVersion",
    "lastSyncAt",
    "lastSyncError",
}


def test_list_has_the_contract_fields_and_only_this_company(client, tenant, other_tenant):
    mine = connected(client, tenant.auth)
    connected(client, other_tenant.auth, storeUrl="https://other.example.com")
    body = client.get("/api/integrations", headers=tenant.auth).get_json()
    assert body["success"] is True and body["total"] == 2
    assert {i["id"] for i in body["integrations"]} == {tenant.integration_id, mine.integration_id}
    for item in body["integrations"]:
        assert set(item) >= CONTRACT_FIELDS
        assert item["status"] in ("pending", "connected", "disconnected")
        assert item["health"] in ("healthy", "stale", "failing")
    row = next(i for i in body["integrations"] if i["id"] == mine.integration_id)
    assert row["sync"]["state"] == "requested" and row["sync"]["reason"] == "initial"


def test_list_paging_rejects_garbage(client, tenant):
    response = client.get("/api/integrations?limit=abc", headers=tenant.auth)
    assert response.status_code == 422
    assert client.get("/api/integrations?limit=1", headers=tenant.auth).get_json()["total"] == 1


ROUTES = [
    ("get", "/api/integrations/{id}"),
    ("post", "/api/integrations/{id}/sync"),
    ("post", "/api/integrations/{id}/disconnect"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_another_companys_integration_is_404_and_untouched(
    rt, client, tenant, other_tenant, method, path
):
    theirs = connected(client, other_tenant.auth)
    response = getattr(client, method)(path.format(id=theirs.integration_id), headers=tenant.auth)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "integration_not_found"
    with rt.unit_of_work() as session:
        row = session.get_one(Integration, theirs.integration_id)
        assert row.status == "connected"
        commands = session.scalars(
            select(PluginCommand).where(PluginCommand.integration_id == theirs.integration_id)
        ).all()
        assert len(commands) == 1  # only the initial sync
    assert heartbeat(client, theirs).status_code == 200


@pytest.mark.parametrize(("method", "path"), [*ROUTES, ("get", "/api/integrations")])
def test_admin_routes_need_a_key(client, tenant, method, path):
    response = getattr(client, method)(path.format(id=tenant.integration_id))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "missing_credentials"


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_unknown_integration_is_404(client, tenant, method, path):
    response = getattr(client, method)(path.format(id="int_nope"), headers=tenant.auth)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", b"x", 415),
        ("application/json", b"{", 400),
        ("application/json", b"[]", 422),
        ("application/json", b'{"reason": 1}', 422),
    ],
)
def test_disconnect_rejects_garbage_and_stays_connected(
    rt, client, tenant, content_type, body, status
):
    inst = connected(client, tenant.auth)
    response = client.post(
        f"/api/integrations/{inst.integration_id}/disconnect",
        data=body,
        content_type=content_type,
        headers=tenant.auth,
    )
    assert response.status_code == status and response.get_json()["success"] is False
    assert heartbeat(client, inst).status_code == 200
