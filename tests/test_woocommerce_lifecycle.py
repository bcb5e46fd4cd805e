"""The whole connection lifecycle over real HTTP, driven by the plugin simulator.

connect -> approve (operator API route, or the browser page) -> poll -> heartbeat ->
sync command -> ack -> Sync Store -> disconnect, against the app served by werkzeug
in a thread. The simulator acknowledges syncs without sending data here
(``send_data=False``): the sync endpoints have their own tests.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from storeflow.core import accounts, plugins
from storeflow.providers.woocommerce.simulator import (
    SampleStore,
    SimulatorError,
    WooCommerceSimulator,
)
from tests.live_server import serving

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def live(rt):
    from storeflow.web.app import create_app

    with serving(rt, lambda: create_app({"TESTING": True}, runtime=rt)) as base_url:
        yield base_url


@pytest.fixture
def owner(rt, tenant):
    with rt.unit_of_work() as session:
        company = accounts.company_by_slug(session, tenant.slug)
        user = accounts.create_user(session, "owner@acme.test", PASSWORD)
        accounts.add_member(session, user, company, "owner")
    return "owner@acme.test"


def admin_get(base, tenant, path):
    return requests.get(f"{base}{path}", headers=tenant.auth, timeout=10)


def integration_row(base, tenant, integration_id):
    response = admin_get(base, tenant, f"/api/integrations/{integration_id}")
    assert response.status_code == 200
    return response.json()["integration"]


def run_connected_cycle(sim, base, tenant):
    """After approval: claim, heartbeat, initial sync, Sync Store, disconnect."""
    assert sim.poll() == "approved"
    creds = sim.credentials
    assert creds is not None and creds.company_id == tenant.company_id
    claimed_again = sim.poll_response()
    assert claimed_again.status_code == 409
    assert claimed_again.json()["error"]["code"] == "already_claimed"

    received = sim.heartbeat()
    assert [c["type"] for c in received] == ["sync"]
    assert received[0]["resources"] == ["products", "customers", "orders"]
    assert sim.run_command(received[0], send_data=False) == "completed"
    row = integration_row(base, tenant, creds.integration_id)
    assert row["status"] == "connected" and row["health"] == "healthy"
    assert row["sync"]["state"] == "completed" and row["lastSyncAt"] is not None
    assert row["pluginVersion"] == sim.plugin_version and row["lastSeenAt"] is not None

    # Sync Store, clicked twice: one command, delivered on the next heartbeat.
    clicks = [
        requests.post(
            f"{base}/api/integrations/{creds.integration_id}/sync", headers=tenant.auth, timeout=10
        )
        for _ in range(2)
    ]
    assert [c.status_code for c in clicks] == [202, 202]
    assert [c.json()["queued"] for c in clicks] == [True, False]
    manual = sim.heartbeat()
    assert [c["id"] for c in manual] == [clicks[0].json()["command"]["commandId"]]
    sim.ack(manual[0]["id"], "started")
    assert integration_row(base, tenant, creds.integration_id)["sync"]["state"] == "running"
    sim.ack(manual[0]["id"], "completed", "nothing to send")
    assert sim.heartbeat() == []

    # Native webhooks with the webhook secret from the poll.
    assert sim.send_webhook("product.updated", sim.store.products[0]).status_code == 200

    assert sim.disconnect("uninstalled") == {"success": True}
    with pytest.raises(SimulatorError) as refused:
        sim.heartbeat()
    assert refused.value.status == 401 and refused.value.body["error"]["code"] == "invalid_token"
    assert sim.send_webhook("product.updated", sim.store.products[0]).status_code == 401
    row = integration_row(base, tenant, creds.integration_id)
    assert row["status"] == "disconnected" and row["disconnectReason"] == "plugin: uninstalled"
    return creds


def test_full_cycle_with_operator_approval(rt, live, tenant):
    sim = WooCommerceSimulator(live, SampleStore.generate("https://shop.example.com"))
    start = sim.connect()
    assert start.authorize_url == f"{live}/setup/woocommerce?request={start.connect_request_id}"
    assert sim.poll() == "pending"
    approval = sim.approve_with_api_key(tenant.api_key)
    assert approval["integration"]["status"] == "connected"
    creds = run_connected_cycle(sim, live, tenant)

    # Reconnect from the same store: same integration, new credentials.
    again = WooCommerceSimulator(live, sim.store)
    again.connect()
    again.approve_with_api_key(tenant.api_key)
    assert again.poll() == "approved"
    assert again.credentials.integration_id == creds.integration_id
    assert again.credentials.installation_token != creds.installation_token
    assert [c["type"] for c in again.heartbeat()] == ["sync"]


def test_full_cycle_with_approval_on_the_page(rt, live, tenant, owner):
    sim = WooCommerceSimulator(live, SampleStore.generate("https://shop.example.com"))
    start = sim.connect()
    browser = requests.Session()
    login = browser.get(start.authorize_url, timeout=10)
    assert login.status_code == 200 and "Sign in" in login.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
    chooser = browser.post(
        f"{live}/setup/login",
        data={
            "csrf_token": token,
            "request": start.connect_request_id,
            "email": owner,
            "password": PASSWORD,
        },
        timeout=10,
    )
    assert chooser.status_code == 200 and "Approve" in chooser.text  # followed the 303
    token = re.search(r'name="csrf_token" value="([^"]+)"', chooser.text).group(1)
    company = re.search(r'<option value="(\d+)">Acme \(owner\)', chooser.text).group(1)
    done = browser.post(
        f"{live}/setup/woocommerce",
        data={
            "csrf_token": token,
            "request": start.connect_request_id,
            "company": company,
            "decision": "approve",
        },
        timeout=10,
    )
    assert done.status_code == 200 and "Store connected" in done.text
    run_connected_cycle(sim, live, tenant)


def test_denied_and_expired_as_the_plugin_sees_them(rt, live, tenant):
    sim = WooCommerceSimulator(live)
    start = sim.connect()
    requests.post(
        f"{live}/api/connect-requests/{start.connect_request_id}/deny",
        headers=tenant.auth,
        timeout=10,
    )
    assert sim.wait_for_approval(timeout=5, interval=0.1) == "denied"
    assert sim.credentials is None


def test_concurrent_polls_hand_out_the_credentials_once(rt, live, tenant):
    sim = WooCommerceSimulator(live)
    sim.connect()
    sim.approve_with_api_key(tenant.api_key)
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: sim.poll_response(), range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 7
    assert sum("installationToken" in r.json() for r in responses) == 1


def test_concurrent_sync_store_clicks_queue_one_command(rt, live, tenant):
    sim = WooCommerceSimulator(live)
    sim.connect()
    sim.approve_with_api_key(tenant.api_key)
    sim.poll()
    url = f"{live}/api/integrations/{sim.credentials.integration_id}/sync"
    sim.run_command(sim.heartbeat()[0], send_data=False)
    with ThreadPoolExecutor(8) as pool:
        clicks = list(
            pool.map(lambda _: requests.post(url, headers=tenant.auth, timeout=10), range(8))
        )
    assert [c.status_code for c in clicks] == [202] * 8
    assert sum(c.json()["queued"] for c in clicks) == 1
    assert len({c.json()["command"]["commandId"] for c in clicks}) == 1
    assert len(sim.heartbeat()) == 1


def test_cli_simulate_woocommerce(rt, live, tenant):
    from storeflow.web.cli import cli

    pm = plugins.build_plugin_manager()
    pm.hook.register_commands(cli=cli)  # what `storeflow` does at start-up
    result = CliRunner().invoke(
        cli,
        [
            "simulate",
            "woocommerce",
            "--url",
            live,
            "--store-url",
            "https://cli-store.example.com",
            "--api-key",
            tenant.api_key,
            "--no-data",
            "--disconnect",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "connected: integration int_" in result.output
    assert re.search(r"sync cmd_\w+: completed", result.output)
    assert "disconnected" in result.output
    listing = admin_get(live, tenant, "/api/integrations").json()["integrations"]
    row = next(i for i in listing if i["storeUrl"] == "https://cli-store.example.com")
    assert row["status"] == "disconnected" and row["sync"]["state"] == "completed"


def test_simulator_syncs_data_when_the_sync_endpoints_exist(rt, live, tenant, app):
    """Pages the fixture store through the sync endpoints (built separately)."""
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    if "/api/woocommerce/sync/<resource>" not in rules:
        pytest.skip("the sync endpoints are not in this build yet")
    sim = WooCommerceSimulator(
        live, SampleStore.generate("https://shop.example.com", products=5), page_size=2
    )
    sim.connect()
    sim.approve_with_api_key(tenant.api_key)
    sim.poll()
    (command,) = sim.heartbeat()
    assert sim.run_command(command) == "completed"


# --- the page in a real browser --------------------------------------------------------------


def _chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("STOREFLOW_REQUIRE_BROWSER") == "1":
        pytest.fail(f"STOREFLOW_REQUIRE_BROWSER=1 but {CHROMIUM} is missing")
    pytest.skip(f"{CHROMIUM} is not installed")


@pytest.fixture
def browser_page():
    _chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


@pytest.mark.browser
def test_browser_sign_in_pick_company_and_approve(
    rt, live, tenant, other_tenant, owner, browser_page
):
    with rt.unit_of_work() as session:
        globex = accounts.company_by_slug(session, other_tenant.slug)
        user = accounts.create_user(session, owner, PASSWORD)
        accounts.add_member(session, user, globex, "member")
    sim = WooCommerceSimulator(live, SampleStore.generate("https://shop.example.com"))
    start = sim.connect()
    page = browser_page

    page.goto(start.authorize_url)
    page.fill("#email", owner)
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_selector("#approve")
    assert "https://shop.example.com" in page.inner_text("#store-url")

    # Globex, where this user is only a member: refused, and nothing changes.
    page.select_option("#company", label="Globex (member: cannot approve)")
    page.click("#approve")
    page.wait_for_selector("#error")
    assert "Only an owner or admin of Globex" in page.inner_text("#error")
    assert sim.poll() == "pending"

    page.select_option("#company", label="Acme (owner)")
    page.click("#approve")
    page.wait_for_selector("#result")
    assert page.inner_text("#result") == "Store connected"
    cookie = next(c for c in page.context.cookies() if c["name"] == "session")
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"

    assert sim.poll() == "approved"
    assert sim.credentials.company_id == tenant.company_id
    assert [c["type"] for c in sim.heartbeat()] == ["sync"]


@pytest.mark.browser
def test_browser_page_refuses_to_be_framed(rt, live, browser_page):
    sim = WooCommerceSimulator(live)
    start = sim.connect()
    page = browser_page
    page.goto(f"{live}/healthz")
    page.set_content(f'<iframe id="f" src="{start.authorize_url}"></iframe>')
    page.wait_for_timeout(500)
    frame = page.frame_locator("#f")
    assert frame.locator("#email").count() == 0
