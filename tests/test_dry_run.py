"""Dry-run: who would enter, be filtered, blocked, stopped or capped, and why; nothing written."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from storeflow.core import clock
from storeflow.core.storage.tables import Company, Enrollment, Job, Message
from storeflow.rules import dryrun, schema
from tests.rulekit import (
    CART,
    ORDER,
    REFILL,
    define,
    email_step,
    emit,
    line,
    order,
    product,
    sequence,
    update_subscriber,
)


def replay(rt, company_id: int, data: dict, days: int = 30) -> dict:
    with rt.unit_of_work() as session:
        company = session.get_one(Company, company_id)
        report = dryrun.run(
            session,
            company,
            schema.structure_sequence(data),
            days=days,
            limit=100,
            now=clock.now(),
        )
        session.rollback()
    return report


def counts(rt) -> tuple[int, int, int]:
    with rt.unit_of_work() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(t)) for t in (Enrollment, Message, Job)
        )


def test_filtered_events_say_which_filter_failed(rt, tenant):
    data = sequence(
        "mugs",
        trigger={
            "filters": [
                {"path": "lineItems[].providerProductId", "operator": "equals", "value": "1"}
            ]
        },
    )
    emit(rt, tenant.company_id, ORDER, properties=order(line("2")))
    (result,) = replay(rt, tenant.company_id, data)["results"]
    assert result["outcome"] == "filtered"
    assert result["reasons"] == ["filter[0] lineItems[].providerProductId equals '1': got ['2']"]


def test_re_entry_blocks_are_explained(rt, tenant):
    data = sequence("refill", event=REFILL, steps=[{"delay": {"days": 3}}, email_step()])
    start = clock.now() - timedelta(days=5)
    emit(rt, tenant.company_id, REFILL, properties=product("501", "601"), occurred_at=start)
    emit(
        rt,
        tenant.company_id,
        REFILL,
        properties=product("501", "601"),
        occurred_at=start + timedelta(days=1),
    )
    emit(
        rt,
        tenant.company_id,
        REFILL,
        properties=product("501", "601"),
        occurred_at=start + timedelta(days=4),
    )
    report = replay(rt, tenant.company_id, data)
    first, second, third = report["results"]
    assert first["outcome"] == "entered" and first["result"] == "completed"
    assert second["outcome"] == "blocked"
    assert (
        "matching_field product.providerVariantId: a run for '601' is active"
        in (second["reasons"][0])
    )
    assert third["outcome"] == "entered"  # the first run ended after its 3-day delay
    assert report["summary"]["blocked"] == 1


def test_a_later_purchase_stops_the_simulated_run_at_the_right_step(rt, tenant):
    data = sequence(
        "cart",
        event=CART,
        steps=[{"delay": {"hours": 1}}, email_step(), {"delay": {"days": 1}}, email_step()],
    )
    start = clock.now() - timedelta(days=3)
    emit(rt, tenant.company_id, CART, occurred_at=start)
    emit(
        rt,
        tenant.company_id,
        ORDER,
        properties=order(line("1")),
        occurred_at=start + timedelta(hours=5),
    )
    (result,) = replay(rt, tenant.company_id, data)["results"]
    assert result["result"] == "stopped"
    assert [s["outcome"] for s in result["steps"]] == ["done", "would_send", "done", "stopped"]
    assert ORDER in result["stopReason"]


def test_steps_due_after_now_are_pending(rt, tenant):
    data = sequence("s", steps=[{"delay": {"days": 2}}, email_step()])
    emit(rt, tenant.company_id, ORDER, occurred_at=clock.now() - timedelta(days=1))
    (result,) = replay(rt, tenant.company_id, data)["results"]
    assert result["result"] == "pending"
    assert result["steps"][-1]["outcome"] == "pending"


def test_the_cap_counts_real_sends_and_simulated_ones(rt, tenant):
    define(rt, tenant.company_id, sequence("live-promo", event=CART, priority=60))
    emit(rt, tenant.company_id, CART)  # a real email goes out now (priority 60)
    data = sequence("promo", priority=40, steps=[email_step()])
    emit(rt, tenant.company_id, ORDER, "other@example.com", occurred_at=clock.now())
    emit(rt, tenant.company_id, ORDER, "other@example.com", occurred_at=clock.now())
    emit(rt, tenant.company_id, ORDER, occurred_at=clock.now())
    report = replay(rt, tenant.company_id, data)
    first_other, second_other, ana = report["results"]
    assert first_other["steps"][0]["outcome"] == "would_send"
    assert second_other["steps"][0]["outcome"] == "capped"
    assert "sequence promo" in second_other["steps"][0]["detail"]
    assert ana["steps"][0]["outcome"] == "capped"
    assert "sequence live-promo" in ana["steps"][0]["detail"]
    assert report["summary"]["capped"] == 2


def test_today_s_profile_decides_subscriber_filters_and_stops(rt, tenant):
    data = sequence("s", stop=[{"type": "has_tag", "tag": "vip"}])
    emit(rt, tenant.company_id, ORDER)
    update_subscriber(rt, tenant.company_id, tags=["vip"])
    (result,) = replay(rt, tenant.company_id, data)["results"]
    assert result["result"] == "stopped"
    assert result["stopReason"] == "stop[0] has_tag vip (today's profile)"


def test_a_dry_run_writes_nothing_and_ignores_status(rt, tenant):
    emit(rt, tenant.company_id, ORDER)
    before = counts(rt)
    report = replay(rt, tenant.company_id, sequence("s", status="draft"))
    assert report["summary"]["entered"] == 1 and report["summary"]["emailsWouldSend"] == 1
    assert counts(rt) == before


def test_only_the_window_is_replayed(rt, tenant):
    emit(rt, tenant.company_id, ORDER, occurred_at=clock.now() - timedelta(days=10))
    emit(rt, tenant.company_id, ORDER, occurred_at=clock.now() - timedelta(days=2))
    report = replay(rt, tenant.company_id, sequence("s"), days=7)
    assert report["events"] == 1
