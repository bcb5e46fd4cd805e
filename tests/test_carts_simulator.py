"""``storeflow simulate woocommerce`` plays cart and checkout sessions over real HTTP:
anonymous, identified at the checkout, abandoned or recovered by an order (issue 12)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from storeflow.core import clock, plugins
from storeflow.core.storage.tables import Cart, Event
from storeflow.core.work import tasks
from storeflow.providers.woocommerce.simulator import SampleStore, WooCommerceSimulator
from tests.live_server import serving


@pytest.fixture
def live(rt):
    from storeflow.web.app import create_app

    with serving(rt, lambda: create_app({"TESTING": True}, runtime=rt)) as base_url:
        yield base_url


def connected(live, tenant) -> WooCommerceSimulator:
    sim = WooCommerceSimulator(live, SampleStore.generate("https://carts.example.com"))
    sim.connect()
    sim.approve_with_api_key(tenant.api_key)
    assert sim.poll() == "approved"
    return sim


def events_of(rt, company_id: int) -> list[Event]:
    with rt.unit_of_work() as session:
        query = select(Event).where(Event.company_id == company_id).order_by(Event.id)
        return list(session.scalars(query))


def test_sessions_start_anonymous_and_end_abandoned_or_recovered_by_an_order(rt, live, tenant):
    sim = connected(live, tenant)
    early = clock.now() - timedelta(minutes=30)
    left = sim.play_cart_session("left@example.com", at=early)
    bought = sim.play_cart_session("bought@example.com", outcome="recovered", at=early)
    assert (left.accepted, bought.accepted, bought.order_status) == (3, 4, 200)
    tasks.drain(rt)
    with rt.unit_of_work() as session:
        carts = {c.email: c for c in session.scalars(select(Cart))}
    assert carts["left@example.com"].status == "open"
    assert carts["bought@example.com"].status == "converted"
    assert carts["bought@example.com"].converted_order_id == str(bought.order_id)
    started = [e for e in events_of(rt, tenant.company_id) if e.name == "ecommerce.cart_started"]
    assert {e.email for e in started} == {"left@example.com", "bought@example.com"}
    assert all(e.properties["wasAnonymous"] for e in started)
    checkout = [e for e in events_of(rt, tenant.company_id) if e.name.endswith("checkout_started")]
    assert all(
        e.properties["checkoutUrl"].startswith("https://carts.example.com/") for e in checkout
    )
    clock.travel(timedelta(hours=2))
    tasks.sweep(rt)
    tasks.drain(rt)
    abandoned = [e.email for e in events_of(rt, tenant.company_id) if e.name.endswith("abandoned")]
    assert abandoned == ["left@example.com"]


def test_the_cli_plays_cart_sessions(rt, live, tenant):
    from storeflow.web.cli import cli

    plugins.build_plugin_manager().hook.register_commands(cli=cli)
    result = CliRunner().invoke(
        cli,
        ["simulate", "woocommerce", "--url", live, "--api-key", tenant.api_key, "--no-data"]
        + ["--heartbeats", "0", "--carts", "2", "--backdate-minutes", "30"],
    )
    assert result.exit_code == 0, result.output
    assert len(re.findall(r"cart wc_session_\w+ \(shopper\d@example.com\): ", result.output)) == 2
    assert "left at the checkout" in result.output
    assert re.search(r"recovered by order \d+ \(HTTP 200\)", result.output)
    tasks.drain(rt)
    with rt.unit_of_work() as session:
        statuses = sorted(c.status for c in session.scalars(select(Cart)))
    assert statuses == ["converted", "open"]
