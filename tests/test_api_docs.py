"""/api/docs: Swagger UI from the packaged assets, nothing fetched from another host."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from storeflow.web import openapi

EXPECTED_TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}


def _references(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_docs_page_loads_only_local_assets(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "swagger-ui" in html
    assert "://" not in html  # every reference is a path on this server
    refs = _references(html)
    assert len(refs) == 4
    for ref in refs:
        assert urlsplit(ref).netloc == "" and ref.startswith("/api/docs/"), ref
        asset = client.get(ref)
        assert asset.status_code == 200, ref
        suffix = ref[ref.rindex(".") :]
        assert asset.mimetype == EXPECTED_TYPES[suffix], ref
        assert len(asset.get_data()) > 0
        asset.close()


def test_the_bundle_is_swagger_ui_5_which_renders_openapi_3_1(client):
    bundle = client.get("/api/docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    version = (openapi.swagger_ui_dir() / "VERSION").read_text().strip()
    assert version.lstrip("v").split(".")[0] == "5"
    bundle.close()


def test_the_ui_starts_on_this_servers_document_and_no_online_validator(client):
    script = client.get("/api/docs/docs.js").get_data(as_text=True)
    assert '"/api/openapi.json"' in script
    assert "validatorUrl: null" in script
    assert "://" not in script


def test_the_page_forbids_other_origins(client):
    policy = client.get("/api/docs").headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy


def test_only_the_ui_files_are_served(client):
    for name in ("LICENSE", "index.html", "oauth2-redirect.html", "..%2Fflask_swagger_ui.py"):
        response = client.get(f"/api/docs/{name}")
        assert response.status_code == 404
        assert response.get_json()["success"] is False


# --- the page in a real browser --------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def browser_page():
    if not CHROMIUM.exists():
        if os.environ.get("STOREFLOW_REQUIRE_BROWSER") == "1":
            pytest.fail(f"STOREFLOW_REQUIRE_BROWSER=1 but {CHROMIUM} is missing")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()


@pytest.mark.browser
def test_swagger_ui_renders_every_operation_from_this_server_alone(rt, app, browser_page):
    from tests.live_server import serving

    page = browser_page
    hosts: set[str] = set()
    problems: list[str] = []
    page.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.on("pageerror", lambda error: problems.append(str(error)))
    with serving(rt, lambda: app) as base:
        page.goto(f"{base}/api/docs")
        page.wait_for_selector(".opblock")
        rendered = page.locator(".opblock").count()
        title = page.inner_text(".information-container .title")
    operations = sum(len(ops) for ops in openapi.document()["paths"].values())
    assert rendered == operations
    assert "storeflow" in title and "OAS 3.1" in title
    assert hosts == {urlsplit(base).netloc}
    assert problems == []
