"""Plugin traffic authentication: bearer installation token + Standard Webhooks."""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from flask import Blueprint

from storeflow.core import accounts
from storeflow.core.storage.tables import Integration
from storeflow.core.testing import plugin_client
from storeflow.web.plugin_auth import plugin_route

calls: list[str] = []


@pytest.fixture
def echo_app(app):
    bp = Blueprint("echo_test", __name__)

    @bp.post("/api/test/echo")
    @plugin_route
    def echo(session, call):
        calls.append(call.webhook_id)
        return {"success": True, "n": len(calls), "got": call.data}

    app.register_blueprint(bp)
    calls.clear()
    return app


@pytest.fixture
def creds(rt, tenant):
    token = "sfit_" + secrets.token_urlsafe(32)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with rt.unit_of_work() as session:
        row = session.get_one(Integration, tenant.integration_id)
        row.installation_token_hash = accounts.hash_token(token)
        row.signing_secret = secret
    return token, secret


def post(client, token, secret, payload, **options):
    body, headers = plugin_client.signed(token, secret, payload, **options)
    return client.post("/api/test/echo", data=body, headers=headers)


def test_signed_request_is_accepted(echo_app, creds):
    response = post(echo_app.test_client(), *creds, {"a": 1})
    assert response.status_code == 200
    assert response.get_json() == {"success": True, "n": 1, "got": {"a": 1}}


def test_repeated_webhook_id_answers_the_same_without_second_effect(echo_app, creds):
    client = echo_app.test_client()
    first = post(client, *creds, {"a": 1}, webhook_id="msg_same")
    again = post(client, *creds, {"a": 1}, webhook_id="msg_same")
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert calls == ["msg_same"]


@pytest.mark.parametrize("skew", [timedelta(seconds=-400), timedelta(seconds=400)])
def test_stale_or_future_timestamps_are_401(echo_app, creds, skew):
    response = post(echo_app.test_client(), *creds, {}, timestamp=datetime.now(UTC) + skew)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_signature"
    assert calls == []


def test_wrong_signing_secret_is_401(echo_app, creds):
    token, _ = creds
    other = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    assert post(echo_app.test_client(), token, other, {}).status_code == 401


def test_unknown_token_is_401(echo_app, creds):
    _, secret = creds
    response = post(echo_app.test_client(), "sfit_nope", secret, {})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "invalid_token"


def test_tampered_body_is_401(echo_app, creds):
    body, headers = plugin_client.signed(*creds, {"a": 1})
    response = echo_app.test_client().post("/api/test/echo", data=body + b" ", headers=headers)
    assert response.status_code == 401


def test_malformed_json_is_400_after_authentication(echo_app, creds):
    token, secret = creds
    body = b'{"a": '
    headers = plugin_client.signed_headers(token, secret, body)
    response = echo_app.test_client().post("/api/test/echo", data=body, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed_json"


def test_disconnected_integration_token_stops_working(rt, echo_app, creds, tenant):
    with rt.unit_of_work() as session:
        session.get_one(Integration, tenant.integration_id).status = "disconnected"
    assert post(echo_app.test_client(), *creds, {}).status_code == 401
