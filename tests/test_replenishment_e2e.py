"""Replenishment over real HTTP: gunicorn, a real worker (its sweeper) and an SMTP sink.

Orders are placed two days back with ``days: 1``, so their reminders are already due
when the worker's sweeper looks: the real processes have no clock to move.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests

from storeflow.core import clock
from tests.processes import wait_until, web_and_worker
from tests.providers import woocommerce_payloads as fx
from tests.replenishkit import COFFEE, catalogue_items, coffee, gmt, tea

pytestmark = pytest.mark.slow

WAIT_SECONDS = 6
RULE = {
    "id": "coffee-refill",
    "name": "Coffee refill",
    "trigger": {"event": "ecommerce.replenishment_due"},
    "steps": [
        {"delay": {"seconds": WAIT_SECONDS}},
        {
            "email": {
                "subject": "Time to restock {{ product.title }}",
                "body": "Reorder: {{ product.url }}\nPicture: {{ product.imageUrl }}",
                "from": "shop@example.com",
            }
        },
    ],
}


@pytest.fixture
def service(rt_smtp, tmp_path):
    log = tmp_path / "service.log"
    with web_and_worker(rt_smtp, log, STOREFLOW_SWEEP_SECONDS="0.5") as base:
        yield base, log


class Store:
    def __init__(self, base: str, tenant: Any) -> None:
        self.base = base
        self.tenant = tenant
        self.auth = {"Authorization": f"Bearer {tenant.api_key}"}

    def webhook(self, topic: str, payload: dict[str, Any]) -> None:
        body = fx.php_json(payload)
        headers = fx.webhook_headers(topic, body, self.tenant.webhook_secret)
        url = f"{self.base}/api/woocommerce/webhooks/{self.tenant.integration_id}"
        assert requests.post(url, data=body, headers=headers, timeout=10).status_code == 200

    def order(
        self, order_id: int, email: str, lines: list[dict[str, Any]], days_ago: float
    ) -> None:
        at = clock.now() - timedelta(days=days_ago)
        self.webhook(
            "order.created",
            fx.order(
                id=order_id,
                email=email,
                customer_id=0,
                line_items=lines,
                date_created_gmt=gmt(at),
                date_modified_gmt=gmt(at + timedelta(minutes=2)),
            ),
        )

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(
            method, f"{self.base}{path}", headers=self.auth, timeout=10, **kwargs
        )
        assert response.status_code < 300, response.text
        return response.json()

    def runs(self, email: str) -> list[dict[str, Any]]:
        return self.api("get", f"/api/enrollments?email={email}")["enrollments"]


def test_order_due_sequence_email_and_the_repurchase_stop(rt_smtp, service, tenant, smtp_server):
    base, log = service
    store = Store(base, tenant)
    for topic, payload in catalogue_items():
        store.webhook(topic, payload)
    assert wait_until(lambda: store.api("get", "/api/products")["total"] == 3, 30), log.read_text()
    setting = store.api(
        "put",
        f"/api/products/woocommerce/{COFFEE}/replenishment",
        json={"enabled": True, "days": 1},
    )
    assert setting["product"]["replenishment"]["days"] == 1
    store.api("post", "/api/sequences", json=RULE)

    # john: due, waits, gets the email. ana: buys coffee again while waiting: stopped.
    # bob: buys tea while waiting: still gets the email.
    for order_id, email in (
        (1, "john@example.com"),
        (2, "ana@example.com"),
        (3, "bob@example.com"),
    ):
        store.order(order_id, email, [coffee()], days_ago=2)
    assert wait_until(
        lambda: all(
            store.runs(e) for e in ("john@example.com", "ana@example.com", "bob@example.com")
        ),
        30,
    ), log.read_text()
    store.order(12, "ana@example.com", [coffee()], days_ago=0)
    store.order(13, "bob@example.com", [tea()], days_ago=0)
    assert wait_until(lambda: store.runs("ana@example.com")[0]["status"] == "stopped", 10)
    assert store.runs("bob@example.com")[0]["status"] == "active"

    mail = smtp_server.wait_for(2, timeout=WAIT_SECONDS + 30)
    assert sorted(m["To"] for m in mail) == ["bob@example.com", "john@example.com"], log.read_text()
    assert {m["Subject"] for m in mail} == {"Time to restock Coffee Beans"}
    assert all("Reorder: https://" in m.get_content() for m in mail)
    events = store.api("get", "/api/events?name=ecommerce.replenishment_due")["events"]
    assert sorted(e["email"] for e in events) == [
        "ana@example.com",
        "bob@example.com",
        "john@example.com",
    ]
    assert all(e["properties"]["product"]["providerProductId"] == str(COFFEE) for e in events)
    # ana's repurchase scheduled her next reminder, due tomorrow.
    profile = store.api("get", "/api/subscribers/ana@example.com")
    assert [r["orderId"] for r in profile["replenishment"]] == ["12"]
    assert wait_until(lambda: store.runs("bob@example.com")[0]["status"] == "completed", 10)
    assert len(smtp_server.messages) == 2
