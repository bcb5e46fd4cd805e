"""The cart recovery recipes (rules/examples/abandoned-*.yaml), run end to end with a
real SMTP server: line items with images, the resume link, purchase wins (issue 12)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storeflow.core import clock
from storeflow.rules import loader, runner
from storeflow.web import demo
from tests import rulekit
from tests.synckit import plugin_for
from tests.test_carts import catalogue, event, names, send, sweep
from tests.test_carts_recovery import place_order

IMAGE = "https://acme.example.com/guji.jpg"
CHECKOUT = "https://acme.example.com/checkout/?resume=abc"


@pytest.fixture
def recipes(rt_smtp, client, tenant):
    catalogue(rt_smtp, tenant)
    rulekit.no_cap(rt_smtp, tenant.company_id)
    with rt_smtp.unit_of_work() as session:
        for name in ("abandoned-cart.yaml", "abandoned-checkout.yaml"):
            for seq in loader.load_path(demo.EXAMPLES / name):
                runner.save_sequence(session, tenant.company_id, seq)
    return plugin_for(rt_smtp, client, tenant.integration_id)


def test_the_abandoned_cart_recipe_mails_the_cart_with_images_and_a_resume_link(
    rt_smtp, tenant, recipes, smtp_server
):
    send(recipes, event("cart_started", email="ana@example.com", session="ana"))
    send(recipes, event("cart_started", email="bo@example.com", session="bo"))
    clock.travel(timedelta(minutes=61))
    sweep(rt_smtp)
    assert len(names(rt_smtp, tenant.company_id, "ecommerce.cart_abandoned")) == 2
    place_order(rt_smtp, tenant, "bo@example.com", clock.now())  # Bo bought meanwhile
    clock.travel(timedelta(minutes=31))
    sweep(rt_smtp)
    (mail,) = smtp_server.wait_for(1)
    assert mail["To"] == "ana@example.com"
    assert mail["Subject"] == "Your cart is waiting"
    text = mail.get_body(("plain",)).get_content()
    assert "you left 2 items in your cart" in text
    assert "Ethiopia Guji (1 kg) x 2" in text and IMAGE in text
    assert "Pick up where you left off: https://acme.example.com/cart/" in text
    html = mail.get_body(("html",)).get_content()
    assert f'<img src="{IMAGE}"' in html
    assert '<a href="https://acme.example.com/p/guji">Ethiopia Guji</a>' in html
    assert [run.status for run in rulekit.runs(rt_smtp, tenant.company_id)].count("stopped") == 1


def test_the_abandoned_checkout_recipe_links_back_to_the_checkout_and_stops_on_order(
    rt_smtp, tenant, recipes, smtp_server
):
    for who in ("cy", "di"):
        send(recipes, event("cart_started", email=f"{who}@example.com", session=who))
        send(
            recipes,
            event(
                "checkout_started", email=f"{who}@example.com", session=who, checkoutUrl=CHECKOUT
            ),
        )
    place_order(rt_smtp, tenant, "di@example.com", clock.now())
    clock.travel(timedelta(minutes=61))
    sweep(rt_smtp)
    clock.travel(timedelta(minutes=31))
    sweep(rt_smtp)
    (mail,) = smtp_server.wait_for(1)
    assert mail["To"] == "cy@example.com"
    assert mail["Subject"] == "Complete your order"
    text = mail.get_body(("plain",)).get_content()
    assert f"Complete your order: {CHECKOUT}" in text and IMAGE in text
    html = mail.get_body(("html",)).get_content()
    assert f'<a href="{CHECKOUT}">' in html.replace("&amp;", "&")
    # The cart reached the checkout: the abandoned-cart recipe leaves it alone.
    runs = rulekit.runs(rt_smtp, tenant.company_id)
    assert {run.sequence_id for run in runs} == {
        rulekit_sequence_id(rt_smtp, tenant.company_id, "abandoned-checkout")
    }


def rulekit_sequence_id(rt, company_id: int, slug: str) -> int:
    from storeflow.rules import sequences

    with rt.unit_of_work() as session:
        row = sequences.get(session, company_id, slug)
        assert row is not None
        return row.id
