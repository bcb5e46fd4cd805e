"""The whole back-in-stock chain over real HTTP: gunicorn + a Huey consumer + SMTP sink."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.processes import wait_until
from tests.providers import woocommerce_payloads as wc
from tests.test_end_to_end import service  # noqa: F401  (the fixture)
from tests.test_webhook_flow import load_rule

pytestmark = pytest.mark.slow

RESTOCK_RULE = {
    "id": "back-in-stock",
    "name": "Back in stock",
    "trigger": {"event": "ecommerce.back_in_stock"},
    "steps": [
        {
            "email": {
                "subject": "{{ event.product.title }} is back",
                "body": "Get it here: {{ event.product.url }}",
                "from": "shop@example.com",
            }
        },
        {"delay": {"hours": 24}},
        {
            "email": {
                "subject": "Still thinking about it?",
                "body": "...",
                "from": "shop@example.com",
            }
        },
    ],
}


def _mug(stock: int, minute: int) -> dict[str, Any]:
    return wc.product_simple(
        stock_quantity=stock,
        stock_status="instock" if stock else "outofstock",
        date_modified_gmt=f"2025-03-01T10:{minute:02d}:00",
    )


def test_request_restock_email_sold_out_again_and_the_sequence_stops(
    rt_smtp,
    service,  # noqa: F811
    tenant,
    smtp_server,
):
    base, log = service
    auth = {"Authorization": f"Bearer {tenant.api_key}"}
    load_rule(rt_smtp, tenant.company_id, RESTOCK_RULE)

    def webhook(payload: dict[str, Any]) -> None:
        body = wc.php_json(payload)
        headers = wc.webhook_headers("product.updated", body, tenant.webhook_secret)
        url = f"{base}/api/woocommerce/webhooks/{tenant.integration_id}"
        assert requests.post(url, data=body, headers=headers, timeout=10).status_code == 200

    def stock() -> Any:
        answer = requests.get(f"{base}/api/products/woocommerce/794", headers=auth, timeout=10)
        return answer.json().get("product", {}).get("variants", [{}])[0].get("stockStatus")

    webhook(_mug(0, 1))
    assert wait_until(lambda: stock() == "outofstock"), log.read_text()
    asked = requests.post(
        f"{base}/api/woocommerce/back-in-stock/subscribe",
        json={
            "storeUrl": "https://acme.example.com",
            "email": "ana@example.com",
            "providerProductId": "794",
            "productTitle": "Premium Quality",
        },
        headers={"Origin": "https://acme.example.com"},
        timeout=10,
    )
    assert asked.status_code == 200, asked.text
    webhook(_mug(4, 2))
    [mail] = smtp_server.wait_for(1, timeout=30)
    assert mail["To"] == "ana@example.com"
    assert mail["Subject"] == "Premium Quality is back"

    webhook(_mug(0, 3))

    def stopped() -> bool:
        runs = requests.get(f"{base}/api/enrollments", headers=auth, timeout=10).json()
        return [r["status"] for r in runs["enrollments"]] == ["stopped"]

    assert wait_until(stopped), log.read_text()
    names = [
        e["name"]
        for e in requests.get(f"{base}/api/events", headers=auth, timeout=10).json()["events"]
    ]
    assert names.count("ecommerce.back_in_stock") == 1
    assert names.count("ecommerce.back_in_stock_out_of_stock") == 1
    assert len(smtp_server.messages) == 1
