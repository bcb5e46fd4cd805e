"""Replenishment through the rules engine: due -> sequence -> email, and the repurchase stop."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from storeflow.core import clock
from storeflow.core.storage.tables import Enrollment
from storeflow.rules import schema
from tests.replenishkit import (
    BLUE,
    COFFEE,
    GREEN,
    HOODIE,
    buy,
    catalogue,
    coffee,
    enable,
    hoodie,
    sweep,
    tea,
)
from tests.test_webhook_flow import load_rule

DAY = timedelta(days=1)


def refill_rule(**extra: Any) -> dict[str, Any]:
    return {
        "id": "coffee-refill",
        "name": "Coffee refill",
        "trigger": {"event": "ecommerce.replenishment_due"},
        "steps": [
            {"delay": {"days": 1}},
            {
                "email": {
                    "subject": "Time to restock {{ product.title }}",
                    "body": "Reorder: {{ product.url }}\nPicture: {{ product.imageUrl }}",
                    "from": "shop@example.com",
                }
            },
        ],
        **extra,
    }


def runs(rt, company_id):
    with rt.unit_of_work() as session:
        rows = list(
            session.scalars(
                select(Enrollment)
                .where(Enrollment.company_id == company_id)
                .order_by(Enrollment.id)
            )
        )
        session.expunge_all()
        return rows


@pytest.fixture
def shop(rt_smtp, client, tenant):
    catalogue(client, tenant)
    enable(client, tenant, COFFEE, days=30)
    return tenant


def due_and_enrolled(rt, client, shop, rule):
    load_rule(rt, shop.company_id, rule)
    buy(client, shop, 1001, [coffee()])
    clock.travel(31 * DAY)
    sweep(rt)
    (run,) = runs(rt, shop.company_id)
    assert run.status == "active" and run.entry_event_name == "ecommerce.replenishment_due"
    return run


def test_due_reminder_runs_the_sequence_and_sends_the_email(rt_smtp, client, shop, smtp_server):
    due_and_enrolled(rt_smtp, client, shop, refill_rule())
    buy(client, shop, 1002, [tea()])  # another product: no stop
    assert runs(rt_smtp, shop.company_id)[0].status == "active"
    clock.travel(2 * DAY)
    sweep(rt_smtp)
    (mail,) = smtp_server.wait_for(1)
    assert mail["Subject"] == "Time to restock Coffee Beans"
    assert mail["To"] == "john.doe@example.com"
    body = mail.get_content()
    assert "Reorder: https://" in body and "Picture: " in body
    assert runs(rt_smtp, shop.company_id)[0].status == "completed"


def test_buying_the_product_again_stops_the_waiting_sequence(rt_smtp, client, shop, smtp_server):
    due_and_enrolled(rt_smtp, client, shop, refill_rule())
    buy(client, shop, 1002, [coffee()])
    (run,) = runs(rt_smtp, shop.company_id)
    assert run.status == "stopped" and "ecommerce.order_placed" in run.stop_reason
    clock.travel(2 * DAY)
    sweep(rt_smtp)
    assert smtp_server.messages == []


def test_a_rule_author_can_turn_the_repurchase_stop_off(rt_smtp, client, shop, smtp_server):
    due_and_enrolled(rt_smtp, client, shop, refill_rule(stopOnRepurchase=False))
    buy(client, shop, 1002, [coffee()])
    assert runs(rt_smtp, shop.company_id)[0].status == "active"
    clock.travel(2 * DAY)
    sweep(rt_smtp)
    assert len(smtp_server.wait_for(1)) == 1


def test_an_explicit_stop_list_keeps_the_repurchase_stop_when_asked(rt_smtp, client, shop):
    rule = refill_rule(stop=[{"type": "has_tag", "tag": "vip"}], stopOnRepurchase=True)
    due_and_enrolled(rt_smtp, client, shop, rule)
    buy(client, shop, 1002, [coffee()])
    assert runs(rt_smtp, shop.company_id)[0].status == "stopped"


def test_an_explicit_stop_list_alone_replaces_the_default(rt_smtp, client, shop):
    rule = refill_rule(stop=[{"type": "has_tag", "tag": "vip"}])
    due_and_enrolled(rt_smtp, client, shop, rule)
    buy(client, shop, 1002, [coffee()])
    assert runs(rt_smtp, shop.company_id)[0].status == "active"


def test_variant_matching_stops_only_on_the_same_variant(rt_smtp, client, shop):
    enable(client, shop, HOODIE, days=30, match="variant")
    load_rule(rt_smtp, shop.company_id, refill_rule())
    buy(client, shop, 1001, [hoodie(BLUE)])
    clock.travel(31 * DAY)
    sweep(rt_smtp)
    buy(client, shop, 1002, [hoodie(GREEN)])
    assert runs(rt_smtp, shop.company_id)[0].status == "active"
    buy(client, shop, 1003, [hoodie(BLUE)])
    assert runs(rt_smtp, shop.company_id)[0].status == "stopped"


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"stopOnRepurchase": "no"}, "stopOnRepurchase"),
        (
            {"trigger": {"event": "ecommerce.order_placed"}, "stopOnRepurchase": False},
            "stopOnRepurchase",
        ),
    ],
)
def test_stop_on_repurchase_is_validated(changes, path):
    with pytest.raises(schema.SchemaError) as caught:
        schema.structure_sequence({**refill_rule(), **changes})
    assert any(path in str(issue.path) for issue in caught.value.issues)


def test_stop_on_repurchase_round_trips():
    parsed = schema.structure_sequence(refill_rule(stopOnRepurchase=False))
    assert parsed.stop_on_repurchase is False
    assert schema.unstructure_sequence(parsed)["stopOnRepurchase"] is False
    assert "stopOnRepurchase" not in schema.unstructure_sequence(
        schema.structure_sequence(refill_rule())
    )


def test_the_example_recipe_reminds_with_the_image_and_a_reorder_link(
    rt_smtp, client, tenant, smtp_server
):
    from storeflow.rules import loader, runner
    from storeflow.web import demo

    catalogue(client, tenant)
    enable(client, tenant, HOODIE, days=30, match="variant")
    with rt_smtp.unit_of_work() as session:
        for seq in loader.load_path(demo.EXAMPLES / "replenishment.yaml"):
            runner.save_sequence(session, tenant.company_id, seq)
    buy(client, tenant, 1001, [hoodie(BLUE)])
    clock.travel(30 * DAY + timedelta(hours=1))
    sweep(rt_smtp)
    assert smtp_server.messages == []  # the recipe waits two hours after the due time
    clock.travel(timedelta(hours=2))
    sweep(rt_smtp)
    (mail,) = smtp_server.wait_for(1)
    assert mail["Subject"] == "Running low on Hoodie?"
    image = "https://shop.example.com/wp-content/uploads/2025/01/hoodie-blue.jpg"
    text = mail.get_body(("plain",)).get_content()
    assert "30 days since you bought Hoodie" in text and image in text
    assert "Reorder in one click: https://" in text
    html = mail.get_body(("html",)).get_content()
    assert f'<img src="{image}"' in html and '<a href="https://' in html
