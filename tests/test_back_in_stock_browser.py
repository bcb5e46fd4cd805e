"""The drop-in snippet in a real browser: a store page on one loopback port, storeflow on
another, so the request is a real cross-origin one (CORS preflight included)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from storeflow.core.storage.tables import WaitlistEntry
from tests.live_server import serving
from tests.test_api_docs import browser_page  # noqa: F401  (the fixture)

SIMPLE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Premium Quality</title></head><body>
<h1>Premium Quality</h1><p class="stock out-of-stock">Out of stock</p>
<div data-storeflow-back-in-stock data-store-url="{store}/" data-product-id="794"
     data-product-title="Premium Quality"></div>
<script src="{storeflow}/storefront/back-in-stock.js" defer></script>
</body></html>
"""

# What a WooCommerce variable product page has: the variations form with the hidden field.
VARIABLE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Hoodie</title></head><body>
<form class="variations_form cart">
  <select name="attribute_pa_color"><option value="">Choose</option>
    <option value="blue">Blue</option><option value="green">Green</option></select>
  <input type="hidden" name="variation_id" value="0">
</form>
<div data-storeflow-back-in-stock data-store-url="{store}" data-product-id="732"
     data-product-title="Hoodie"></div>
<script src="{storeflow}/storefront/back-in-stock.js" defer></script>
</body></html>
"""


@contextmanager
def store_pages(pages: dict[str, str]) -> Iterator[str]:
    """A tiny "store" serving fixed HTML pages on a loopback port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            body = pages.get(self.path)
            if body is None:
                self.send_error(404)
                return
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _store(rt: Any, url: str) -> None:
    from storeflow.core import accounts
    from storeflow.core.stores import integrations

    with rt.unit_of_work() as session:
        company = accounts.create_company(session, "shop", "Shop")
        integrations.create(session, company, "woocommerce", store_url=url)


def _entries(rt: Any) -> list[WaitlistEntry]:
    with rt.unit_of_work() as session:
        return list(session.scalars(select(WaitlistEntry).order_by(WaitlistEntry.id)))


@pytest.mark.browser
def test_a_shopper_subscribes_through_the_snippet(rt, app, browser_page):  # noqa: F811
    page = browser_page
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    pages: dict[str, str] = {}
    with serving(rt, lambda: app) as storeflow, store_pages(pages) as store:
        pages["/simple"] = SIMPLE.format(store=store, storeflow=storeflow)
        pages["/variable"] = VARIABLE.format(store=store, storeflow=storeflow)
        _store(rt, store)

        page.goto(f"{store}/simple")
        page.fill("[data-storeflow-back-in-stock] input[type=email]", "ana@example.com")
        page.click("[data-storeflow-back-in-stock] button")
        page.wait_for_selector("[data-storeflow-state=subscribed]")
        assert "Thanks" in page.inner_text(".storeflow-bis-message")

        page.goto(f"{store}/variable")
        assert page.is_hidden(".storeflow-bis-form")  # no variation chosen yet
        page.select_option("select[name=attribute_pa_color]", "blue")
        page.evaluate(
            """() => { const f = document.querySelector('input[name=variation_id]');
                       f.value = '733'; f.dispatchEvent(new Event('change')); }"""
        )
        page.fill("[data-storeflow-back-in-stock] input[type=email]", "bo@example.com")
        page.click("[data-storeflow-back-in-stock] button")
        page.wait_for_selector("[data-storeflow-state=subscribed]")
    assert problems == []
    simple, variation = _entries(rt)
    assert (simple.email, simple.provider_variant_id, simple.status) == (
        "ana@example.com",
        "794",
        "waiting",
    )
    assert (variation.email, variation.provider_product_id, variation.provider_variant_id) == (
        "bo@example.com",
        "732",
        "733",
    )
    assert variation.variant_title == "Blue"
