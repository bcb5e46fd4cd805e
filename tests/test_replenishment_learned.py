"""Learned intervals: ``replenishment.suggestedDays`` from the purchase history."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from storeflow.core.commerce.replenishment import median_interval
from tests.conftest import make_tenant
from tests.providers import woocommerce_payloads as fx
from tests.replenishkit import (
    BLUE,
    COFFEE,
    GREEN,
    HOODIE,
    catalogue,
    coffee,
    enable,
    gmt,
    hoodie,
    pending,
)
from tests.synckit import plugin_for
from tests.test_replenishment import product

T0 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
# buyer -> days after T0 of their coffee purchases: gaps 30, 28 | 32, 31 | 29
HISTORY = {"a": [0, 30, 58], "b": [0, 32, 63], "c": [10, 39]}


def history_orders(history, lines=coffee):
    orders = []
    order_id = 5000
    for buyer, days in history.items():
        for day in days:
            order_id += 1
            orders.append(
                fx.order(
                    id=order_id,
                    status="completed",
                    email=f"{buyer}@example.com",
                    customer_id=0,
                    line_items=[lines()],
                    date_created_gmt=gmt(T0 + timedelta(days=day)),
                )
            )
    return orders


def test_suggested_days_is_the_median_interval_of_repeat_purchases(rt, client, tenant):
    catalogue(client, tenant)
    plugin = plugin_for(rt, client, tenant.integration_id)
    assert plugin.ok("orders", history_orders(HISTORY))["upserted"] == 8
    shown = product(client, tenant, COFFEE)["replenishment"]
    assert (shown["suggestedDays"], shown["sampleSize"]) == (30, 5)
    # Shown, never applied: the product stays off and schedules nothing by itself.
    assert shown["enabled"] is False and shown["days"] is None
    enable(client, tenant, COFFEE, days=10)
    assert product(client, tenant, COFFEE)["replenishment"]["days"] == 10


def test_too_few_intervals_suggest_nothing_yet(rt, client, tenant):
    catalogue(client, tenant)
    plugin = plugin_for(rt, client, tenant.integration_id)
    plugin.ok("orders", history_orders({"a": [0, 30], "b": [0, 31], "c": [5]}))
    shown = product(client, tenant, COFFEE)["replenishment"]
    assert (shown["suggestedDays"], shown["sampleSize"]) == (None, 2)


def test_variant_matching_learns_per_variant(rt, client, tenant):
    catalogue(client, tenant)
    enable(client, tenant, HOODIE, days=60, match="variant")
    plugin = plugin_for(rt, client, tenant.integration_id)
    # Alternating variants: per product the gaps are 10 days, per variant 20.
    alternating = [
        fx.order(
            id=6000 + n,
            status="completed",
            email=f"{buyer}@example.com",
            customer_id=0,
            line_items=[hoodie(BLUE if n % 2 == 0 else GREEN)],
            date_created_gmt=gmt(T0 + timedelta(days=10 * n)),
        )
        for buyer in ("a", "b", "c")
        for n in range(4)
    ]
    # Distinct order ids per buyer.
    for index, order in enumerate(alternating):
        order["id"] = 6000 + index
    plugin.ok("orders", alternating)
    shown = product(client, tenant, HOODIE)["replenishment"]
    assert (shown["suggestedDays"], shown["sampleSize"]) == (20, 6)
    enable(client, tenant, HOODIE, days=60, match="product")
    shown = product(client, tenant, HOODIE)["replenishment"]
    assert (shown["suggestedDays"], shown["sampleSize"]) == (10, 9)
    assert pending(rt, tenant.company_id) == []  # history schedules nothing


def test_the_suggestion_does_not_depend_on_the_arrival_order(rt, client, tenant):
    orders = history_orders(HISTORY)
    answers = set()
    for seed in range(3):
        shop = make_tenant(rt, f"shop{seed}")
        catalogue(client, shop)
        shuffled = orders[:]
        random.Random(seed).shuffle(shuffled)
        plugin = plugin_for(rt, client, shop.integration_id)
        for order in shuffled:  # one order per batch, in this order
            plugin.ok("orders", [order])
        shown = product(client, shop, COFFEE)["replenishment"]
        answers.add((shown["suggestedDays"], shown["sampleSize"]))
    assert answers == {(30, 5)}


purchases = st.lists(
    st.tuples(st.sampled_from("abcd"), st.integers(min_value=0, max_value=2000)),
    max_size=40,
)


@given(purchases, st.randoms(use_true_random=False))
def test_the_median_is_invariant_to_the_order_of_purchases(bought, rnd):
    at = [(buyer, T0 + timedelta(days=day)) for buyer, day in bought]
    shuffled = at[:]
    rnd.shuffle(shuffled)
    assert median_interval(at, min_samples=1) == median_interval(shuffled, min_samples=1)


@given(purchases)
def test_the_median_is_the_median_of_each_buyers_gaps(bought):
    days: dict[str, list[int]] = {}
    for buyer, day in bought:
        days.setdefault(buyer, []).append(day)
    gaps = []
    for values in days.values():
        values = sorted(set(values))  # same-day purchases count once
        gaps += [b - a for a, b in zip(values, values[1:], strict=False)]
    result = median_interval(
        [(buyer, T0 + timedelta(days=day)) for buyer, day in bought], min_samples=1
    )
    assert result.sample_size == len(gaps)
    expected = min(max(round(statistics.median(gaps)), 1), 730) if gaps else None
    assert result.days == expected
