"""The admin pages in a real browser (system Chromium): one walk through every page.

It signs in through the form, opens each page (saving a screenshot of it under
var/screenshots/ for review, on a desktop and a phone viewport), clicks Sync Store and
sees the state change, changes a replenishment setting, opens a profile, runs a
dry-run, replays a failed delivery, disconnects a store through its confirmation, and
finds another company's pages missing. One browser, one page, one test: starting
Chromium is the expensive part.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from storeflow.core.storage.tables import InboundDelivery, Integration, ReplenishmentSetting
from tests import connecting, replenishkit
from tests.live_server import serving
from tests.test_api_docs import browser_page  # noqa: F401  (the fixture)
from tests.test_pages import PASSWORD, make_shop

SHOTS = Path(__file__).resolve().parent.parent / "var" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _row(rt: Any, model: Any, ident: Any) -> Any:
    with rt.unit_of_work() as session:
        row = session.get_one(model, ident)
        session.expunge(row)
        return row


@pytest.mark.browser
def test_a_merchant_works_through_every_page(rt, app, client, browser_page):  # noqa: F811
    page = browser_page
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    acme = make_shop(rt, client, "acme")
    globex = make_shop(rt, client, "globex")
    with serving(rt, lambda: app) as base:
        page.set_viewport_size(DESKTOP)
        # The root URL leads to sign-in, then to the dashboard.
        page.goto(base)
        assert page.url.startswith(f"{base}/signin")
        shoot(page, "signin")
        page.fill("#email", acme.email)
        page.fill("#password", PASSWORD)
        page.click("#sign-in")
        page.wait_for_url(f"{base}/dashboard")
        assert page.locator("#events-chart rect").count() == 14
        assert "Acme" in page.inner_text("h1")
        shoot(page, "dashboard")

        # Settings -> Integrations: Sync Store changes the sync state.
        page.click("text=Integrations")
        assert page.locator("section.store").count() == 2
        shoot(page, "integrations")
        plugin_store = acme.plugin.integration_id
        page.goto(f"{base}/settings/integrations/{plugin_store}")
        sync_state = page.locator(".sync-state")
        assert sync_state.get_attribute("data-state") == "completed"
        page.click("#sync-store")
        page.wait_for_selector(".notice")
        assert sync_state.get_attribute("data-state") == "requested"
        assert "Sync requested" in page.inner_text(".notice")
        shoot(page, "integration")
        # The plugin takes it on its next heartbeat and starts: the page says running.
        beat = connecting.heartbeat(client, acme.plugin).get_json()
        (command,) = beat["commands"]
        connecting.ack(client, acme.plugin, command["id"], "started")
        page.reload()
        assert sync_state.get_attribute("data-state") == "running"

        # A failed delivery is replayed from the webhook store's page.
        store = acme.tenant.integration_id
        page.goto(f"{base}/settings/integrations/{store}")
        failed = page.locator(f'tr[data-delivery="{acme.failed_delivery}"]')
        assert "outage" in failed.inner_text()
        failed.locator("button[name=replay]").click()
        page.wait_for_selector(".notice")
        assert failed.count() == 0
        assert _row(rt, InboundDelivery, acme.failed_delivery).status == "processed"

        page.goto(f"{base}/settings/integrations/install")
        assert page.inner_text("#service-url") == base
        shoot(page, "install-plugin")

        # Settings -> Products: search, open a product, enable replenishment.
        page.goto(f"{base}/settings/products")
        shoot(page, "products")
        page.fill("#q", "coffee")
        page.press("#q", "Enter")
        page.wait_for_url("**q=coffee**")
        assert page.locator("li.product").count() == 1
        page.click("li.product h2 a")
        page.check("#enabled")
        page.fill("#days", "")  # enabled without days: the server says what is missing
        page.click("#save-replenishment")
        assert "required when enabled" in page.inner_text("#days-error")
        page.fill("#days", "28")
        page.check("input[name=match][value=variant]")
        page.click("#save-replenishment")
        page.wait_for_selector(".notice")
        assert "28 days" in page.inner_text(".notice")
        assert page.input_value("#days") == "28"
        shoot(page, "product")
        with rt.unit_of_work() as session:
            setting = session.scalars(
                select(ReplenishmentSetting).where(
                    ReplenishmentSetting.company_id == acme.tenant.company_id
                )
            ).one()
            assert (setting.enabled, setting.days, setting.match) == (True, 28, "variant")

        # Subscribers: search, open the profile.
        page.goto(f"{base}/subscribers")
        page.fill("#q", "buyer")
        page.press("#q", "Enter")
        page.wait_for_url("**q=buyer**")
        shoot(page, "subscribers")
        page.click("text=buyer@acme.example.com")
        assert page.inner_text("#profile-email") == "buyer@acme.example.com"
        assert "3 orders" in page.inner_text("#revenue-combined")
        assert "Coffee Beans" in page.inner_text("#purchased")
        assert page.locator("#timeline li").count() >= 3
        shoot(page, "subscriber")

        # Sequences: the list, the detail, a dry-run.
        page.goto(f"{base}/sequences")
        shoot(page, "sequences")
        page.click("text=Thanks Acme")
        page.fill("#dry-days", "30")
        page.click("#run-dry-run")
        report = page.locator("#dry-run-report")
        report.wait_for()
        assert page.locator("table.dry-run tbody tr").count() == 2
        shoot(page, "sequence-dry-run")

        page.goto(f"{base}/operations")
        shoot(page, "operations")

        # Disconnect asks first, then disconnects.
        page.goto(f"{base}/settings/integrations/{plugin_store}")
        page.click("#disconnect")
        shoot(page, "disconnect-confirm")
        page.click("#confirm-disconnect")
        page.wait_for_selector(".notice")
        assert "disconnected" in page.inner_text(".status")
        assert _row(rt, Integration, plugin_store).status == "disconnected"

        # Another company's pages do not exist for this user.
        for url in (
            f"/settings/integrations/{globex.plugin.integration_id}",
            f"/settings/products/woocommerce/{replenishkit.COFFEE}?store={globex.tenant.integration_id}",
            f"/subscribers/{globex.subscriber_id}",
            "/sequences/thanks-globex",
        ):
            answer = page.goto(base + url)
            assert answer is not None and answer.status == 404, url
        shoot(page, "not-found")

        # On a phone: the same pages, laid out for the small screen.
        page.set_viewport_size(PHONE)
        for name, url in (
            ("phone-dashboard", "/dashboard"),
            ("phone-integration", f"/settings/integrations/{store}"),
            ("phone-products", "/settings/products"),
            ("phone-subscriber", f"/subscribers/{acme.subscriber_id}"),
        ):
            page.goto(base + url)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], (url, width)
            shoot(page, name)
    assert problems == []
