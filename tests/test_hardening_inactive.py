"""Inactive subscribers (unsubscribed, suppressed) are enrolled and stopped at once.

Deliberate (issue 16, docs/decisions.md): the run is the record of why nothing went
out. The merchant sees it in the sequence's runs and the send ledger ("later sends
skip it with the reason"), and no step of it (not even an internal one) runs.
"""

from __future__ import annotations

import pytest

from tests.rulekit import (
    ORDER,
    define,
    emit,
    ledger,
    runs,
    sent,
    sequence,
    steps_of,
    subscriber,
    update_subscriber,
)

STEPS = [{"tag": {"add": ["reached"]}}, {"delay": {"days": 1}}]


def _start(rt, tenant, status):
    emit(rt, tenant.company_id, "ecommerce.cart_started")  # creates the subscriber
    update_subscriber(rt, tenant.company_id, status=status)
    define(rt, tenant.company_id, sequence("s", steps=STEPS))
    emit(rt, tenant.company_id, ORDER)


def test_an_active_subscriber_runs_the_same_steps(rt, tenant):
    _start(rt, tenant, "active")
    (run,) = runs(rt, tenant.company_id)
    assert run.status == "active"
    assert "reached" in subscriber(rt, tenant.company_id).tags


@pytest.mark.parametrize("status", ["unsubscribed", "suppressed"])
def test_a_new_run_of_an_inactive_subscriber_stops_before_any_step(rt, tenant, status):
    _start(rt, tenant, status)
    (run,) = runs(rt, tenant.company_id)
    assert run.status == "stopped" and run.stop_reason == f"subscriber {status}"
    assert "reached" not in (subscriber(rt, tenant.company_id).tags or [])
    assert [s.status for s in steps_of(rt, run.id)] == ["skipped"]
    assert sent(rt, tenant.company_id) == []
    assert ledger(rt, tenant.company_id) == []  # no email step was reached
