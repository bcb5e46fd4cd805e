"""Connecting a WooCommerce store: connect, approve/deny, poll, reconnect, disconnect.

Each refusal is checked for the contract's status and error code, and for
"nothing changed" (no integration made, no credentials handed out, no command).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from storeflow.core import accounts, clock
from storeflow.core.storage.tables import (
    ConnectRequest,
    Integration,
    PluginCommand,
    PluginRequest,
    ProductRow,
)
from storeflow.core.testing import plugin_client
from storeflow.core.work import tasks
from tests.connecting import (
    STORE_URL,
    ack,
    approve,
    connected,
    heartbeat,
    plugin_post,
    poll,
    start_connect,
)
from tests.providers import woocommerce_payloads as fixtures


def _count(rt, model, *where) -> int:
    with rt.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def _integrations_for(rt, company_id: int) -> int:
    return _count(rt, Integration, Integration.company_id == company_id)


def _error(response) -> str:
    body = response.get_json()
    assert body["success"] is False
    return body["error"]["code"]


# --- connect and poll --------------------------------------------------------------------


def test_connect_answers_the_contract_fields(rt, client):
    before = clock.now()
    answer = start_connect(client)
    assert answer["success"] is True
    assert answer["connectRequestId"].startswith("cr_")
    assert answer["authorizeUrl"] == (
        f"{rt.settings.base_url}/setup/woocommerce?request={answer['connectRequestId']}"
    )
    expires = datetime.fromisoformat(answer["expiresAt"])
    assert timedelta(minutes=14) < expires - before <= timedelta(minutes=15, seconds=5)
    assert answer["pollIntervalSeconds"] > 0
    with rt.unit_of_work() as session:
        row = session.get_one(ConnectRequest, answer["connectRequestId"])
        # The poll token is stored hashed, never in plaintext.
        assert row.poll_token_hash == accounts.hash_token(answer["pollToken"])
        assert answer["pollToken"] not in (row.poll_token_hash, row.installation_token)
        assert row.store_url == STORE_URL and row.status == "pending"


def test_authorize_url_ignores_a_forged_host_header(rt, client):
    response = client.post(
        "/api/woocommerce/connect",
        json={"storeUrl": STORE_URL},
        headers={"Host": "evil.example.net"},
    )
    assert response.get_json()["authorizeUrl"].startswith(rt.settings.base_url + "/")


def test_poll_pending_then_credentials_exactly_once(rt, client, tenant):
    start = start_connect(client)
    assert poll(client, start).get_json() == {"success": True, "status": "pending"}
    assert approve(client, tenant.auth, start["connectRequestId"]).status_code == 200

    first = poll(client, start)
    assert first.status_code == 200
    creds = first.get_json()
    assert creds["status"] == "approved" and creds["companyId"] == tenant.company_id
    assert creds["installationToken"].startswith("sfit_") and len(creds["installationToken"]) > 40
    assert creds["signingSecret"].startswith("whsec_")
    assert len(base64.b64decode(creds["signingSecret"].removeprefix("whsec_"))) == 32
    assert len(creds["webhookSecret"]) >= 43  # 32 random bytes, URL-safe base64

    again = poll(client, start)
    assert again.status_code == 409 and _error(again) == "already_claimed"
    assert "installationToken" not in again.get_json()

    with rt.unit_of_work() as session:
        row = session.get_one(ConnectRequest, start["connectRequestId"])
        assert row.status == "claimed" and row.claimed_at is not None
        # The plaintext lived only until the claim.
        assert (row.installation_token, row.signing_secret, row.webhook_secret) == (None,) * 3
        integration = session.get_one(Integration, creds["integrationId"])
        assert integration.installation_token_hash == accounts.hash_token(
            creds["installationToken"]
        )
        assert integration.status == "connected" and integration.name == "Example Shop"
        assert (integration.currency, integration.timezone) == ("EUR", "Europe/Paris")


def test_wrong_poll_token_is_401_and_claims_nothing(rt, client, tenant):
    start = start_connect(client)
    approve(client, tenant.auth, start["connectRequestId"])
    wrong = poll(client, start, token="sfpt_" + "x" * 43)
    assert wrong.status_code == 401 and _error(wrong) == "invalid_poll_token"
    # The real plugin still gets its credentials afterwards.
    assert poll(client, start).get_json()["status"] == "approved"


def test_unknown_connect_request_is_404(client):
    response = poll(client, {"connectRequestId": "cr_nope", "pollToken": "sfpt_x"})
    assert response.status_code == 404 and _error(response) == "connect_request_not_found"


def test_expired_request_polls_expired_and_cannot_be_approved(rt, client, tenant):
    start = start_connect(client)
    clock.travel(timedelta(minutes=15, seconds=1))
    assert poll(client, start).get_json() == {"success": True, "status": "expired"}
    response = approve(client, tenant.auth, start["connectRequestId"])
    assert response.status_code == 409 and _error(response) == "connect_request_expired"
    assert _integrations_for(rt, tenant.company_id) == 1  # only the fixture's
    assert poll(client, start).get_json()["status"] == "expired"


def test_approved_but_never_claimed_expires_and_is_wiped(rt, client, tenant):
    start = start_connect(client)
    approve(client, tenant.auth, start["connectRequestId"])
    clock.travel(timedelta(minutes=16))
    tasks.sweep(rt)
    assert poll(client, start).get_json() == {"success": True, "status": "expired"}
    with rt.unit_of_work() as session:
        row = session.get_one(ConnectRequest, start["connectRequestId"])
        assert row.status == "expired"
        assert (row.installation_token, row.signing_secret, row.webhook_secret) == (None,) * 3


def test_denied_request_stays_denied(rt, client, tenant):
    start = start_connect(client)
    response = client.post(
        f"/api/connect-requests/{start['connectRequestId']}/deny", headers=tenant.auth
    )
    assert response.status_code == 200
    assert response.get_json()["connectRequest"]["status"] == "denied"
    assert poll(client, start).get_json() == {"success": True, "status": "denied"}
    assert poll(client, start).get_json() == {"success": True, "status": "denied"}
    later = approve(client, tenant.auth, start["connectRequestId"])
    assert later.status_code == 409 and _error(later) == "connect_request_decided"
    assert _integrations_for(rt, tenant.company_id) == 1


def test_another_company_cannot_take_an_approved_request(rt, client, tenant, other_tenant):
    start = start_connect(client)
    approve(client, tenant.auth, start["connectRequestId"])
    for action in ("approve", "deny"):
        response = client.post(
            f"/api/connect-requests/{start['connectRequestId']}/{action}",
            headers=other_tenant.auth,
        )
        assert response.status_code == 409 and _error(response) == "connect_request_decided"
    assert _integrations_for(rt, other_tenant.company_id) == 1
    assert poll(client, start).get_json()["companyId"] == tenant.company_id


def test_approve_needs_an_api_key(rt, client):
    start = start_connect(client)
    response = client.post(f"/api/connect-requests/{start['connectRequestId']}/approve")
    assert response.status_code == 401
    bad = approve(client, {"Authorization": "Bearer sf_live_nope"}, start["connectRequestId"])
    assert bad.status_code == 401 and _error(bad) == "invalid_api_key"
    assert poll(client, start).get_json()["status"] == "pending"


def test_unknown_request_approve_or_deny_is_404(client, tenant):
    for action in ("approve", "deny"):
        response = client.post(f"/api/connect-requests/cr_nope/{action}", headers=tenant.auth)
        assert response.status_code == 404 and _error(response) == "connect_request_not_found"


def test_approval_queues_the_initial_sync(rt, client, tenant):
    inst = connected(client, tenant.auth)
    with rt.unit_of_work() as session:
        rows = session.scalars(
            select(PluginCommand).where(PluginCommand.integration_id == inst.integration_id)
        ).all()
        assert [(c.type, c.reason, c.status) for c in rows] == [("sync", "initial", "requested")]
        assert rows[0].resources == ["products", "customers", "orders"]


# --- reconnect and disconnect ------------------------------------------------------------


def _webhook(client, inst, payload, topic="product.created"):
    body = fixtures.php_json(payload)
    headers = fixtures.webhook_headers(topic, body, inst.webhook_secret)
    return client.post(
        f"/api/woocommerce/webhooks/{inst.integration_id}", data=body, headers=headers
    )


def test_reconnect_reuses_the_integration_and_revokes_old_credentials(rt, client, tenant):
    old = connected(client, tenant.auth)
    assert _webhook(client, old, fixtures.product_simple(id=794)).status_code == 200
    assert _count(rt, ProductRow, ProductRow.integration_id == old.integration_id) == 1

    # Same store, spelled differently (case, trailing slash): a reconnect, not a duplicate.
    new = connected(client, tenant.auth, storeUrl="HTTPS://Shop.Example.com/")
    assert new.integration_id == old.integration_id
    assert new.token != old.token and new.signing_secret != old.signing_secret
    assert new.webhook_secret != old.webhook_secret
    assert _count(rt, Integration, Integration.store_url == STORE_URL) == 1

    stale = heartbeat(client, old)
    assert stale.status_code == 401 and _error(stale) == "invalid_token"
    assert _webhook(client, old, fixtures.product_simple(id=795)).status_code == 401
    assert heartbeat(client, new).status_code == 200
    assert _webhook(client, new, fixtures.product_simple(id=796)).status_code == 200
    assert _count(rt, ProductRow, ProductRow.integration_id == old.integration_id) == 2  # data kept


def test_reconnect_supersedes_a_waiting_sync(rt, client, tenant):
    old = connected(client, tenant.auth)
    connected(client, tenant.auth)
    with rt.unit_of_work() as session:
        rows = session.scalars(
            select(PluginCommand)
            .where(PluginCommand.integration_id == old.integration_id)
            .order_by(PluginCommand.requested_at)
        ).all()
        assert [c.status for c in rows] == ["cancelled", "requested"]


def test_same_store_for_another_company_is_its_own_integration(rt, client, tenant, other_tenant):
    mine = connected(client, tenant.auth)
    theirs = connected(client, other_tenant.auth)
    assert mine.integration_id != theirs.integration_id
    assert heartbeat(client, mine).status_code == 200  # theirs did not revoke mine


def test_plugin_disconnect_revokes_at_once_and_keeps_data(rt, client, tenant):
    inst = connected(client, tenant.auth)
    _webhook(client, inst, fixtures.product_simple(id=794))
    response = plugin_post(client, inst, "/api/woocommerce/disconnect", {"reason": "uninstalled"})
    assert response.status_code == 200 and response.get_json() == {"success": True}

    assert _error(heartbeat(client, inst)) == "invalid_token"
    assert _webhook(client, inst, fixtures.product_simple(id=795)).status_code == 401
    listing = client.get("/api/integrations", headers=tenant.auth).get_json()["integrations"]
    row = next(i for i in listing if i["id"] == inst.integration_id)
    assert row["status"] == "disconnected" and row["disconnectReason"] == "plugin: uninstalled"
    assert _count(rt, ProductRow, ProductRow.integration_id == inst.integration_id) == 1
    with rt.unit_of_work() as session:
        integration = session.get_one(Integration, inst.integration_id)
        assert integration.installation_token_hash is None and integration.signing_secret is None
        statuses = session.scalars(
            select(PluginCommand.status).where(PluginCommand.integration_id == inst.integration_id)
        ).all()
        assert statuses == ["cancelled"]

    again = connected(client, tenant.auth)
    assert again.integration_id == inst.integration_id
    assert heartbeat(client, again).status_code == 200


def test_admin_disconnect_revokes_at_once(rt, client, tenant):
    inst = connected(client, tenant.auth)
    response = client.post(
        f"/api/integrations/{inst.integration_id}/disconnect",
        json={"reason": "store sold"},
        headers=tenant.auth,
    )
    assert response.status_code == 200
    assert response.get_json()["integration"]["status"] == "disconnected"
    assert _error(heartbeat(client, inst)) == "invalid_token"
    # Disconnecting twice is harmless.
    again = client.post(f"/api/integrations/{inst.integration_id}/disconnect", headers=tenant.auth)
    assert again.status_code == 200
    assert again.get_json()["integration"]["disconnectReason"] == "admin: store sold"


def test_admin_disconnect_before_the_claim_voids_the_credentials(rt, client, tenant):
    start = start_connect(client)
    body = approve(client, tenant.auth, start["connectRequestId"]).get_json()
    client.post(f"/api/integrations/{body['integration']['id']}/disconnect", headers=tenant.auth)
    assert poll(client, start).get_json() == {"success": True, "status": "expired"}


# --- authenticated plugin traffic ----------------------------------------------------------


def test_replayed_webhook_id_answers_the_same_without_a_second_effect(rt, client, tenant):
    inst = connected(client, tenant.auth)
    first = plugin_post(
        client, inst, "/api/woocommerce/heartbeat", {"pluginVersion": "1.0.0"}, webhook_id="msg_1"
    )
    command_id = first.get_json()["commands"][0]["id"]
    replay = plugin_post(
        client, inst, "/api/woocommerce/heartbeat", {"pluginVersion": "1.0.0"}, webhook_id="msg_1"
    )
    assert replay.status_code == 200 and replay.get_json() == first.get_json()
    with rt.unit_of_work() as session:
        assert session.get_one(PluginCommand, command_id).deliveries == 1  # delivered once
    started = ack(client, inst, command_id, "started")
    replayed_ack = plugin_post(
        client,
        inst,
        f"/api/woocommerce/commands/{command_id}/ack",
        {"status": "failed", "detail": "x"},
        webhook_id=started.request.headers["webhook-id"],
    )
    assert replayed_ack.get_json() == started.get_json()
    with rt.unit_of_work() as session:
        assert session.get_one(PluginCommand, command_id).status == "running"


@pytest.mark.parametrize("skew", [timedelta(seconds=-301), timedelta(seconds=301)])
def test_stale_or_future_signatures_are_401_and_change_nothing(rt, client, tenant, skew):
    inst = connected(client, tenant.auth)
    response = plugin_post(
        client,
        inst,
        "/api/woocommerce/heartbeat",
        {"pluginVersion": "9.9.9"},
        timestamp=datetime.now(UTC) + skew,
    )
    assert response.status_code == 401 and _error(response) == "invalid_signature"
    with rt.unit_of_work() as session:
        integration = session.get_one(Integration, inst.integration_id)
        assert integration.last_seen_at is None and integration.plugin_version == "1.0.0"
        assert session.scalars(select(PluginCommand.deliveries)).all() == [0]


def test_tampered_body_is_401(client, tenant):
    inst = connected(client, tenant.auth)
    body, headers = plugin_client.signed(inst.token, inst.signing_secret, {"lastError": None})
    response = client.post(
        "/api/woocommerce/heartbeat", data=body.replace(b"null", b'"x"'), headers=headers
    )
    assert response.status_code == 401 and _error(response) == "invalid_signature"


def test_token_of_another_companys_integration_cannot_touch_this_one(
    rt, client, tenant, other_tenant
):
    mine = connected(client, tenant.auth)
    theirs = connected(client, other_tenant.auth, storeUrl="https://other-shop.example.com")
    command_id = heartbeat(client, mine).get_json()["commands"][0]["id"]

    # Their valid credentials, my command: as if it did not exist.
    response = ack(client, theirs, command_id, "completed", "hijack")
    assert response.status_code == 404 and _error(response) == "command_not_found"
    # Their token with my signing secret: the signature does not verify.
    body, headers = plugin_client.signed(theirs.token, mine.signing_secret, {})
    forged = client.post("/api/woocommerce/heartbeat", data=body, headers=headers)
    assert forged.status_code == 401 and _error(forged) == "invalid_signature"
    with rt.unit_of_work() as session:
        command = session.get_one(PluginCommand, command_id)
        assert (command.status, command.detail) == ("delivered", None)
        assert session.get_one(Integration, mine.integration_id).last_sync_at is None


def test_missing_bearer_is_401(client, tenant):
    inst = connected(client, tenant.auth)
    body, headers = plugin_client.signed(inst.token, inst.signing_secret, {})
    del headers["Authorization"]
    response = client.post("/api/woocommerce/heartbeat", data=body, headers=headers)
    assert response.status_code == 401 and _error(response) == "missing_credentials"


def test_secrets_are_never_logged(rt, client, tenant, caplog):
    caplog.set_level("DEBUG")
    inst = connected(client, tenant.auth)
    heartbeat(client, inst)
    text = caplog.text
    for secret in (inst.token, inst.signing_secret, inst.webhook_secret):
        assert secret not in text


# --- bad input: contract errors, never a 500 -------------------------------------------------


GARBAGE = [
    ("text/plain", b'{"storeUrl": "https://x.example"}', 415),
    ("application/json", b'{"storeUrl": ', 400),
    ("application/json", b"\xff\xfe", 400),
    ("application/json", b"[]", 422),
    ("application/json", b"null", 422),
    ("application/json", b'"https://x.example"', 422),
    ("application/json", b"{}", 422),
    ("application/json", b'{"storeUrl": 5}', 422),
    ("application/json", b'{"storeUrl": "ftp://x.example"}', 422),
    ("application/json", b'{"storeUrl": "not a url"}', 422),
    ("application/json", b'{"storeUrl": "https://[::1"}', 422),
    ("application/json", b'{"storeUrl": "https://u:p@x.example"}', 422),
    ("application/json", b'{"storeUrl": "https://x.example", "currency": "EURO"}', 422),
    ("application/json", b'{"storeUrl": "https://x.example", "currency": 978}', 422),
    ("application/json", b'{"storeUrl": "https://x.example", "siteName": ["a"]}', 422),
    ("application/json", b'{"storeUrl": "https://x.example", "timezone": ""}', 422),
    ("application/json", b'{"storeUrl": "https://' + b"x" * 600 + b'.example"}', 422),
]


@pytest.mark.parametrize(("content_type", "body", "status"), GARBAGE)
def test_connect_rejects_garbage(rt, client, content_type, body, status):
    response = client.post("/api/woocommerce/connect", data=body, content_type=content_type)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["success"] is False
    assert _count(rt, ConnectRequest) == 0


def test_connect_validation_lists_paths(client):
    response = client.post("/api/woocommerce/connect", json={"storeUrl": 5, "wpVersion": 6})
    details = response.get_json()["error"]["details"]
    assert {d["path"] for d in details} == {"$.storeUrl", "$.wpVersion"}


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", b"{}", 415),
        ("application/json", b"{", 400),
        ("application/json", b"[1]", 422),
        ("application/json", b"{}", 422),
        ("application/json", b'{"connectRequestId": 1, "pollToken": "x"}', 422),
        ("application/json", b'{"connectRequestId": "cr_x", "pollToken": null}', 422),
    ],
)
def test_poll_rejects_garbage(client, content_type, body, status):
    response = client.post("/api/woocommerce/connect/poll", data=body, content_type=content_type)
    assert response.status_code == status and response.get_json()["success"] is False


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/api/woocommerce/heartbeat", []),
        ("/api/woocommerce/heartbeat", {"queue": {"pending": "3"}}),
        ("/api/woocommerce/heartbeat", {"queue": {"failed": -1}}),
        ("/api/woocommerce/heartbeat", {"queue": [1]}),
        ("/api/woocommerce/heartbeat", {"lastError": {"a": 1}}),
        ("/api/woocommerce/heartbeat", {"pluginVersion": "x" * 41}),
        ("/api/woocommerce/commands/{cmd}/ack", {}),
        ("/api/woocommerce/commands/{cmd}/ack", {"status": "done"}),
        ("/api/woocommerce/commands/{cmd}/ack", {"status": "completed", "detail": 5}),
        ("/api/woocommerce/disconnect", {"reason": 5}),
        ("/api/woocommerce/disconnect", "bye"),
    ],
)
def test_plugin_routes_reject_garbage_after_authentication(rt, client, tenant, path, payload):
    inst = connected(client, tenant.auth)
    command_id = heartbeat(client, inst).get_json()["commands"][0]["id"]
    response = plugin_post(client, inst, path.format(cmd=command_id), payload)
    assert response.status_code == 422, response.get_json()
    assert _error(response) == "validation_failed"
    with rt.unit_of_work() as session:
        integration = session.get_one(Integration, inst.integration_id)
        assert integration.status == "connected" and integration.plugin_version == "1.0.1"
        assert session.get_one(PluginCommand, command_id).status == "delivered"
    # A refused request is not remembered: a corrected retry may reuse its webhook-id.
    assert _count(rt, PluginRequest) == 1


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [("text/plain", b"{}", 415), ("application/json", b"{", 400), ("application/json", b"", 400)],
)
def test_plugin_routes_reject_non_json(client, tenant, content_type, body, status):
    inst = connected(client, tenant.auth)
    headers = plugin_client.signed_headers(inst.token, inst.signing_secret, body)
    headers["Content-Type"] = content_type
    response = client.post("/api/woocommerce/heartbeat", data=body, headers=headers)
    assert response.status_code == status and response.get_json()["success"] is False
