"""The back-in-stock recipe (rules/examples/back_in_stock.yaml) end to end with a real
SMTP server: title, image and link in the email; buying or selling out stops the run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from storeflow.core import clock
from storeflow.core.work import tasks
from storeflow.rules import loader, runner
from storeflow.web import demo
from tests import rulekit
from tests.providers import woocommerce_payloads as wc
from tests.test_back_in_stock import ask, product_update, simple

IMAGE = "https://shop.example.com/wp-content/uploads/2025/01/T_2_front.jpg"


def order(client: Any, tenant: Any, email: str) -> None:
    payload = wc.order(
        id=901,
        email=email,
        # Placed now (WooCommerce times have whole seconds): a stop event must occur
        # after the event that started the run.
        date_created_gmt=clock.now().strftime("%Y-%m-%dT%H:%M:%S"),
        line_items=[wc.line_item(product_id=794, name="Premium Quality", quantity=1)],
    )
    body = wc.php_json(payload)
    headers = wc.webhook_headers("order.created", body, tenant.webhook_secret)
    answer = client.post(
        f"/api/woocommerce/webhooks/{tenant.integration_id}", data=body, headers=headers
    )
    assert answer.status_code == 200


def test_the_recipe_mails_title_image_and_link_and_stops_on_purchase_or_sell_out(
    rt_smtp, client, tenant, smtp_server
):
    rulekit.no_cap(rt_smtp, tenant.company_id)
    with rt_smtp.unit_of_work() as session:
        [recipe] = loader.load_path(demo.EXAMPLES / "back_in_stock.yaml")
        runner.save_sequence(session, tenant.company_id, recipe)
    product_update(client, tenant, simple(0))
    for name in ("ana", "bo"):
        ask(client, email=f"{name}@example.com")
    product_update(client, tenant, simple(3))
    tasks.drain(rt_smtp)
    mails = smtp_server.wait_for(2)
    assert sorted(mail["To"] for mail in mails) == ["ana@example.com", "bo@example.com"]
    for mail in mails:
        assert mail["Subject"] == "Premium Quality is back in stock"
        text = mail.get_body(("plain",)).get_content()
        assert "Premium Quality is back in stock, 3 available" in text
        assert IMAGE in text and "https://shop.example.com/product/premium-quality/" in text
        html = mail.get_body(("html",)).get_content()
        assert f'<img src="{IMAGE}"' in html
        assert '<a href="https://shop.example.com/product/premium-quality/">' in html

    clock.travel(timedelta(minutes=10))
    order(client, tenant, "bo@example.com")  # Bo bought it: his run stops
    product_update(client, tenant, simple(0))  # sold out again: Ana's stops
    clock.travel(timedelta(days=1, minutes=5))
    tasks.sweep(rt_smtp)
    tasks.drain(rt_smtp)
    runs = {run.email: run for run in rulekit.runs(rt_smtp, tenant.company_id)}
    assert {email: run.status for email, run in runs.items()} == {
        "ana@example.com": "stopped",
        "bo@example.com": "stopped",
    }
    assert "ecommerce.order_placed" in (runs["bo@example.com"].stop_reason or "")
    assert "back_in_stock_out_of_stock" in (runs["ana@example.com"].stop_reason or "")
    assert len(smtp_server.messages) == 2  # no reminder for either


def test_the_reminder_follows_a_day_later_while_in_stock(rt_smtp, client, tenant, smtp_server):
    rulekit.no_cap(rt_smtp, tenant.company_id)
    with rt_smtp.unit_of_work() as session:
        for recipe in loader.load_path(demo.EXAMPLES / "back_in_stock.yaml"):
            runner.save_sequence(session, tenant.company_id, recipe)
    product_update(client, tenant, simple(0))
    ask(client, email="cy@example.com")
    product_update(client, tenant, simple(2))
    tasks.drain(rt_smtp)
    smtp_server.wait_for(1)
    clock.travel(timedelta(days=1, minutes=5))
    tasks.sweep(rt_smtp)
    tasks.drain(rt_smtp)
    first, second = smtp_server.wait_for(2)
    assert second["Subject"] == "Still want Premium Quality?"
    assert "is still in stock, for now: https://shop.example.com/product/" in (
        second.get_body(("plain",)).get_content()
    )
