"""Privacy requests: erase a shopper's personal data, erase a store's, export a shopper's.

Provider-agnostic: a provider maps its platform's requests (Shopify ``customers/redact``,
``shop/redact``, ``customers/data_request``) to :class:`records.Erasure` and
:class:`records.DataRequest`; nothing here knows a wire format.

Erasing **deletes**, it does not anonymise: the shopper's subscriber and every row that
hangs off it (orders and their lines, events, enrollments and their steps, messages,
recovered revenue, waitlist entries, replenishment reminders, carts and cart activity,
store accounts, suppressions, data exports) go. Anonymised rows would still be
personal data once joined with the store's own records (order ids, timestamps,
amounts), and the store keeps its own copy of what it needs. The stored raw deliveries
that mention the shopper (their email or phone anywhere in the body, their customer
id, one of their orders) keep their metadata but lose their body, which is replaced
by a marker; that includes the privacy request's own delivery.

A store erasure removes everything the store sent: its catalogue, orders, carts,
events and deliveries, and the subscribers no other source knows. A subscriber who also
came from elsewhere (another store, the API) keeps what the other source gave.

Functions take a session and never commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.commerce import records
from storeflow.core.emails import normalize_email
from storeflow.core.storage.tables import (
    Cart,
    CartActivity,
    DataExport,
    Enrollment,
    EnrollmentStep,
    Event,
    InboundDelivery,
    InventoryItemRow,
    Message,
    OrderLine,
    OrderRow,
    ProductRow,
    RecoveredOrder,
    ReplenishmentReminder,
    ReplenishmentSetting,
    StockLevelRow,
    StoreCustomer,
    Subscriber,
    Suppression,
    VariantRow,
    WaitlistEntry,
    WaitlistRestock,
)
from storeflow.core.stores.provider import StoreContext

# What a scrubbed delivery's body becomes: valid JSON that no provider maps.
REDACTED_BODY = b'{"storeflowRedacted":true}'


def apply(
    session: Session, store: StoreContext, rec: records.Erasure | records.DataRequest
) -> None:
    """Carry out one privacy request of ``store``."""
    if isinstance(rec, records.DataRequest):
        export(session, store, rec)
    elif rec.scope == "store":
        erase_store(session, store)
    else:
        erase_customer(session, store, rec)


# --- who the request is about --------------------------------------------------------------


def _subject(
    session: Session,
    store: StoreContext,
    emails: Iterable[str],
    customer_ids: Iterable[str],
    order_ids: Iterable[str],
) -> tuple[set[int], set[str]]:
    """The company's subscribers a request names, and every address they are known by."""
    wanted = {normalize_email(e) for e in emails if e and e.strip()}
    customer_ids, order_ids = list(customer_ids), list(order_ids)
    ids: set[int] = set()
    if wanted:
        ids.update(
            session.scalars(
                select(Subscriber.id).where(
                    Subscriber.company_id == store.company_id, Subscriber.email.in_(wanted)
                )
            )
        )
    if customer_ids:
        ids.update(
            session.scalars(
                select(StoreCustomer.subscriber_id).where(
                    StoreCustomer.integration_id == store.integration_id,
                    StoreCustomer.provider_customer_id.in_(customer_ids),
                )
            )
        )
    if order_ids:
        ids.update(
            session.scalars(
                select(OrderRow.subscriber_id).where(
                    OrderRow.integration_id == store.integration_id,
                    OrderRow.provider_order_id.in_(order_ids),
                )
            )
        )
    if ids:
        wanted.update(session.scalars(select(Subscriber.email).where(Subscriber.id.in_(ids))))
        wanted.update(
            session.scalars(select(StoreCustomer.email).where(StoreCustomer.subscriber_id.in_(ids)))
        )
        wanted.update(
            session.scalars(select(OrderRow.email).where(OrderRow.subscriber_id.in_(ids)))
        )
    return ids, {e for e in wanted if e}


# --- erasure -------------------------------------------------------------------------------


def erase_customer(session: Session, store: StoreContext, rec: records.Erasure) -> None:
    ids, emails = _subject(
        session, store, rec.emails, rec.provider_customer_ids, rec.provider_order_ids
    )
    names = _names(session, ids)
    customer_ids = set(rec.provider_customer_ids) | set(
        session.scalars(
            select(StoreCustomer.provider_customer_id).where(StoreCustomer.subscriber_id.in_(ids))
        )
    )
    order_ids = set(rec.provider_order_ids) | set(
        session.scalars(
            select(OrderRow.provider_order_id).where(
                OrderRow.subscriber_id.in_(ids), OrderRow.integration_id == store.integration_id
            )
        )
    )
    _delete_subscribers(session, store.company_id, ids, emails, customer_ids)
    _delete_exports(session, store, emails, customer_ids)
    phones = {p for p in rec.phones if p and p.strip()}
    _scrub_deliveries(
        session,
        store,
        lambda body: _mentions(body, emails, phones, names, customer_ids, order_ids),
    )


def erase_store(session: Session, store: StoreContext) -> None:
    """Everything ``store`` sent; subscribers known only through it go with it."""
    company, integration = store.company_id, store.integration_id
    touched = _store_subscribers(session, integration)
    elsewhere = _known_elsewhere(session, company, integration, touched)
    mine = touched - elsewhere
    emails = set(session.scalars(select(Subscriber.email).where(Subscriber.id.in_(mine))))
    _delete_subscribers(session, company, mine, emails, set())
    # What remains of the store's rows belongs to subscribers known elsewhere too.
    order_rows = select(OrderRow.id).where(OrderRow.integration_id == integration)
    session.execute(delete(RecoveredOrder).where(RecoveredOrder.integration_id == integration))
    session.execute(delete(OrderLine).where(OrderLine.order_id.in_(order_rows)))
    for model in (
        OrderRow,
        ReplenishmentReminder,
        WaitlistEntry,
        WaitlistRestock,
        CartActivity,
        Cart,
        StoreCustomer,
        DataExport,
        StockLevelRow,
        InventoryItemRow,
    ):
        session.execute(delete(model).where(model.integration_id == integration))
    _delete_events(session, Event.integration_id == integration)
    products = select(ProductRow.id).where(ProductRow.integration_id == integration)
    session.execute(
        delete(ReplenishmentSetting).where(ReplenishmentSetting.product_id.in_(products))
    )
    session.execute(delete(VariantRow).where(VariantRow.integration_id == integration))
    session.execute(delete(ProductRow).where(ProductRow.integration_id == integration))
    _scrub_deliveries(session, store, lambda body: True)


def _store_subscribers(session: Session, integration_id: str) -> set[int]:
    found: set[int] = set()
    for column, key in (
        (StoreCustomer.subscriber_id, StoreCustomer.integration_id),
        (OrderRow.subscriber_id, OrderRow.integration_id),
        (WaitlistEntry.subscriber_id, WaitlistEntry.integration_id),
        (Cart.subscriber_id, Cart.integration_id),
        (Event.subscriber_id, Event.integration_id),
    ):
        found.update(i for i in session.scalars(select(column).where(key == integration_id)) if i)
    return found


def _known_elsewhere(
    session: Session, company_id: int, integration_id: str, ids: set[int]
) -> set[int]:
    """Of ``ids``, the subscribers another source (store, API, form) also knows."""
    if not ids:
        return set()
    found: set[int] = set()
    for column, key in (
        (StoreCustomer.subscriber_id, StoreCustomer.integration_id),
        (OrderRow.subscriber_id, OrderRow.integration_id),
        (WaitlistEntry.subscriber_id, WaitlistEntry.integration_id),
        (Cart.subscriber_id, Cart.integration_id),
    ):
        found.update(session.scalars(select(column).where(column.in_(ids), key != integration_id)))
    # Events without a store came from the API or a form: a source of their own.
    found.update(
        i
        for i in session.scalars(
            select(Event.subscriber_id).where(
                Event.subscriber_id.in_(ids),
                or_(Event.integration_id.is_(None), Event.integration_id != integration_id),
            )
        )
        if i
    )
    return found


def _names(session: Session, ids: set[int]) -> set[str]:
    """The subscribers' names, to find them in raw bodies (two letters or more)."""
    names: set[str] = set()
    for first, last in session.execute(
        select(Subscriber.first_name, Subscriber.last_name).where(Subscriber.id.in_(ids))
    ):
        full = f"{first} {last}".strip()
        if len(full) > 2 and first and last:
            names.add(full.lower())
    return names


def _delete_subscribers(
    session: Session, company_id: int, ids: set[int], emails: set[str], customer_ids: set[str]
) -> None:
    """Delete the subscribers and every row that hangs off them, children first."""
    sub_ids = list(ids)
    enrollments = select(Enrollment.id).where(Enrollment.subscriber_id.in_(sub_ids))
    session.execute(delete(RecoveredOrder).where(RecoveredOrder.subscriber_id.in_(sub_ids)))
    session.execute(
        delete(RecoveredOrder).where(
            RecoveredOrder.message_id.in_(
                select(Message.id).where(Message.subscriber_id.in_(sub_ids))
            )
        )
    )
    session.execute(delete(Message).where(Message.subscriber_id.in_(sub_ids)))
    session.execute(delete(Message).where(Message.enrollment_id.in_(enrollments)))
    session.execute(delete(EnrollmentStep).where(EnrollmentStep.enrollment_id.in_(enrollments)))
    session.execute(delete(Enrollment).where(Enrollment.subscriber_id.in_(sub_ids)))
    orders = select(OrderRow.id).where(OrderRow.subscriber_id.in_(sub_ids))
    session.execute(delete(OrderLine).where(OrderLine.order_id.in_(orders)))
    session.execute(delete(OrderRow).where(OrderRow.subscriber_id.in_(sub_ids)))
    session.execute(
        delete(ReplenishmentReminder).where(ReplenishmentReminder.subscriber_id.in_(sub_ids))
    )
    session.execute(delete(WaitlistEntry).where(WaitlistEntry.subscriber_id.in_(sub_ids)))
    cart_sessions = select(Cart.session_key).where(
        or_(Cart.subscriber_id.in_(sub_ids), Cart.email.in_(emails))
    )
    session.execute(delete(CartActivity).where(CartActivity.session_key.in_(cart_sessions)))
    activity_filters = [CartActivity.email.in_(emails)]
    if customer_ids:
        activity_filters.append(CartActivity.provider_customer_id.in_(customer_ids))
    session.execute(delete(CartActivity).where(or_(*activity_filters)))
    session.execute(
        delete(Cart).where(or_(Cart.subscriber_id.in_(sub_ids), Cart.email.in_(emails)))
    )
    session.execute(delete(StoreCustomer).where(StoreCustomer.subscriber_id.in_(sub_ids)))
    session.execute(
        delete(Suppression).where(
            Suppression.company_id == company_id, Suppression.email.in_(emails)
        )
    )
    _delete_events(
        session,
        or_(
            Event.subscriber_id.in_(sub_ids),
            (Event.company_id == company_id) & Event.email.in_(emails),
        ),
    )
    session.execute(delete(Subscriber).where(Subscriber.id.in_(sub_ids)))


def _delete_events(session: Session, where: Any) -> None:
    """Events go with the enrollments (and their messages) that started from them."""
    doomed = select(Event.id).where(where)
    enrollments = select(Enrollment.id).where(Enrollment.entry_event_id.in_(doomed))
    session.execute(delete(RecoveredOrder).where(RecoveredOrder.enrollment_id.in_(enrollments)))
    session.execute(delete(Message).where(Message.enrollment_id.in_(enrollments)))
    session.execute(delete(EnrollmentStep).where(EnrollmentStep.enrollment_id.in_(enrollments)))
    session.execute(delete(Enrollment).where(Enrollment.entry_event_id.in_(doomed)))
    session.execute(delete(Event).where(where))


def _delete_exports(
    session: Session, store: StoreContext, emails: set[str], customer_ids: set[str]
) -> None:
    for row in session.scalars(
        select(DataExport).where(DataExport.integration_id == store.integration_id)
    ):
        subject = row.subject or {}
        if emails & set(subject.get("emails", [])) or customer_ids & set(
            subject.get("customerIds", [])
        ):
            session.delete(row)


# --- raw deliveries ------------------------------------------------------------------------


def _scrub_deliveries(session: Session, store: StoreContext, matches: Any) -> None:
    """Replace the body (and the error text) of every stored delivery ``matches`` picks."""
    session.flush()
    doomed = [
        delivery_id
        for delivery_id, body in session.execute(
            select(InboundDelivery.id, InboundDelivery.body)
            .where(InboundDelivery.integration_id == store.integration_id)
            .order_by(InboundDelivery.id)
        )
        if body != REDACTED_BODY and matches(body)
    ]
    for start in range(0, len(doomed), 500):
        session.execute(
            update(InboundDelivery)
            .where(InboundDelivery.id.in_(doomed[start : start + 500]))
            .values(body=REDACTED_BODY, error=None)
            .execution_options(synchronize_session="fetch")
        )


def _mentions(
    body: bytes,
    emails: set[str],
    phones: set[str],
    names: set[str],
    customer_ids: set[str],
    order_ids: set[str],
) -> bool:
    """Whether a raw body is about the shopper: any string in it is one of their
    addresses, phones or names, or it names one of their customer or order ids."""
    try:
        data = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError, RecursionError):
        text = body.decode("utf-8", "replace").lower()
        return any(value.lower() in text for value in emails | phones | names if value)
    digits = {_digits(p) for p in phones if len(_digits(p)) >= 6}
    for key, value in _leaves(data):
        if isinstance(value, str):
            low = value.strip().lower()
            if low in emails or low in names or (digits and _digits(low) in digits):
                return True
        elif isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
            if key in ("customer_id", "customer.id") and text in customer_ids:
                return True
            if key in ("order_id", "id") and text in order_ids:
                return True
            if key == "id" and text in customer_ids:
                return True
    return False


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _leaves(data: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every scalar of a JSON document with the key it is under (``customer.id`` for the
    ``id`` of a ``customer`` object)."""
    stack: list[tuple[str, Any]] = [(key, data)]
    while stack:
        name, value = stack.pop()
        if isinstance(value, dict):
            for child, inner in value.items():
                label = f"{name}.{child}" if name == "customer" else str(child)
                stack.append((label, inner))
        elif isinstance(value, list):
            stack.extend((name, inner) for inner in value)
        else:
            yield name, value


# --- export --------------------------------------------------------------------------------


def export(session: Session, store: StoreContext, rec: records.DataRequest) -> DataExport:
    """Gather what storeflow holds about the shopper into a downloadable export (once per
    request id)."""
    found = session.scalar(
        select(DataExport).where(
            DataExport.integration_id == store.integration_id,
            DataExport.request_id == rec.request_id,
        )
    )
    if found is not None:
        return found
    ids, emails = _subject(
        session, store, rec.emails, rec.provider_customer_ids, rec.provider_order_ids
    )
    row = DataExport(
        company_id=store.company_id,
        integration_id=store.integration_id,
        request_id=rec.request_id,
        subject={
            "emails": sorted(emails),
            "customerIds": sorted(rec.provider_customer_ids),
            "orderIds": sorted(rec.provider_order_ids),
        },
        data=_gather(session, ids),
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return row


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _gather(session: Session, ids: set[int]) -> dict[str, Any]:
    subs = list(session.scalars(select(Subscriber).where(Subscriber.id.in_(ids))))
    orders = list(session.scalars(select(OrderRow).where(OrderRow.subscriber_id.in_(ids))))
    lines: dict[int, list[dict[str, Any]]] = {}
    for line in session.scalars(
        select(OrderLine).where(OrderLine.order_id.in_([o.id for o in orders]))
    ):
        lines.setdefault(line.order_id, []).append(
            {
                "title": line.title,
                "sku": line.sku,
                "quantity": line.quantity,
                "priceCents": line.price_cents,
            }
        )
    return {
        "subscribers": [
            {
                "email": s.email,
                "firstName": s.first_name,
                "lastName": s.last_name,
                "status": s.status,
                "tags": s.tags,
                "attributes": s.attributes,
                "createdAt": _iso(s.created_at),
            }
            for s in subs
        ],
        "orders": [
            {
                "orderId": o.provider_order_id,
                "orderNumber": o.order_number,
                "email": o.email,
                "status": o.status,
                "totalCents": o.total_cents,
                "currency": o.currency,
                "orderedAt": _iso(o.ordered_at),
                "lines": lines.get(o.id, []),
            }
            for o in orders
        ],
        "events": [
            {"name": e.name, "occurredAt": _iso(e.occurred_at), "properties": e.properties}
            for e in session.scalars(select(Event).where(Event.subscriber_id.in_(ids)))
        ],
        "messages": [
            {"subject": m.subject, "status": m.status, "sentAt": _iso(m.sent_at)}
            for m in session.scalars(select(Message).where(Message.subscriber_id.in_(ids)))
        ],
        "waitlists": [
            {
                "productId": w.provider_product_id,
                "variantId": w.provider_variant_id,
                "status": w.status,
            }
            for w in session.scalars(
                select(WaitlistEntry).where(WaitlistEntry.subscriber_id.in_(ids))
            )
        ],
        "carts": [
            {
                "cartId": c.public_id,
                "status": c.status,
                "lines": c.line_items,
                "startedAt": _iso(c.started_at),
            }
            for c in session.scalars(select(Cart).where(Cart.subscriber_id.in_(ids)))
        ],
    }


def find_export(session: Session, company_id: int, request_id: str) -> DataExport | None:
    return session.scalar(
        select(DataExport).where(
            DataExport.company_id == company_id, DataExport.request_id == request_id
        )
    )
