"""Frequency capping with priorities: nothing of higher priority is dropped by a lower one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storeflow.rules.capping import FrequencyCap, InvalidCap, Sent, check, from_settings, parse
from tests.rulekit import (
    CART,
    ORDER,
    advance,
    define,
    email_step,
    emit,
    ledger,
    runs,
    sent,
    sequence,
    set_cap,
    steps_of,
)

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
CAP = FrequencyCap()  # 1 per 16 h, delay


def sent_at(hours_ago: float, priority: int, name: str = "x") -> Sent:
    return Sent(NOW - timedelta(hours=hours_ago), priority, name)


def test_nothing_sent_means_allowed():
    assert check(CAP, 50, [], NOW).allowed


def test_an_equal_priority_email_in_the_window_caps_until_it_ages_out():
    verdict = check(CAP, 50, [sent_at(2, 50, "promo")], NOW)
    assert not verdict.allowed
    assert verdict.until == NOW + timedelta(hours=14)
    assert "1 email(s) of priority >= 50 in the last 16 h" in verdict.reason
    assert "sequence promo" in verdict.reason


def test_a_lower_priority_email_never_blocks_a_higher_one():
    assert check(CAP, 90, [sent_at(1, 10, "newsletter")], NOW).allowed


def test_a_higher_priority_email_blocks_a_lower_one():
    assert not check(CAP, 10, [sent_at(1, 90, "cart")], NOW).allowed


def test_emails_older_than_the_window_do_not_count():
    assert check(CAP, 50, [sent_at(16.01, 50)], NOW).allowed


def test_several_per_window_and_the_time_a_slot_frees():
    cap = FrequencyCap(max_messages=2, window_hours=24)
    recent = [sent_at(20, 50), sent_at(3, 60), sent_at(1, 70)]
    verdict = check(cap, 50, recent, NOW)
    # Room for one more once two of the three have aged out: the one from 3 h ago.
    assert not verdict.allowed and verdict.until == NOW + timedelta(hours=21)
    assert check(cap, 65, recent, NOW).allowed  # only one of >= 65 in the window


def test_a_disabled_cap_allows_everything():
    assert check(FrequencyCap(enabled=False), 0, [sent_at(0, 100)] * 5, NOW).allowed


def test_settings_parse_and_reject_with_paths():
    assert parse({"maxMessages": 2, "windowHours": 24}) == FrequencyCap(True, 2, 24.0, "delay")
    with pytest.raises(InvalidCap) as error:
        parse({"maxMessages": 0, "windowHours": "16", "whenCapped": "drop", "extra": 1})
    assert [d["path"] for d in error.value.details] == [
        "$.extra",
        "$.maxMessages",
        "$.windowHours",
        "$.whenCapped",
    ]
    assert from_settings({}) == CAP
    assert from_settings({"frequencyCap": {"maxMessages": "bad"}}) == CAP


# --- through the runner ------------------------------------------------------------------


def promo(rt, company_id, priority: int = 10, steps=None) -> None:
    define(rt, company_id, sequence("promo", event=ORDER, priority=priority, steps=steps))


def cart(rt, company_id, priority: int = 90) -> None:
    define(rt, company_id, sequence("cart", event=CART, priority=priority, stop=[]))


def test_a_cart_email_goes_out_after_the_morning_promo(rt, tenant):
    promo(rt, tenant.company_id)
    cart(rt, tenant.company_id)
    emit(rt, tenant.company_id, ORDER)
    advance(rt, hours=2)
    emit(rt, tenant.company_id, CART)
    assert [m.status for m in ledger(rt, tenant.company_id)] == ["sent", "sent"]


def test_a_promo_after_a_cart_email_is_delayed_with_its_reason_then_sent(rt, tenant):
    promo(rt, tenant.company_id)
    cart(rt, tenant.company_id)
    emit(rt, tenant.company_id, CART)
    advance(rt, hours=2)
    emit(rt, tenant.company_id, ORDER)
    cart_row, promo_row = ledger(rt, tenant.company_id)
    assert cart_row.status == "sent"
    assert promo_row.status == "queued"
    assert promo_row.reason.startswith("delayed until ")
    assert "frequency cap: 1 email(s) of priority >= 10" in promo_row.reason
    assert "sequence cart" in promo_row.reason
    run = runs(rt, tenant.company_id)[1]
    assert steps_of(rt, run.id)[0].status == "delayed"
    advance(rt, hours=13)
    assert ledger(rt, tenant.company_id)[1].status == "queued"  # 15 h after the cart email
    advance(rt, hours=1, minutes=1)
    assert [m.status for m in ledger(rt, tenant.company_id)] == ["sent", "sent"]
    assert runs(rt, tenant.company_id)[1].status == "completed"


def test_skip_mode_records_the_skip_and_the_run_continues(rt, tenant):
    set_cap(rt, tenant.company_id, {"whenCapped": "skip"})
    promo(rt, tenant.company_id, steps=[email_step(), {"tag": {"add": ["promo-done"]}}])
    cart(rt, tenant.company_id)
    emit(rt, tenant.company_id, CART)
    emit(rt, tenant.company_id, ORDER)
    cart_row, promo_row = ledger(rt, tenant.company_id)
    assert promo_row.status == "skipped" and promo_row.reason.startswith("skipped: frequency cap")
    assert runs(rt, tenant.company_id)[1].status == "completed"


def test_the_cap_is_per_subscriber_and_configurable(rt, tenant):
    set_cap(rt, tenant.company_id, {"maxMessages": 2, "windowHours": 1})
    promo(rt, tenant.company_id)
    for _ in range(3):
        emit(rt, tenant.company_id, ORDER)
    emit(rt, tenant.company_id, ORDER, "other@example.com")
    assert [(m.email, m.status) for m in ledger(rt, tenant.company_id)] == [
        ("ana@example.com", "sent"),
        ("ana@example.com", "sent"),
        ("ana@example.com", "queued"),
        ("other@example.com", "sent"),
    ]
    advance(rt, hours=1, seconds=1)
    assert len(sent(rt, tenant.company_id)) == 4


def test_a_stop_while_capped_skips_the_queued_email(rt, tenant):
    cart(rt, tenant.company_id)
    define(
        rt,
        tenant.company_id,
        sequence("promo", event=ORDER, priority=10, stop=[{"type": "has_tag", "tag": "vip"}]),
    )
    emit(rt, tenant.company_id, CART)
    emit(rt, tenant.company_id, ORDER)
    with rt.unit_of_work() as session:
        from storeflow.core.commerce import subscribers

        subscribers.get_by_email(session, tenant.company_id, "ana@example.com").tags = ["vip"]
    advance(rt, hours=17)
    promo_row = ledger(rt, tenant.company_id)[1]
    assert promo_row.status == "skipped" and "has_tag vip" in promo_row.reason
