"""Shared helpers for the replenishment tests: a catalogue, orders at chosen times, sweeps."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from storeflow.core import clock
from storeflow.core.storage.tables import Event, ReplenishmentReminder
from storeflow.core.work import tasks
from tests.providers import woocommerce_payloads as fx
from tests.test_webhook_flow import send

COFFEE = 794  # a simple product
HOODIE, BLUE, GREEN = 732, 733, 734  # a variable product and two variations
TEA = 801
DUE = "ecommerce.replenishment_due"


def gmt(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S")


def catalogue_items() -> list[tuple[str, dict[str, Any]]]:
    """Coffee (simple), Hoodie with Blue and Green, Tea (simple), as webhooks."""
    return [
        ("product.created", fx.product_simple(id=COFFEE, name="Coffee Beans", sku="COF-1")),
        ("product.created", fx.product_simple(id=TEA, name="Green Tea", sku="TEA-1")),
        ("product.created", fx.product_variable(id=HOODIE, variation_ids=(BLUE, GREEN))),
        ("product.created", fx.variation(id=BLUE, options=(("Color", "Blue"),), sku="H-B")),
        (
            "product.created",
            fx.variation(id=GREEN, options=(("Color", "Green"),), sku="H-G", image_src=None),
        ),
    ]


def catalogue(client: Any, tenant: Any) -> None:
    for topic, payload in catalogue_items():
        assert send(client, tenant, topic, payload).status_code == 200


def enable(client: Any, tenant: Any, product: int, **body: Any) -> Any:
    response = client.put(
        f"/api/products/woocommerce/{product}/replenishment",
        json={"enabled": True, "days": 30, **body},
        headers=tenant.auth,
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["product"]


def coffee(quantity: int = 1) -> dict[str, Any]:
    return fx.line_item(
        id=400, product_id=COFFEE, name="Coffee Beans", quantity=quantity, sku="COF-1"
    )


def tea() -> dict[str, Any]:
    return fx.line_item(id=401, product_id=TEA, name="Green Tea", quantity=1, sku="TEA-1")


def hoodie(variant: int, quantity: int = 1, line_id: int = 402) -> dict[str, Any]:
    color = "Blue" if variant == BLUE else "Green"
    return fx.line_item(
        id=line_id,
        product_id=HOODIE,
        variation_id=variant,
        parent_name="Hoodie",
        attributes=(("pa_color", "Color", color),),
        quantity=quantity,
        sku=f"H-{color[0]}",
    )


def buy(
    client: Any,
    tenant: Any,
    order_id: int,
    lines: list[dict[str, Any]],
    *,
    at: datetime | None = None,
    status: str = "processing",
    email: str = "john.doe@example.com",
    modified: datetime | None = None,
    topic: str = "order.created",
    **extra: Any,
) -> dict[str, Any]:
    """Send a live order webhook placed at ``at`` (now by default); returns the payload."""
    at = at or clock.now()
    payload = fx.order(
        id=order_id,
        status=status,
        email=email,
        line_items=lines,
        date_created_gmt=gmt(at),
        date_modified_gmt=gmt(modified or at + timedelta(minutes=2)),
        **extra,
    )
    response = send(client, tenant, topic, payload)
    assert response.status_code == 200, response.get_json()
    return payload


def reminders(rt: Any, company_id: int) -> list[ReplenishmentReminder]:
    with rt.unit_of_work() as session:
        rows = list(
            session.scalars(
                select(ReplenishmentReminder)
                .where(ReplenishmentReminder.company_id == company_id)
                .order_by(ReplenishmentReminder.id)
            )
        )
        session.expunge_all()
        return rows


def pending(rt: Any, company_id: int) -> list[ReplenishmentReminder]:
    return [r for r in reminders(rt, company_id) if r.status == "pending"]


def due_events(rt: Any, company_id: int) -> list[Event]:
    with rt.unit_of_work() as session:
        rows = list(
            session.scalars(
                select(Event)
                .where(Event.company_id == company_id, Event.name == DUE)
                .order_by(Event.id)
            )
        )
        session.expunge_all()
        return rows


def sweep(rt: Any) -> None:
    """One real sweep (every registered sweep, as the worker's sweeper runs it)."""
    tasks.sweep(rt)
