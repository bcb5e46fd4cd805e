"""Who may decide a connect request, signed bodies that are not UTF-8, page sessions (issue 16)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from datetime import timedelta
from typing import Any

import attrs
import pytest
from argon2 import PasswordHasher

from storeflow.core import accounts, clock
from storeflow.core.storage.tables import ConnectRequest
from tests.connecting import connected, poll, start_connect
from tests.test_setup_page import PASSWORD, decide, page, sign_in


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch):
    """argon2 at its production cost takes most of these tests' time; the cost is not
    what they test (a hash records its parameters, so verification follows them)."""
    monkeypatch.setattr(
        accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def _error(response: Any) -> str:
    return response.get_json()["error"]["code"]


def _status(rt: Any, request_id: str) -> str:
    with rt.unit_of_work() as session:
        return session.get_one(ConnectRequest, request_id).status


# --- the API's deny --------------------------------------------------------------------


def test_deny_by_another_companys_key_is_404(rt, client, tenant, other_tenant):
    connected(client, tenant.auth)  # the store is acme's
    start = start_connect(client)  # ... and asks to reconnect
    rid = start["connectRequestId"]
    theirs = client.post(f"/api/connect-requests/{rid}/deny", headers=other_tenant.auth)
    assert theirs.status_code == 404 and _error(theirs) == "connect_request_not_found"
    assert _status(rt, rid) == "pending"
    mine = client.post(f"/api/connect-requests/{rid}/deny", headers=tenant.auth)
    assert mine.status_code == 200 and mine.get_json()["connectRequest"]["status"] == "denied"
    assert poll(client, start).get_json()["status"] == "denied"


def test_the_same_store_spelled_differently_is_still_theirs(rt, client, tenant, other_tenant):
    connected(client, tenant.auth)
    rid = start_connect(client, storeUrl="HTTPS://Shop.Example.com/")["connectRequestId"]
    theirs = client.post(f"/api/connect-requests/{rid}/deny", headers=other_tenant.auth)
    assert theirs.status_code == 404
    assert _status(rt, rid) == "pending"


def test_a_store_nobody_holds_can_be_denied_by_a_company_given_the_id(rt, client, tenant):
    rid = start_connect(client, storeUrl="https://new-shop.example.com")["connectRequestId"]
    response = client.post(f"/api/connect-requests/{rid}/deny", headers=tenant.auth)
    assert response.status_code == 200
    assert _status(rt, rid) == "denied"


# --- the page's deny and approve --------------------------------------------------------


@pytest.fixture
def people(rt, tenant, other_tenant):
    with rt.unit_of_work() as session:
        acme = accounts.company_by_slug(session, "acme")
        globex = accounts.company_by_slug(session, "globex")
        for email, company, role in (
            ("owner@acme.test", acme, "owner"),
            ("admin@globex.test", globex, "admin"),
            ("member@acme.test", acme, "member"),
        ):
            user = accounts.create_user(session, email, PASSWORD)
            accounts.add_member(session, user, company, role)
        accounts.create_user(session, "loner@nowhere.test", PASSWORD)
        return {"acme": acme.id, "globex": globex.id}


def test_deny_on_the_page_needs_an_owner_or_admin_of_the_chosen_company(rt, app, people):
    rid = start_connect(app.test_client())["connectRequestId"]
    for email, company, text in (
        ("loner@nowhere.test", None, "not a member of that company"),
        ("member@acme.test", "acme", "your role there is member"),
        ("owner@acme.test", "globex", "not a member of that company"),
    ):
        client = app.test_client()
        sign_in(client, rid, email)
        response = decide(client, rid, decision="deny", company=people.get(company or ""))
        assert response.status_code == 403 and text in response.get_data(as_text=True)
    assert _status(rt, rid) == "pending"


def test_the_page_cannot_deny_a_store_another_company_holds(rt, client, tenant, people):
    connected(client, tenant.auth)  # the store is acme's
    rid = start_connect(client)["connectRequestId"]
    sign_in(client, rid, "admin@globex.test")
    response = decide(client, rid, decision="deny", company=people["globex"])
    assert response.status_code == 403
    assert "connected to another company" in response.get_data(as_text=True)
    assert _status(rt, rid) == "pending"


def test_a_company_id_that_is_not_ascii_digits_is_not_a_500(rt, client, people):
    rid = start_connect(client)["connectRequestId"]
    sign_in(client, rid, "owner@acme.test")
    for company in ("\u00b2", "\u0661", "\uff11", "1\u00b2", " 1", "-1", "1\n"):
        for decision in ("approve", "deny"):
            response = decide(client, rid, decision=decision, company=company)
            assert response.status_code == 403, company
            assert "not a member of that company" in response.get_data(as_text=True)
    assert _status(rt, rid) == "pending"


# --- signed bodies that are not UTF-8 -----------------------------------------------------


def _signed_bytes(token: str, secret: str, body: bytes, key: str | None = None) -> dict[str, str]:
    """Standard Webhooks over raw bytes, computed here from the spec."""
    msg_id, stamp = f"msg_{uuid.uuid4().hex}", str(int(time.time()))
    raw_key = base64.b64decode((key or secret).removeprefix("whsec_"))
    digest = hmac.new(raw_key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


@pytest.mark.parametrize("body", [b'{"lastError": "\xff"}', "{}".encode("utf-16")])
def test_a_correctly_signed_body_that_is_not_utf8_is_400(client, tenant, body):
    inst = connected(client, tenant.auth)
    headers = _signed_bytes(inst.token, inst.signing_secret, body)
    response = client.post("/api/woocommerce/heartbeat", data=body, headers=headers)
    assert response.status_code == 400 and _error(response) == "malformed_json"


def test_a_wrongly_signed_body_that_is_not_utf8_is_still_401(client, tenant):
    inst = connected(client, tenant.auth)
    body = b'{"lastError": "\xff"}'
    other = "whsec_" + base64.b64encode(b"k" * 32).decode()
    headers = _signed_bytes(inst.token, inst.signing_secret, body, key=other)
    response = client.post("/api/woocommerce/heartbeat", data=body, headers=headers)
    assert response.status_code == 401 and _error(response) == "invalid_signature"
    stale = _signed_bytes(inst.token, inst.signing_secret, body)
    stale["webhook-timestamp"] = str(int(time.time()) - 3600)
    response = client.post("/api/woocommerce/heartbeat", data=body, headers=stale)
    assert response.status_code == 401


# --- page sessions ----------------------------------------------------------------------


def _signed_in(client: Any, rid: str) -> bool:
    return "Signed in as" in page(client, rid).get_data(as_text=True)


def test_a_session_ends_after_its_maximum_age(rt, client, people):
    rt.settings = attrs.evolve(rt.settings, session_max_age_seconds=600)
    rid = start_connect(client)["connectRequestId"]  # requests last 15 minutes
    sign_in(client, rid, "owner@acme.test")
    assert _signed_in(client, rid)
    clock.travel(timedelta(minutes=9))
    assert _signed_in(client, rid)  # activity does not extend it ...
    clock.travel(timedelta(minutes=2))
    assert not _signed_in(client, rid)  # ... the age since sign-in ends it
    assert decide(client, rid, company=people["acme"]).status_code == 401
    assert _status(rt, rid) == "pending"


def test_signing_out_ends_the_session_in_other_browsers(rt, app, people):
    laptop, phone = app.test_client(), app.test_client()
    rid = start_connect(laptop)["connectRequestId"]
    sign_in(laptop, rid, "owner@acme.test")
    sign_in(phone, rid, "owner@acme.test")
    stolen = app.test_client()
    cookie = laptop.get_cookie("session")
    assert cookie is not None
    stolen.set_cookie("session", cookie.value)
    assert _signed_in(stolen, rid) and _signed_in(phone, rid)

    html = page(laptop, rid).get_data(as_text=True)
    token = html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    out = laptop.post("/setup/logout", data={"csrf_token": token, "request": rid})
    assert out.status_code == 303
    assert not _signed_in(laptop, rid)
    assert not _signed_in(phone, rid)
    assert not _signed_in(stolen, rid)  # a copy of the signed-out cookie is dead too
    assert decide(stolen, rid, company=people["acme"]).status_code == 401


def test_a_new_password_ends_every_session(rt, client, people):
    rid = start_connect(client)["connectRequestId"]
    sign_in(client, rid, "owner@acme.test")
    assert _signed_in(client, rid)
    with rt.unit_of_work() as session:
        accounts.create_user(session, "owner@acme.test", "another long password")
    assert not _signed_in(client, rid)
    assert sign_in(client, rid, "owner@acme.test", "another long password").status_code == 303
    assert _signed_in(client, rid)
