"""The merchant's approval page: sign in, pick a company, approve or deny; CSRF and sessions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from storeflow.core import accounts, clock
from storeflow.core.storage.tables import ConnectRequest
from tests.connecting import poll, start_connect

PASSWORD = "correct horse battery"


@pytest.fixture
def people(rt, tenant, other_tenant):
    """An owner of acme, an admin of globex, a member of acme, and a user of nothing."""
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


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def page(client, request_id):
    return client.get(f"/setup/woocommerce?request={request_id}")


def sign_in(client, request_id, email, password=PASSWORD):
    token = csrf(page(client, request_id).get_data(as_text=True))
    return client.post(
        "/setup/login",
        data={"csrf_token": token, "request": request_id, "email": email, "password": password},
    )


def decide(client, request_id, decision="approve", company=None, token=None):
    html = page(client, request_id).get_data(as_text=True)
    data = {"csrf_token": token if token is not None else csrf(html), "request": request_id}
    data["decision"] = decision
    if company is not None:
        data["company"] = str(company)
    return client.post("/setup/woocommerce", data=data)


def status_of(rt, request_id):
    with rt.unit_of_work() as session:
        return session.get_one(ConnectRequest, request_id).status


def test_owner_signs_in_picks_company_and_approves(rt, client, people):
    start = start_connect(client, siteName="Example Shop")
    rid = start["connectRequestId"]
    login_page = page(client, rid)
    assert login_page.status_code == 200 and "Sign in" in login_page.get_data(as_text=True)

    response = sign_in(client, rid, "OWNER@acme.test")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"request={rid}")
    chooser = page(client, rid).get_data(as_text=True)
    assert "Example Shop" in chooser and "https://shop.example.com" in chooser
    assert "Acme (owner)" in chooser

    done = decide(client, rid, company=people["acme"])
    assert done.status_code == 200 and "Store connected" in done.get_data(as_text=True)
    answer = poll(client, start).get_json()
    assert answer["status"] == "approved" and answer["companyId"] == people["acme"]
    with rt.unit_of_work() as session:
        assert session.get_one(ConnectRequest, rid).decided_by == "user:owner@acme.test"


def test_member_is_refused_with_a_clear_message(rt, client, people):
    rid = start_connect(client)["connectRequestId"]
    sign_in(client, rid, "member@acme.test")
    chooser = page(client, rid).get_data(as_text=True)
    assert "Acme (member: cannot approve)" in chooser and "not an owner or admin" in chooser
    response = decide(client, rid, company=people["acme"])
    assert response.status_code == 403
    text = response.get_data(as_text=True)
    assert "Only an owner or admin of Acme can connect a store" in text
    assert status_of(rt, rid) == "pending"


def test_company_the_user_does_not_belong_to_is_refused(rt, client, people):
    rid = start_connect(client)["connectRequestId"]
    sign_in(client, rid, "owner@acme.test")
    for company in (people["globex"], "not-a-number", "", "9" * 40):
        response = decide(client, rid, company=company)
        assert response.status_code == 403
        assert "not a member of that company" in response.get_data(as_text=True)
    assert status_of(rt, rid) == "pending"


def test_deny_from_the_page(rt, client, people):
    start = start_connect(client)
    # Denying, like approving, takes an owner or admin of the chosen company (issue 16).
    sign_in(client, start["connectRequestId"], "owner@acme.test")
    response = decide(client, start["connectRequestId"], decision="deny", company=people["acme"])
    assert response.status_code == 200 and "Connection denied" in response.get_data(as_text=True)
    assert poll(client, start).get_json()["status"] == "denied"
    again = page(client, start["connectRequestId"])
    assert again.status_code == 409 and "Already denied" in again.get_data(as_text=True)


def test_posts_without_the_csrf_token_change_nothing(rt, client, people):
    rid = start_connect(client)["connectRequestId"]
    page(client, rid)
    forged_login = client.post(
        "/setup/login",
        data={"request": rid, "email": "owner@acme.test", "password": PASSWORD},
    )
    assert forged_login.status_code == 400
    assert "Sign in" in page(client, rid).get_data(as_text=True)  # still signed out

    sign_in(client, rid, "owner@acme.test")
    for token in ("", "wrong-token"):
        response = decide(client, rid, company=people["acme"], token=token)
        assert response.status_code == 400 and "Form expired" in response.get_data(as_text=True)
    assert status_of(rt, rid) == "pending"


def test_approve_while_signed_out_is_refused(rt, client, people):
    rid = start_connect(client)["connectRequestId"]
    response = decide(client, rid, company=people["acme"])
    assert response.status_code == 401
    assert status_of(rt, rid) == "pending"


def test_sign_in_renews_the_csrf_token(client, people):
    rid = start_connect(client)["connectRequestId"]
    before = csrf(page(client, rid).get_data(as_text=True))
    sign_in(client, rid, "owner@acme.test")
    assert csrf(page(client, rid).get_data(as_text=True)) != before


def test_wrong_password_and_unknown_user(client, people):
    rid = start_connect(client)["connectRequestId"]
    for email, password in (("owner@acme.test", "nope-nope-nope"), ("ghost@x.test", PASSWORD)):
        response = sign_in(client, rid, email, password)
        assert response.status_code == 401
        assert "Wrong email or password" in response.get_data(as_text=True)


def test_sign_in_attempts_are_rate_limited_per_email(client, people):
    rid = start_connect(client)["connectRequestId"]
    codes = [
        sign_in(client, rid, "owner@acme.test", "wrong-password").status_code for _ in range(11)
    ]
    assert codes[:10] == [401] * 10 and codes[10] == 429
    limited = sign_in(client, rid, "owner@acme.test")  # even the right password waits
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


def test_expired_unknown_and_missing_requests(client, people):
    rid = start_connect(client)["connectRequestId"]
    clock.travel(timedelta(minutes=16))
    expired = page(client, rid)
    assert expired.status_code == 409 and "expired" in expired.get_data(as_text=True)
    assert page(client, "cr_nope").status_code == 404
    assert client.get("/setup/woocommerce").status_code == 400


def test_store_supplied_text_is_escaped(client, people):
    rid = start_connect(client, siteName="<script>alert(1)</script>")["connectRequestId"]
    sign_in(client, rid, "owner@acme.test")
    html = page(client, rid).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_session_cookie_and_security_headers(client, people):
    rid = start_connect(client)["connectRequestId"]
    response = page(client, rid)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_users_made_with_the_cli_can_sign_in_and_approve(rt, client, tenant):
    from click.testing import CliRunner

    from storeflow.web.cli import cli

    result = CliRunner().invoke(
        cli,
        [
            "users",
            "create",
            "cli@acme.test",
            "--company",
            "acme",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        obj=rt,
    )
    assert result.exit_code == 0, result.output
    start = start_connect(client)
    assert sign_in(client, start["connectRequestId"], "cli@acme.test").status_code == 303
    assert decide(client, start["connectRequestId"], company=tenant.company_id).status_code == 200
    assert poll(client, start).get_json()["companyId"] == tenant.company_id
