"""Authentic data storeflow cannot apply ends as a failed delivery with its reason (issue 16).

Refunds that add up beyond BIGINT, a subscriber's revenue that would, a quantity
beyond an INTEGER column: each used to raise inside the worker (``OverflowError``,
SQLite's "integer overflow", PostgreSQL's "out of range") and be retried until the
job was dead. Delays of 10**18 days were saved and overflowed at every run. A
webhook for an order placed years ago started live automations.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from storeflow.core import clock
from storeflow.core.commerce import records
from storeflow.core.commerce.money import MAX_MINOR, Money
from storeflow.core.storage.tables import Enrollment, Event, InboundDelivery, Job, OrderRow
from storeflow.rules import schema
from tests.providers import woocommerce_payloads as fixtures
from tests.test_webhook_flow import HOODIE_RULE, hoodie_order, load_rule, send

# The largest amount WooCommerce's wire format lets through, in a 4-decimal currency:
# about 10**18 minor units, so ten of them exceed 2**63.
BIG = "99999999999999.9999"


def _deliveries(rt: Any) -> list[tuple[str, str | None]]:
    with rt.unit_of_work() as session:
        rows = session.scalars(select(InboundDelivery).order_by(InboundDelivery.id))
        return [(row.status, row.error) for row in rows]


def _jobs(rt: Any) -> list[str]:
    with rt.unit_of_work() as session:
        return [job.status for job in session.scalars(select(Job).where(Job.kind == "delivery"))]


def test_refunds_beyond_bigint_are_a_failed_delivery_with_its_reason(rt, client, tenant):
    refunds = [fixtures.refund(id=i, total="-" + BIG) for i in range(1, 11)]
    order = fixtures.order(currency="CLF", total=BIG, refunds=refunds)
    assert send(client, tenant, "order.created", order).status_code == 200
    ((status, error),) = _deliveries(rt)
    assert status == "failed"
    assert error is not None and error.startswith("out_of_range: order 727: its refunds")
    assert "dead" not in _jobs(rt) and "pending" not in _jobs(rt)
    with rt.unit_of_work() as session:
        assert session.scalars(select(OrderRow)).all() == []  # nothing half-written


def test_a_profile_sum_beyond_bigint_fails_the_delivery_that_causes_it(rt, client, tenant):
    for number in range(10):
        order = fixtures.order(id=100 + number, currency="CLF", total=BIG)
        assert send(client, tenant, "order.created", order).status_code == 200
    found = _deliveries(rt)
    assert [status for status, _ in found] == ["processed"] * 9 + ["failed"]
    assert found[-1][1] is not None and "revenue would add up" in found[-1][1]
    assert "dead" not in _jobs(rt)
    with rt.unit_of_work() as session:
        assert len(session.scalars(select(OrderRow)).all()) == 9
    # The profile still answers (the nine orders that fit).
    profile = client.get("/api/subscribers/john.doe@example.com", headers=tenant.auth)
    assert profile.status_code == 200
    assert profile.get_json()["attributes"]["ordersCount"] == 9


def test_a_sync_item_beyond_the_bounds_fails_alone(rt, client, tenant):
    from storeflow.core.commerce import sync
    from storeflow.core.storage.tables import Integration

    refunds = [fixtures.refund(id=i, total="-" + BIG) for i in range(1, 11)]
    items = [
        fixtures.order(id=1, currency="CLF", total=BIG, refunds=refunds),
        fixtures.order(id=2, currency="CLF", total="10.0000"),
    ]
    batch = sync.parse_batch({"syncRunId": "r1", "page": 0, "isLast": True, "items": items})
    with rt.unit_of_work() as session:
        integration = session.get_one(Integration, tenant.integration_id)
        result = sync.apply_batch(
            session, integration, rt.providers["woocommerce"], "orders", batch
        )
    assert result.upserted == 1
    assert [(f["index"], f["code"]) for f in result.failed] == [(0, "out_of_range")]


def _order(**overrides: Any) -> records.Order:
    usd = Money(100, "USD")
    line = records.LineItem("1", "1", "Mug", 1, usd, usd)
    values: dict[str, Any] = {
        "provider_order_id": "1",
        "email": "a@example.com",
        "currency": "USD",
        "total": usd,
        "status": "processing",
        "state": "placed",
        "ordered_at": datetime(2025, 1, 1, tzinfo=UTC),
        "modified_at": None,
        "line_items": (line,),
        **overrides,
    }
    return records.Order(**values)


@given(
    amounts=st.lists(st.integers(min_value=0, max_value=MAX_MINOR - 1), max_size=12),
    quantity=st.integers(min_value=-(2**40), max_value=2**40),
)
def test_check_bounds_refuses_exactly_what_does_not_fit(amounts, quantity):
    usd = Money(1, "USD")
    rec = _order(
        refunds=tuple(records.Refund(str(i), Money(a, "USD")) for i, a in enumerate(amounts)),
        line_items=(records.LineItem("1", "1", "Mug", quantity, usd, usd),),
    )
    fits = sum(amounts) < MAX_MINOR and abs(quantity) <= records.MAX_QUANTITY
    if fits:
        records.check_bounds(rec)
    else:
        with pytest.raises(records.OutOfRange):
            records.check_bounds(rec)


def test_stock_quantities_beyond_an_integer_column_are_refused():
    product = records.Product("9", "Mug", None, stock_quantity=2**31)
    with pytest.raises(records.OutOfRange) as exc:
        records.check_bounds(product)
    assert "product 9: stock quantity" in exc.value.message


# --- delays --------------------------------------------------------------------------


def _sequence(delay: dict[str, int]) -> dict[str, Any]:
    return {
        "id": "later",
        "name": "Later",
        "trigger": {"event": "ecommerce.order_placed"},
        "steps": [{"delay": delay}, {"tag": {"add": ["later"]}}],
    }


@pytest.mark.parametrize(
    "delay",
    [{"days": 10**18}, {"days": 2_000_000}, {"seconds": 10**30}, {"days": 1826, "hours": 24}],
)
def test_delays_beyond_five_years_are_422(client, tenant, delay):
    response = client.post("/api/sequences", json=_sequence(delay), headers=tenant.auth)
    assert response.status_code == 422, response.get_json()
    (detail,) = response.get_json()["error"]["details"]
    assert detail["path"] == "$.steps[0].delay" and "at most 1826 days" in detail["message"]


def test_a_delay_of_five_years_is_accepted(client, tenant):
    response = client.post("/api/sequences", json=_sequence({"days": 1826}), headers=tenant.auth)
    assert response.status_code == 201, response.get_json()


@given(
    days=st.integers(min_value=0, max_value=10**20),
    seconds=st.integers(min_value=0, max_value=10**12),
)
def test_delay_bound_matches_the_duration(days, seconds):
    definition = _sequence({"days": days, "seconds": seconds})
    within = days * 86400 + seconds <= 1826 * 86400
    if within:
        parsed = schema.structure_sequence(definition)
        assert parsed.steps[0].duration == timedelta(days=days, seconds=seconds)
    else:
        with pytest.raises(schema.SchemaError):
            schema.structure_sequence(definition)


# --- live events only for recent orders -------------------------------------------------


def _gmt(days_ago: float) -> str:
    return (clock.now() - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S")


def _placed_events(rt: Any) -> set[tuple[str, bool]]:
    with rt.unit_of_work() as session:
        rows = session.scalars(select(Event).where(Event.name == "ecommerce.order_placed"))
        return {(row.properties["orderId"], row.live) for row in rows}


def test_a_webhook_for_an_order_placed_years_ago_is_history(rt, client, tenant):
    load_rule(rt, tenant.company_id, HOODIE_RULE)
    # Placed three years ago, edited today, never seen by a sync.
    old = hoodie_order(date_created_gmt=_gmt(3 * 365), date_modified_gmt=_gmt(0))
    assert send(client, tenant, "order.updated", old).status_code == 200
    recent = hoodie_order(id=728, date_created_gmt=_gmt(2), date_modified_gmt=_gmt(0))
    assert send(client, tenant, "order.created", recent).status_code == 200
    assert _placed_events(rt) == {("727", False), ("728", True)}
    with rt.unit_of_work() as session:
        assert len(session.scalars(select(Enrollment)).all()) == 1  # the recent order's only
        assert session.scalars(select(OrderRow.order_number)).all() != []  # both stored


def test_the_age_is_taken_when_the_store_changed_the_order(rt, client, tenant):
    """A backlog or a replay gives the verdict the delivery had when it was sent."""
    late = hoodie_order(date_created_gmt=_gmt(400), date_modified_gmt=_gmt(399))
    assert send(client, tenant, "order.created", late).status_code == 200
    assert _placed_events(rt) == {("727", True)}


def test_the_live_age_is_configurable(rt, client, tenant):
    import attrs

    rt.settings = attrs.evolve(rt.settings, live_order_max_age_days=500)
    edited = hoodie_order(date_created_gmt=_gmt(400), date_modified_gmt=_gmt(0))
    assert send(client, tenant, "order.updated", edited).status_code == 200
    assert _placed_events(rt) == {("727", True)}
