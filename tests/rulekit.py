"""Helpers for rules-engine tests: define sequences, emit events, move time, read results.

In-process tests run Huey in immediate mode: committing an event runs its event job
and every step job that is due at once. Delays are crossed with :func:`advance`,
which moves ``storeflow.core.clock`` and drains the jobs that became due.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from storeflow.core import clock
from storeflow.core.commerce import events, subscribers
from storeflow.core.storage.tables import Company, Enrollment, EnrollmentStep, Message, Subscriber
from storeflow.core.work import tasks
from storeflow.rules import runner, schema

ORDER = "ecommerce.order_placed"
CART = "ecommerce.cart_started"
CHECKOUT = "ecommerce.checkout_started"
CLEARED = "ecommerce.cart_cleared"
RESTOCK = "ecommerce.back_in_stock"
SOLD_OUT = "ecommerce.back_in_stock_out_of_stock"
REFILL = "ecommerce.replenishment_due"

_counter = iter(range(1, 10**9))


def email_step(subject: str = "Hello {{ subscriber.firstName|default('there') }}") -> dict:
    return {"email": {"subject": subject, "body": "Body for {{ subscriber.email }}"}}


def sequence(
    id: str = "seq", event: str = ORDER, steps: list[dict] | None = None, **extra: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": id,
        "name": id.replace("-", " ").title(),
        "trigger": {"event": event, **extra.pop("trigger", {})},
        "steps": steps if steps is not None else [email_step()],
    }
    data.update(extra)
    return data


def define(rt: Any, company_id: int, data: dict[str, Any]) -> int:
    with rt.unit_of_work() as session:
        return runner.save_sequence(session, company_id, schema.structure_sequence(data)).id


def no_cap(rt: Any, company_id: int) -> None:
    set_cap(rt, company_id, {"enabled": False})


def set_cap(rt: Any, company_id: int, cap: dict[str, Any]) -> None:
    with rt.unit_of_work() as session:
        company = session.get_one(Company, company_id)
        company.settings = {**(company.settings or {}), "frequencyCap": cap}


def emit(
    rt: Any,
    company_id: int,
    name: str,
    email: str = "ana@example.com",
    properties: dict[str, Any] | None = None,
    *,
    occurred_at: datetime | None = None,
    live: bool = True,
    key: str | None = None,
) -> int:
    """Append an event for the subscriber of ``email`` (created if needed); returns its id."""
    with rt.unit_of_work() as session:
        subscriber = subscribers.upsert(session, company_id, email, "Ana")
        event_id = events.append(
            session,
            company_id=company_id,
            name=name,
            key=key or f"test:{next(_counter)}",
            occurred_at=occurred_at or clock.now(),
            subscriber=subscriber,
            properties=properties or {},
            live=live,
        )
    assert event_id is not None
    return event_id


def advance(rt: Any, **delta: float) -> None:
    clock.travel(timedelta(**delta))
    tasks.drain(rt)


def runs(rt: Any, company_id: int) -> list[Enrollment]:
    with rt.unit_of_work() as session:
        return list(
            session.scalars(
                select(Enrollment)
                .where(Enrollment.company_id == company_id)
                .order_by(Enrollment.id)
            )
        )


def ledger(rt: Any, company_id: int) -> list[Message]:
    with rt.unit_of_work() as session:
        return list(
            session.scalars(
                select(Message).where(Message.company_id == company_id).order_by(Message.id)
            )
        )


def sent(rt: Any, company_id: int) -> list[Message]:
    return [m for m in ledger(rt, company_id) if m.status == "sent"]


def steps_of(rt: Any, enrollment_id: int) -> list[EnrollmentStep]:
    with rt.unit_of_work() as session:
        return list(
            session.scalars(
                select(EnrollmentStep)
                .where(EnrollmentStep.enrollment_id == enrollment_id)
                .order_by(EnrollmentStep.position)
            )
        )


def subscriber(rt: Any, company_id: int, email: str = "ana@example.com") -> Subscriber:
    with rt.unit_of_work() as session:
        return subscribers.get_by_email(session, company_id, email)


def update_subscriber(rt: Any, company_id: int, email: str = "ana@example.com", **values: Any):
    with rt.unit_of_work() as session:
        row = subscribers.get_by_email(session, company_id, email)
        for name, value in values.items():
            setattr(row, name, value)


def line(product: str, variant: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"providerProductId": product, "providerVariantId": variant or product, **extra}


def order(*items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"orderId": str(next(_counter)), "lineItems": list(items), "totalCents": 2500, **extra}


def product(product_id: str = "501", variant_id: str = "601", **extra: Any) -> dict[str, Any]:
    return {
        "product": {
            "provider": "woocommerce",
            "providerProductId": product_id,
            "providerVariantId": variant_id,
            "title": "Coffee",
        },
        **extra,
    }
