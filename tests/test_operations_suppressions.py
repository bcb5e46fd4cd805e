"""``storeflow rules suppressions list | lift``: what a refusal suppressed, and undoing it.

Before, lifting a suppression was an operator's SQL (delete the row, set the
subscriber active), listing one a SELECT.
"""

from __future__ import annotations

import json

from click.testing import CliRunner
from sqlalchemy import select

from storeflow.core.storage.locks import locked_subscriber
from storeflow.core.storage.tables import Suppression
from storeflow.rules import suppressions
from storeflow.web.cli import cli
from tests.rulekit import ORDER, define, emit, ledger, sequence, subscriber, update_subscriber

REPLY = "550 5.1.1 <gone@example.com>: no such\\r\\n user"


def _suppress(rt, company_id: int, email: str = "gone@example.com") -> None:
    emit(rt, company_id, "ecommerce.cart_started", email)  # the subscriber exists
    with rt.unit_of_work() as session:
        found = subscriber(rt, company_id, email)
        suppressions.suppress(session, locked_subscriber(session, found.id).id, REPLY)


def invoke(rt, *args: str):
    return CliRunner().invoke(cli, ["rules", "suppressions", *args], obj=rt)


def test_list_shows_each_suppression_with_its_reason(rt, tenant, other_tenant):
    _suppress(rt, tenant.company_id)
    _suppress(rt, other_tenant.company_id, "else@example.com")
    every = invoke(rt, "list")
    assert every.exit_code == 0, every.output
    assert "gone@example.com" in every.output and "else@example.com" in every.output
    mine = json.loads(invoke(rt, "list", "--company", tenant.slug, "--json").stdout)
    assert [(row["company"], row["email"]) for row in mine] == [(tenant.slug, "gone@example.com")]
    assert mine[0]["reason"] == REPLY
    one = json.loads(invoke(rt, "list", "--email", "GONE@example.com", "--json").stdout)
    assert [row["email"] for row in one] == ["gone@example.com"]


def test_lift_lets_the_address_be_emailed_again(rt_smtp, tenant, other_tenant, smtp_server):
    rt = rt_smtp
    _suppress(rt, tenant.company_id)
    _suppress(rt, other_tenant.company_id)
    define(rt, tenant.company_id, sequence("s", steps=[{"email": {"subject": "Hi", "body": "b"}}]))
    emit(rt, tenant.company_id, ORDER, "gone@example.com")
    assert [row.status for row in ledger(rt, tenant.company_id)] == ["skipped"]
    result = invoke(rt, "lift", "Gone@Example.com", "--company", tenant.slug)
    assert result.exit_code == 0, result.output
    assert "active again" in result.output
    assert subscriber(rt, tenant.company_id, "gone@example.com").status == "active"
    with rt.unit_of_work() as session:  # the other company's suppression stays
        left = session.scalars(select(Suppression.company_id)).all()
    assert left == [other_tenant.company_id]
    emit(rt, tenant.company_id, ORDER, "gone@example.com")
    assert [row.status for row in ledger(rt, tenant.company_id)] == ["skipped", "sent"]
    assert len(smtp_server.wait_for(1)) == 1


def test_lifting_what_is_not_suppressed_says_so(rt, tenant):
    emit(rt, tenant.company_id, ORDER, "fine@example.com")
    result = invoke(rt, "lift", "fine@example.com", "--company", tenant.slug)
    assert result.exit_code == 1 and "not_suppressed" in result.output


def test_an_unsubscribed_subscriber_stays_unsubscribed(rt, tenant):
    _suppress(rt, tenant.company_id)
    update_subscriber(rt, tenant.company_id, "gone@example.com", status="unsubscribed")
    result = invoke(rt, "lift", "gone@example.com", "--company", tenant.slug)
    assert result.exit_code == 0 and "active again" not in result.output
    assert subscriber(rt, tenant.company_id, "gone@example.com").status == "unsubscribed"
    assert invoke(rt, "list").output.strip() == "no suppressions"
