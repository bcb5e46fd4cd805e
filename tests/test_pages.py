"""The admin pages through the Flask test client: sign-in, company scoping, CSRF, forms.

The browser walk is tests/test_pages_browser.py; this module holds the many small checks
(every page of another company is a 404, every form needs its CSRF token) that a
browser would only make slow.
"""

from __future__ import annotations

import functools
import re
from datetime import timedelta
from typing import Any

import attrs
import pytest
from argon2 import PasswordHasher
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from storeflow.core import accounts, clock
from storeflow.core.storage.tables import (
    InboundDelivery,
    Integration,
    OrderRow,
    PluginCommand,
    ReplenishmentSetting,
    Sequence,
    User,
)
from storeflow.web.pages import charts
from tests import connecting, replenishkit, rulekit
from tests.conftest import Tenant, make_tenant

PASSWORD = "correct horse battery"


@attrs.frozen
class Shop:
    """A company with a user, a webhook store with a catalogue and orders, a plugin store,
    a sequence, and one failed delivery."""

    tenant: Tenant
    email: str
    plugin: connecting.Installation
    failed_delivery: int
    subscriber_id: int


@functools.cache
def password_hash() -> str:
    # argon2 is slow on purpose: hash the tests' one password once per run.
    return PasswordHasher().hash(PASSWORD)


def add_user(rt: Any, slug: str, email: str, role: str = "owner") -> None:
    with rt.unit_of_work() as session:
        user = User(email=email, password_hash=password_hash(), session_version=0)
        session.add(user)
        session.flush()
        accounts.add_member(session, user, accounts.company_by_slug(session, slug), role)


def enter(rt: Any, client: Any, email: str) -> str:
    """The session a sign-in would start, without argon2's cost; returns its CSRF token."""
    with rt.unit_of_work() as session:
        user = accounts.find_user(session, email)
        assert user is not None
        uid, version = user.id, user.session_version
    with client.session_transaction() as cookie:
        cookie.update(uid=uid, sv=version, at=int(clock.now().timestamp()), csrf="t" * 43)
    return "t" * 43


def make_shop(rt: Any, client: Any, slug: str, store_url: str | None = None) -> Shop:
    tenant = make_tenant(rt, slug)
    email = f"owner@{slug}.test"
    add_user(rt, slug, email)
    replenishkit.catalogue(client, tenant)
    rulekit.define(rt, tenant.company_id, rulekit.sequence(f"thanks-{slug}", rulekit.ORDER))
    now = clock.now()
    for number, days_ago in enumerate((40, 20, 1)):
        replenishkit.buy(
            client,
            tenant,
            9000 + number,
            [replenishkit.coffee()],
            at=now - timedelta(days=days_ago),
            email=f"buyer@{slug}.example.com",
        )
    plugin_url = store_url or f"https://plugin-{slug}.example.com"
    plugin = connecting.connected(client, tenant.auth, storeUrl=plugin_url)
    beat = connecting.heartbeat(client, plugin, storeUrl=plugin_url)
    for command in beat.get_json()["commands"]:  # the first sync, done by the plugin
        for step in ("started", "completed"):
            assert connecting.ack(client, plugin, command["id"], step).status_code == 200
    with rt.unit_of_work() as session:
        # A delivery that failed in an outage: stored with its reason, replayable.
        delivery = session.scalars(
            select(InboundDelivery)
            .where(InboundDelivery.company_id == tenant.company_id)
            .order_by(InboundDelivery.id)
        ).first()
        assert delivery is not None
        delivery.status, delivery.error = "failed", "database was unavailable (outage)"
        failed = delivery.id
    subscriber = rulekit.subscriber(rt, tenant.company_id, f"buyer@{slug}.example.com")
    return Shop(tenant, email, plugin, failed, subscriber.id)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def sign_in(client: Any, email: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    token = csrf_of(client.get("/signin").get_data(as_text=True))
    answer = client.post(
        "/signin", data={"csrf_token": token, "email": email, "password": password}
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return csrf_of(client.get("/dashboard").get_data(as_text=True))


def shop_pages(shop: Shop) -> list[str]:
    """A GET URL of every page that names one of the shop's objects."""
    store = shop.tenant.integration_id
    return [
        f"/settings/integrations/{store}",
        f"/settings/integrations/{shop.plugin.integration_id}/disconnect",
        f"/settings/products/woocommerce/{replenishkit.COFFEE}?store={store}",
        f"/subscribers/{shop.subscriber_id}",
        f"/sequences/thanks-{shop.tenant.slug}",
    ]


def shop_forms(shop: Shop) -> list[tuple[str, dict[str, str]]]:
    plugin = shop.plugin.integration_id
    return [
        (f"/settings/integrations/{plugin}/sync", {}),
        (f"/settings/integrations/{plugin}/disconnect", {}),
        (
            f"/settings/integrations/{shop.tenant.integration_id}/deliveries/{shop.failed_delivery}/replay",
            {},
        ),
        (
            f"/settings/products/woocommerce/{replenishkit.COFFEE}?store={shop.tenant.integration_id}",
            {"enabled": "on", "days": "30", "match": "product"},
        ),
        (f"/sequences/thanks-{shop.tenant.slug}/dry-run", {"days": "30"}),
    ]


GENERAL_PAGES = [
    "/dashboard",
    "/settings/integrations",
    "/settings/integrations/install",
    "/settings/products",
    "/settings/products?q=coffee&page=1",
    "/subscribers",
    "/subscribers?q=buyer",
    "/sequences",
    "/operations",
]


@pytest.fixture
def shop(rt, client) -> Shop:
    return make_shop(rt, client, "acme")


@pytest.fixture
def shops(rt, client, shop) -> tuple[Shop, Shop]:
    return shop, make_shop(rt, client, "globex")


def state(rt: Any, shop: Shop) -> dict[str, Any]:
    """What the forms of ``shop_forms`` change, to see that a refused one changed nothing."""
    with rt.unit_of_work() as session:
        return {
            "commands": session.scalars(
                select(PluginCommand.status).where(
                    PluginCommand.company_id == shop.tenant.company_id
                )
            ).all(),
            "delivery": session.get_one(InboundDelivery, shop.failed_delivery).status,
            "settings": session.scalars(
                select(ReplenishmentSetting.enabled).where(
                    ReplenishmentSetting.company_id == shop.tenant.company_id
                )
            ).all(),
            "integrations": session.execute(
                select(Integration.id, Integration.status)
                .where(Integration.company_id == shop.tenant.company_id)
                .order_by(Integration.id)
            ).all(),
        }


def test_root_leads_to_sign_in_then_to_the_dashboard(rt, client):
    make_tenant(rt, "acme")
    add_user(rt, "acme", "ana@acme.test")
    answer = client.get("/")
    assert answer.status_code == 303 and answer.location.endswith("/signin")
    sign_in(client, "ana@acme.test")
    answer = client.get("/")
    assert answer.status_code == 303 and answer.location.endswith("/dashboard")
    assert "Acme" in client.get("/dashboard").get_data(as_text=True)


def test_pages_need_sign_in_and_come_back_after_it(rt, client):
    make_tenant(rt, "acme")
    add_user(rt, "acme", "ana@acme.test")
    for url in GENERAL_PAGES:
        answer = client.get(url)
        assert answer.status_code == 303, url
        assert "/signin?next=" in answer.location, url
    token = csrf_of(client.get("/signin?next=/sequences").get_data(as_text=True))
    answer = client.post(
        "/signin",
        data={
            "csrf_token": token,
            "email": "ana@acme.test",
            "password": PASSWORD,
            "next": "/sequences",
        },
    )
    assert answer.status_code == 303 and answer.location.endswith("/sequences")


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_sign_in_never_returns_to_another_host(rt, client, target):
    make_tenant(rt, "acme")
    add_user(rt, "acme", "ana@acme.test")
    token = csrf_of(client.get("/signin").get_data(as_text=True))
    answer = client.post(
        "/signin",
        data={"csrf_token": token, "email": "ana@acme.test", "password": PASSWORD, "next": target},
    )
    assert answer.status_code == 303 and answer.location.endswith("/dashboard")


def test_a_wrong_password_is_refused_and_sign_out_ends_the_session(rt, client):
    make_tenant(rt, "acme")
    add_user(rt, "acme", "ana@acme.test")
    token = csrf_of(client.get("/signin").get_data(as_text=True))
    wrong = client.post(
        "/signin", data={"csrf_token": token, "email": "ana@acme.test", "password": "nope-nope"}
    )
    assert wrong.status_code == 401 and "Wrong email or password" in wrong.get_data(as_text=True)
    token = sign_in(client, "ana@acme.test")
    assert client.post("/signout", data={"csrf_token": token}).status_code == 303
    assert client.get("/dashboard").status_code == 303


def test_every_page_renders_for_the_owner(rt, client, shop):
    acme = shop
    enter(rt, client, acme.email)
    for url in GENERAL_PAGES + shop_pages(acme):
        answer = client.get(url)
        assert answer.status_code == 200, (url, answer.get_data(as_text=True)[:2000])
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    products = client.get("/settings/products?q=coffee").get_data(as_text=True)
    assert "Coffee Beans" in products and "Green Tea" not in products


def test_another_companys_pages_are_404_and_its_forms_change_nothing(rt, client, shops):
    acme, globex = shops
    token = enter(rt, client, acme.email)
    for url in shop_pages(globex):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert "belongs to another company" in answer.get_data(as_text=True)
    before = state(rt, globex)
    for url, form in shop_forms(globex):
        assert client.post(url, data={"csrf_token": token, **form}).status_code == 404, url
    assert state(rt, globex) == before
    # The same objects' own company sees them.
    client.post("/signout", data={"csrf_token": token})
    enter(rt, client, globex.email)
    assert all(client.get(url).status_code == 200 for url in shop_pages(globex))


def test_forms_without_the_csrf_token_are_refused(rt, client, shop):
    acme = shop
    enter(rt, client, acme.email)
    before = state(rt, acme)
    for url, form in shop_forms(acme):
        answer = client.post(url, data={**form, "csrf_token": "forged"})
        assert answer.status_code == 400, url
    assert state(rt, acme) == before


def test_members_look_but_only_owners_and_admins_change(rt, client, shop):
    acme = shop
    add_user(rt, "acme", "member@acme.test", role="member")
    token = enter(rt, client, "member@acme.test")
    assert all(client.get(url).status_code == 200 for url in shop_pages(acme))
    assert client.get("/operations").status_code == 403
    before = state(rt, acme)
    for url, form in shop_forms(acme)[:4]:
        answer = client.post(url, data={"csrf_token": token, **form})
        assert answer.status_code == 403, url
        assert "owner or admin" in answer.get_data(as_text=True)
    assert state(rt, acme) == before


def test_sync_store_queues_one_sync_and_says_so(rt, client, shop):
    acme = shop
    token = enter(rt, client, acme.email)
    url = f"/settings/integrations/{acme.plugin.integration_id}"
    assert 'data-state="completed"' in client.get(url).get_data(as_text=True)
    first = client.post(f"{url}/sync", data={"csrf_token": token}, follow_redirects=True)
    html = first.get_data(as_text=True)
    assert "Sync requested" in html and 'data-state="requested"' in html
    again = client.post(f"{url}/sync", data={"csrf_token": token}, follow_redirects=True)
    assert "already waiting" in again.get_data(as_text=True)
    assert sorted(state(rt, acme)["commands"]) == ["completed", "requested"]


def test_the_replenishment_form_shows_the_apis_messages(rt, client, shop):
    acme = shop
    token = enter(rt, client, acme.email)
    url = f"/settings/products/woocommerce/{replenishkit.COFFEE}"
    bad = client.post(url, data={"csrf_token": token, "enabled": "on", "days": ""})
    assert bad.status_code == 422 and "required when enabled" in bad.get_data(as_text=True)
    bad = client.post(url, data={"csrf_token": token, "enabled": "on", "days": "0"})
    assert bad.status_code == 422 and "must be from 1 to 730" in bad.get_data(as_text=True)
    assert state(rt, acme)["settings"] == []
    good = client.post(
        url,
        data={"csrf_token": token, "enabled": "on", "days": "45", "match": "variant"},
        follow_redirects=True,
    )
    assert "45 days after each purchase" in good.get_data(as_text=True)
    api = client.get(f"/api/products/woocommerce/{replenishkit.COFFEE}", headers=acme.tenant.auth)
    setting = api.get_json()["product"]["replenishment"]
    assert (setting["enabled"], setting["days"], setting["match"]) == (True, 45, "variant")


def test_an_upload_is_checked_like_rules_check_and_saves_nothing_when_wrong(rt, client, shop):
    acme = shop
    token = enter(rt, client, acme.email)
    bad = "id: broken\nname: Broken\ntrigger:\n  event: ecommerce.nope\nsteps: []\n"
    answer = client.post("/sequences/upload", data={"csrf_token": token, "yaml": bad})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "upload.yaml" in html and "trigger.event" in html
    good = (
        "id: welcome\nname: Welcome\ntrigger:\n  event: ecommerce.order_placed\n"
        "steps:\n  - email: {subject: Hi, body: Hello}\n"
    )
    answer = client.post(
        "/sequences/upload", data={"csrf_token": token, "yaml": good}, follow_redirects=True
    )
    assert "Saved 1 sequence" in answer.get_data(as_text=True)
    with rt.unit_of_work() as session:
        slugs = session.scalars(
            select(Sequence.slug).where(Sequence.company_id == acme.tenant.company_id)
        ).all()
    assert sorted(slugs) == ["thanks-acme", "welcome"]


def test_the_dry_run_lists_the_trigger_events(rt, client, shop):
    acme = shop
    token = enter(rt, client, acme.email)
    answer = client.post("/sequences/thanks-acme/dry-run", data={"csrf_token": token, "days": "30"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and 'id="dry-run-report"' in html
    # Two of the three orders fall in the last 30 days.
    assert re.search(r"<strong>2</strong> trigger events", html)
    refused = client.post(
        "/sequences/thanks-acme/dry-run",
        data={"csrf_token": token, "days": "9999"},
        follow_redirects=True,
    )
    assert "from 1 to 365" in refused.get_data(as_text=True)


def test_replay_from_the_page_processes_the_delivery_again(rt, client, shop):
    acme = shop
    token = enter(rt, client, acme.email)
    store = acme.tenant.integration_id
    page = client.get(f"/settings/integrations/{store}").get_data(as_text=True)
    assert f'data-delivery="{acme.failed_delivery}"' in page and "outage" in page
    answer = client.post(
        f"/settings/integrations/{store}/deliveries/{acme.failed_delivery}/replay",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert f'data-delivery="{acme.failed_delivery}"' not in answer.get_data(as_text=True)
    assert state(rt, acme)["delivery"] == "processed"


# --- charts -------------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=10**12))
def test_the_scale_is_round_and_covers_the_peak(peak):
    top = charts.nice_top(peak)
    assert top >= max(peak, 1)
    assert str(top).rstrip("0") in ("1", "2", "5")
    assert top < max(peak, 1) * 5 + 1  # never more than one step above


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=60))
def test_bars_fit_the_plot_and_keep_the_order_of_values(values):
    days = [
        f"2026-01-{n:02d}" if n < 32 else f"2026-02-{n - 31:02d}" for n in range(1, len(values) + 1)
    ]
    chart = charts.bars(dict(zip(days, values, strict=True)), days)
    assert [bar.value for bar in chart.bars] == values
    bottom = chart.height - chart.pad
    for bar in chart.bars:
        assert chart.pad - 0.01 <= bar.y <= bottom + 0.01
        assert abs(bar.y + bar.height - bottom) < 0.02
    ordered = sorted(range(len(values)), key=lambda i: values[i])
    heights = [chart.bars[i].height for i in ordered]
    assert heights == sorted(heights)


# --- the dashboard's figures --------------------------------------------------------------


def test_revenue_counts_orders_within_the_window_after_a_sent_email(rt_smtp, client, tenant):
    from storeflow.rules import ledger

    rt = rt_smtp
    rulekit.no_cap(rt, tenant.company_id)
    once = rulekit.sequence("welcome", rulekit.ORDER, enrollment={"mode": "one_time"})
    rulekit.define(rt, tenant.company_id, once)
    start = clock.now()
    buyer = "ana@example.com"
    # The first order starts the sequence: its email goes after the order, so not its revenue.
    replenishkit.buy(client, tenant, 1, [replenishkit.coffee()], email=buyer, at=start)
    assert [m.status for m in rulekit.ledger(rt, tenant.company_id)] == ["sent"]
    rulekit.advance(rt, days=2)
    replenishkit.buy(client, tenant, 2, [replenishkit.coffee(2)], email=buyer)  # inside 5 days
    rulekit.advance(rt, days=4)
    replenishkit.buy(client, tenant, 3, [replenishkit.coffee()], email=buyer)  # 6 days after
    with rt.unit_of_work() as session:
        revenue = ledger.attributed_revenue(session, tenant.company_id, start - timedelta(days=1))
        sends = ledger.daily_sent(session, tenant.company_id, start - timedelta(days=1))
    with rt.unit_of_work() as session:
        orders = {
            o.provider_order_id: o.total_cents
            for o in session.scalars(
                select(OrderRow).where(OrderRow.company_id == tenant.company_id)
            )
        }
    assert revenue == {"USD": orders["2"]}
    assert sends == {start.date().isoformat(): 1}
