"""Order-safety as a property: any permutation and duplication of a set of deliveries
(webhooks and sync batches, products, variations, deletions, customers, orders)
ends in the same state and the same profile attributes as the in-order,
once-each delivery."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from storeflow.core.commerce import ingest, sync
from storeflow.core.storage.tables import (
    Event,
    Integration,
    OrderLine,
    OrderRow,
    ProductRow,
    StoreCustomer,
    Subscriber,
    VariantRow,
)
from storeflow.core.stores import integrations
from tests.conftest import make_tenant
from tests.providers import woocommerce_payloads as fx

START = datetime(2025, 1, 1, 8, 0, 0)
BUYERS = {  # email -> (customer id, first name, last name); 0 = guest
    "ann@example.com": (25, "Ann", "Lee"),
    "bob@example.com": (0, "Bob", "Roe"),
}
STATUSES = ["pending", "processing", "on-hold", "completed", "cancelled", "failed", "refunded"]

_counter = itertools.count()


def _at(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S")


Delivery = tuple[str, str, dict[str, Any]]  # (channel, resource, payload)


@st.composite
def histories(draw: Any) -> list[Delivery]:
    """Versions of a few objects, in the order the store produced them."""
    deliveries: list[Delivery] = []
    clock = itertools.count(1)
    channel = st.sampled_from(["sync", "webhook"])
    # A variable product with two variations, and a simple product that may get deleted.
    for version in range(draw(st.integers(1, 3))):
        deliveries.append(
            (
                draw(channel),
                "product",
                fx.product_variable(
                    id=101, name=f"Hoodie v{version}", date_modified_gmt=_at(next(clock))
                ),
            )
        )
    for variation_id in (201, 202):
        for _ in range(draw(st.integers(1, 3))):
            deliveries.append(
                (
                    draw(channel),
                    "product",
                    fx.variation(
                        id=variation_id,
                        parent_id=101,
                        price=draw(st.sampled_from(["40.00", "42.50", "45.00"])),
                        stock_quantity=draw(st.integers(0, 9)),
                        stock_status=draw(st.sampled_from(["instock", "outofstock"])),
                        date_modified_gmt=_at(next(clock)),
                    ),
                )
            )
    for _ in range(draw(st.integers(1, 2))):
        deliveries.append(
            (
                draw(channel),
                "product",
                fx.product_simple(
                    id=301,
                    price=draw(st.sampled_from(["9.99", "12.00"])),
                    date_modified_gmt=_at(next(clock)),
                ),
            )
        )
    if draw(st.booleans()):
        deliveries.append(("webhook", "product.deleted", fx.deleted(301)))
    # The registered buyer's account, renamed over time.
    for first in draw(st.lists(st.sampled_from(["Ann", "Anna", "Annie"]), min_size=1, max_size=3)):
        deliveries.append(
            (
                draw(channel),
                "customer",
                fx.customer(
                    id=25,
                    email="ann@example.com",
                    first_name=first,
                    last_name="Lee",
                    date_modified_gmt=_at(next(clock)),
                ),
            )
        )
    # Orders moving through statuses, with refunds that only ever grow.
    for order_id in range(1, draw(st.integers(2, 4)) + 1):
        email = draw(st.sampled_from(sorted(BUYERS)))
        customer_id, first, last = BUYERS[email]
        created = _at(next(clock))
        refunds: list[dict[str, Any]] = []
        for _ in range(draw(st.integers(1, 4))):
            status = draw(st.sampled_from(STATUSES))
            if status in ("processing", "completed", "refunded") and draw(st.booleans()):
                refunds = [*refunds, fx.refund(id=order_id * 100 + len(refunds), total="-5.00")]
            deliveries.append(
                (
                    draw(channel),
                    "order",
                    fx.order(
                        id=order_id,
                        status=status,
                        email=email,
                        customer_id=customer_id,
                        first_name=first,
                        last_name=last,
                        refunds=refunds,
                        date_created_gmt=created,
                        date_modified_gmt=_at(next(clock)),
                        line_items=[
                            fx.variation_line_item(product_id=101, variation_id=201, quantity=1),
                            fx.line_item(product_id=301, quantity=order_id),
                        ],
                    ),
                )
            )
    return deliveries


def apply_all(rt: Any, integration_id: str, deliveries: list[Delivery], batch_size: int) -> None:
    """Deliver in the given order: webhooks one by one, runs of sync items as batches."""
    provider = rt.providers["woocommerce"]
    index = 0
    while index < len(deliveries):
        channel, resource, payload = deliveries[index]
        with rt.unit_of_work() as session:
            integration = session.get_one(Integration, integration_id)
            store = integrations.context(integration)
            if channel == "webhook":
                topic = resource if "." in resource else f"{resource}.updated"
                mapped = provider.map_webhook(topic, payload, store)
                ingest.apply(session, store, provider.name, mapped, live=True)
                index += 1
                continue
            items = [payload]
            index += 1
            while (
                index < len(deliveries)
                and len(items) < batch_size
                and deliveries[index][:2] == (channel, resource)
            ):
                items.append(deliveries[index][2])
                index += 1
            result = sync.apply_batch(
                session, integration, provider, f"{resource}s", sync.Batch("run", 1, False, items)
            )
            assert result.failed == []


def snapshot(rt: Any, company_id: int) -> dict[str, Any]:
    with rt.unit_of_work() as session:

        def rows(model: Any) -> list[Any]:
            return list(session.scalars(select(model).where(model.company_id == company_id)))

        products = {p.id: p.provider_product_id for p in rows(ProductRow)}
        lines: dict[int, list[Any]] = {}
        for line in rows(OrderLine):
            lines.setdefault(line.order_id, []).append(
                (
                    line.position,
                    line.provider_product_id,
                    line.provider_variant_id,
                    line.quantity,
                    line.total_cents,
                )
            )
        return {
            "products": {
                p.provider_product_id: (
                    p.title,
                    p.type,
                    p.price_cents,
                    p.stock_status,
                    p.stock_quantity,
                    p.deleted,
                    tuple(p.categories),
                    p.url,
                    p.image_url,
                )
                for p in rows(ProductRow)
            },
            "variants": {
                v.provider_variant_id: (
                    products[v.product_id],
                    v.title,
                    v.sku,
                    v.price_cents,
                    v.stock_status,
                    v.stock_quantity,
                    v.deleted,
                )
                for v in rows(VariantRow)
            },
            "orders": {
                o.provider_order_id: (
                    o.status,
                    o.state,
                    o.total_cents,
                    o.refunded_cents,
                    o.deleted,
                    o.email,
                    o.awaiting_payment,
                    o.ordered_at,
                    sorted(lines.get(o.id, [])),
                )
                for o in rows(OrderRow)
            },
            "subscribers": {
                s.email: (s.first_name, s.last_name, s.attributes) for s in rows(Subscriber)
            },
            "accounts": {c.provider_customer_id: (c.email, c.deleted) for c in rows(StoreCustomer)},
        }


def placed_events(rt: Any, company_id: int) -> dict[str, int]:
    with rt.unit_of_work() as session:
        found = session.execute(
            select(Event.idempotency_key, func.count())
            .where(Event.company_id == company_id, Event.name == "ecommerce.order_placed")
            .group_by(Event.idempotency_key)
        )
        return {key.split(":order:")[1]: count for key, count in found}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), history=histories())
def test_any_order_and_duplication_converges_to_the_in_order_state(rt, data, history):
    first = make_tenant(rt, f"inorder{next(_counter)}")
    apply_all(rt, first.integration_id, history, batch_size=500)
    expected = snapshot(rt, first.company_id)

    shuffled = data.draw(st.permutations(history))
    repeats = data.draw(st.lists(st.sampled_from(history), max_size=len(history)))
    mixed = data.draw(st.permutations(shuffled + repeats))
    second = make_tenant(rt, f"shuffled{next(_counter)}")
    apply_all(rt, second.integration_id, mixed, batch_size=data.draw(st.integers(1, 6)))
    assert snapshot(rt, second.company_id) == expected

    # Every order (all statuses here are live ones) has exactly one order_placed.
    for company in (first.company_id, second.company_id):
        events = placed_events(rt, company)
        assert events == {f"{oid}:placed": 1 for oid in expected["orders"]}
