"""Carts and checkouts: store activity folded into carts, their events, timers and revenue.

A store reports cart activity per shopping session (``sessionKey``): the cart's
contents at ``occurredAt``. Every activity is kept (``cart_activities``, unique per
store event id), and a session's carts are *folded* from its whole log sorted by
``occurred_at`` (:func:`fold`), never from arrival order: a duplicate changes
nothing and a late event lands where it belongs. A cart runs from its first item to
the clear (``cart_cleared``, or an update with no items) or purchase that ends it;
the next item opens a new cart. A cart row keeps the activity that created it
(``first_event_id``), so its identity (``cartId``) survives earlier activity arriving
later.

Carts follow the whole log at once; events are appended from its *settled* prefix
only, the activity at least :data:`SETTLE` old (:func:`refold`, then the
``settle_due_at`` timer swept by :func:`settle`). That prefix is complete for every
batch late by less than ``SETTLE`` and only grows at its end, so the same events are
appended whatever order such batches arrive in (ties included: :func:`order` is total).
Whose cart it is also follows from the log (:func:`shopper_of`), not from arrival.

Events (once per cart, by idempotency key), for an identified shopper only:

- ``ecommerce.cart_started`` when the cart has items and the shopper is known. A
  cart that was anonymous fires when the session identifies itself (an email at
  checkout, a login, :func:`identify` from a back-in-stock request), with the
  original ``startedAt`` in its properties. Anonymous sessions expire after the
  company's ``anonymousExpiryHours`` (72) of inactivity and are deleted.
- ``ecommerce.checkout_started`` once per cart, with ``checkoutUrl``.
- ``ecommerce.cart_cleared`` when a started cart is emptied or bought (``reason``).
- ``ecommerce.cart_abandoned`` once per cart after ``abandonAfterMinutes`` (60) without
  activity (any update restarts the timer), unless the cart ended or the shopper
  ordered since the cart started, and at most once per subscriber per
  ``cooldownHours`` (24): two tabs, one email. Fired by :func:`sweep_abandoned`.

Purchase wins (:data:`CART_RECOVERY`, an event consumer on ``ecommerce.order_placed``):
the buyer's open carts (matched by subscriber and by the store's customer id) get a
``converted`` activity, which ends them like a clear: their abandonment is cancelled
and a ``cart_cleared`` (``reason: purchased``) stops recovery sequences that started
on them, also when the order's webhook arrived after the abandonment fired. The
order's revenue is attributed to the latest recovery email sent within
``attributionWindowHours`` (120) before it (:func:`recovered_revenue`). The consumer runs
for every live order, so what it asks of a company (open carts? recovery sequences?
settings) is remembered per transaction: a store without either costs no query per order.

Functions take a session and never commit.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.commerce import events, records, subscribers
from storeflow.core.commerce.freshness import Outcome
from storeflow.core.emails import usable_email
from storeflow.core.storage import memo
from storeflow.core.storage.tables import (
    Cart,
    CartActivity,
    Company,
    Event,
    Integration,
    Message,
    ProductRow,
    RecoveredOrder,
    StoreCustomer,
    Subscriber,
    VariantRow,
)
from storeflow.core.storage.tables import (
    Sequence as SequenceRow,
)
from storeflow.core.storage.upsert import insert_ignore
from storeflow.core.stores import integrations
from storeflow.core.stores.provider import StoreContext

if TYPE_CHECKING:
    from storeflow.core.runtime import Runtime

# The stored delivery's topic for a batch of plugin cart events.
EVENTS_TOPIC = "plugin.events"
# Sequences started by these are recovery sequences: their emails can win revenue back.
RECOVERY_TRIGGERS = (
    "ecommerce.cart_started",
    "ecommerce.checkout_started",
    "ecommerce.cart_abandoned",
)
# A store clock a little ahead is tolerated; further ahead would hold timers back.
MAX_CLOCK_SKEW = timedelta(minutes=5)
SWEEP_BATCH = 500
# Events are appended only from the part of a session's log at least this old: batches
# late by less (plugin queues, retries) are in before anything after them is appended,
# so any arrival order of them appends the same events (docs/decisions.md).
SETTLE = timedelta(minutes=2)
SETTINGS_KEY = "cartRecovery"


# --- settings ------------------------------------------------------------------------------


@attrs.frozen
class CartSettings:
    abandon_after_minutes: int = 60
    cooldown_hours: int = 24
    anonymous_expiry_hours: int = 72
    attribution_window_hours: int = 120

    @property
    def abandon_after(self) -> timedelta:
        return timedelta(minutes=self.abandon_after_minutes)

    @property
    def cooldown(self) -> timedelta:
        return timedelta(hours=self.cooldown_hours)

    @property
    def anonymous_expiry(self) -> timedelta:
        return timedelta(hours=self.anonymous_expiry_hours)

    @property
    def attribution_window(self) -> timedelta:
        return timedelta(hours=self.attribution_window_hours)

    def to_json(self) -> dict[str, int]:
        return {
            "abandonAfterMinutes": self.abandon_after_minutes,
            "cooldownHours": self.cooldown_hours,
            "anonymousExpiryHours": self.anonymous_expiry_hours,
            "attributionWindowHours": self.attribution_window_hours,
        }


_LIMITS = {  # wire key -> (field, lowest, highest)
    "abandonAfterMinutes": ("abandon_after_minutes", 1, 60 * 24 * 30),
    "cooldownHours": ("cooldown_hours", 0, 24 * 365),
    "anonymousExpiryHours": ("anonymous_expiry_hours", 1, 24 * 365),
    "attributionWindowHours": ("attribution_window_hours", 0, 24 * 365),
}


class InvalidSettings(ValueError):
    def __init__(self, details: list[dict[str, str]]) -> None:
        super().__init__(details[0]["message"])
        self.details = details


def parse_settings(data: Any) -> CartSettings:
    """Validate ``{abandonAfterMinutes, cooldownHours, ...}``; omitted keys take defaults."""
    if not isinstance(data, dict):
        raise InvalidSettings([{"path": "$", "message": "expected an object"}])
    problems = []
    values: dict[str, int] = {}
    for key, value in data.items():
        if key not in _LIMITS:
            problems.append({"path": f"$.{key}", "message": "unknown setting"})
            continue
        name, low, high = _LIMITS[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            problems.append({"path": f"$.{key}", "message": f"expected an integer {low}-{high}"})
            continue
        values[name] = value
    if problems:
        raise InvalidSettings(problems)
    return CartSettings(**values)


def settings_for(company: Company | None) -> CartSettings:
    stored = (company.settings or {}).get(SETTINGS_KEY) if company is not None else None
    try:
        return parse_settings(stored or {})
    except InvalidSettings:
        return CartSettings()  # never let a bad stored value stop the timers


# --- recording (the request) ----------------------------------------------------------------


@attrs.frozen
class Recorded:
    accepted: int
    duplicates: int


def record(
    session: Session, store: StoreContext, activities: Sequence[records.CartActivity]
) -> Recorded:
    """Keep each activity once per store event id; duplicates (also within the batch) count."""
    accepted = duplicates = 0
    now = clock.now()
    for act in activities:
        row_id = insert_ignore(
            session, CartActivity.__table__, _activity_row(store, act, now), None
        )
        if row_id is None:
            duplicates += 1
        else:
            accepted += 1
    return Recorded(accepted, duplicates)


def _activity_row(store: StoreContext, act: records.CartActivity, now: datetime) -> dict[str, Any]:
    total = act.total.minor if act.total is not None else None
    return {
        "company_id": store.company_id,
        "integration_id": store.integration_id,
        "event_id": act.event_id,
        "type": act.type,
        "session_key": act.session_key,
        "occurred_at": min(act.occurred_at, now + MAX_CLOCK_SKEW),
        "email": usable_email(act.email) if act.email else None,
        "provider_customer_id": act.provider_customer_id,
        "payload": {
            "lines": [
                {
                    "productId": line.provider_product_id,
                    "variantId": line.provider_variant_id,
                    "quantity": line.quantity,
                    "lineTotalCents": line.line_total.minor if line.line_total else None,
                    "name": line.title,
                }
                for line in act.lines
            ],
            "totalCents": total,
            "currency": act.currency or store.currency,
            "checkoutUrl": act.checkout_url,
        },
        "received_at": now,
    }


# --- applying (the worker) ------------------------------------------------------------------


def apply(
    session: Session, store: StoreContext, provider: str, activities: Sequence[records.CartActivity]
) -> list[Outcome]:
    """Record the activities (again: a replay is harmless) and refold their sessions."""
    record(session, store, activities)
    for key in dict.fromkeys(act.session_key for act in activities):
        refold(session, store, provider, key)
    return ["upserted"] * len(activities)


def identify(
    session: Session,
    store: StoreContext,
    provider: str,
    session_key: str,
    email: str,
    *,
    occurred_at: datetime,
    source: str,
) -> bool:
    """The session's shopper is ``email`` (a login, a back-in-stock request from that
    session): its carts are attached to them. Returns whether the email was usable."""
    address = usable_email(email)
    if not address or not session_key:
        return False
    insert_ignore(
        session,
        CartActivity.__table__,
        {
            "company_id": store.company_id,
            "integration_id": store.integration_id,
            "event_id": f"identify:{source}:{address}:{_digest(session_key)}"[:200],
            "type": "identified",
            "session_key": session_key,
            "occurred_at": occurred_at,
            "email": address,
            "provider_customer_id": None,
            "payload": {"source": source},
            "received_at": clock.now(),
        },
        None,
    )
    refold(session, store, provider, session_key)
    return True


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- the fold -------------------------------------------------------------------------------


@attrs.frozen
class Step:
    """What the fold reads of one stored activity."""

    event_id: str
    type: str
    occurred_at: datetime
    received_at: datetime
    email: str | None = None
    customer_id: str | None = None
    lines: tuple[dict[str, Any], ...] = ()
    total_cents: int | None = None
    currency: str | None = None
    checkout_url: str | None = None
    order_id: str | None = None


# Where a step sits in a session's log: a total order, so ties never depend on arrival.
Key = tuple[datetime, int, str]


@attrs.define
class Cycle:
    """One cart of the session, as the sorted log says it went."""

    event_ids: list[str]
    first_key: Key
    started_at: datetime
    last_activity_at: datetime
    lines: tuple[dict[str, Any], ...]
    total_cents: int | None
    currency: str | None
    checkout_url: str | None = None
    checkout_at: datetime | None = None
    ended_at: datetime | None = None
    ended_key: Key | None = None
    ended_how: str | None = None  # cleared | converted
    ended_learned_at: datetime | None = None
    order_id: str | None = None


@attrs.frozen
class Folded:
    cycles: tuple[Cycle, ...]
    steps: tuple[Step, ...]  # in log order (:func:`order`)
    customer_id: str | None  # the latest store account the session named
    last_activity_at: datetime | None


_RANK = {"converted": 0, "cart_cleared": 1}


def order(step: Step) -> Key:
    """``occurredAt``, then at the same instant a purchase, then a clear, before anything
    else (it ends the cart the instant's other activity belongs after; a purchase says
    more than the emptied cart that follows it), then the event id."""
    return (step.occurred_at, _RANK.get(step.type, 2), step.event_id)


def _ends(step: Step) -> bool:
    return step.type in ("cart_cleared", "converted") or (
        step.type in ("cart_started", "cart_updated") and not step.lines
    )


def fold(steps: Iterable[Step]) -> Folded:
    """The session's carts from its activity log, whatever order it arrived in.

    Adding steps after the last one (in :func:`order`) only extends what an earlier fold
    found, which is what makes the events appended from a settled prefix final.
    """
    ordered = tuple(sorted(steps, key=order))
    cycles: list[Cycle] = []
    current: Cycle | None = None
    customer: str | None = None
    last: datetime | None = None
    for step in ordered:
        last = step.occurred_at if last is None else max(last, step.occurred_at)
        customer = step.customer_id or customer
        if _ends(step):
            if current is not None:
                current.ended_at = step.occurred_at
                current.ended_key = order(step)
                current.ended_how = "converted" if step.type == "converted" else "cleared"
                current.ended_learned_at = step.received_at
                current.order_id = step.order_id
                current.event_ids.append(step.event_id)
                cycles.append(current)
                current = None
            continue
        if step.type == "identified" or not step.lines:
            if current is not None and step.type == "checkout_started":
                _checkout(current, step)
            continue
        if current is None:
            current = Cycle(
                event_ids=[],
                first_key=order(step),
                started_at=step.occurred_at,
                last_activity_at=step.occurred_at,
                lines=step.lines,
                total_cents=step.total_cents,
                currency=step.currency,
            )
        current.event_ids.append(step.event_id)
        current.last_activity_at = step.occurred_at
        current.lines = step.lines
        current.total_cents = step.total_cents
        current.currency = step.currency or current.currency
        if step.type == "checkout_started":
            _checkout(current, step)
        elif step.checkout_url:
            current.checkout_url = step.checkout_url
    if current is not None:
        cycles.append(current)
    return Folded(tuple(cycles), ordered, customer, last)


def _checkout(cycle: Cycle, step: Step) -> None:
    cycle.checkout_at = cycle.checkout_at or step.occurred_at
    cycle.checkout_url = step.checkout_url or cycle.checkout_url
    cycle.last_activity_at = max(cycle.last_activity_at, step.occurred_at)


def _steps(session: Session, integration_id: str, session_key: str) -> list[Step]:
    rows = session.scalars(
        select(CartActivity).where(
            CartActivity.integration_id == integration_id,
            CartActivity.session_key == session_key,
        )
    )
    found = []
    for row in rows:
        payload = row.payload or {}
        found.append(
            Step(
                event_id=row.event_id,
                type=row.type,
                occurred_at=row.occurred_at,
                received_at=row.received_at,
                email=row.email,
                customer_id=row.provider_customer_id,
                lines=tuple(payload.get("lines") or ()),
                total_cents=payload.get("totalCents"),
                currency=payload.get("currency"),
                checkout_url=payload.get("checkoutUrl"),
                order_id=payload.get("orderId"),
            )
        )
    return found


# --- who a cart belongs to -------------------------------------------------------------------


@attrs.frozen
class _Identity:
    """A step that named the shopper: an email, or a store account linked to one."""

    key: Key
    at: datetime
    subscriber_id: int
    email: str


@attrs.frozen
class _Shopper:
    subscriber_id: int
    email: str
    identified_at: datetime


class _Identities:
    """The identity steps of a session's log, resolved once per refold."""

    def __init__(self, session: Session, store: StoreContext) -> None:
        self._session = session
        self._store = store
        self._emails: dict[str, tuple[int, str]] = {}
        self._accounts: dict[str, tuple[int, str] | None] = {}

    def of(self, steps: Sequence[Step]) -> list[_Identity]:
        found = []
        for step in steps:
            who = self._email(step.email) if step.email else None
            if who is None and step.customer_id:
                who = self._account(step.customer_id)
            if who is not None:
                found.append(_Identity(order(step), step.occurred_at, *who))
        return found

    def _email(self, address: str) -> tuple[int, str]:
        if address not in self._emails:
            sub = subscribers.upsert(self._session, self._store.company_id, address)
            self._emails[address] = (sub.id, sub.email)
        return self._emails[address]

    def _account(self, customer_id: str) -> tuple[int, str] | None:
        """The subscriber of the store's customer account (a login names the shopper)."""
        if customer_id not in self._accounts:
            subscriber_id = self._session.scalar(
                select(StoreCustomer.subscriber_id).where(
                    StoreCustomer.integration_id == self._store.integration_id,
                    StoreCustomer.provider_customer_id == customer_id,
                    StoreCustomer.deleted.is_(False),
                )
            )
            sub = self._session.get(Subscriber, subscriber_id) if subscriber_id else None
            self._accounts[customer_id] = (sub.id, sub.email) if sub is not None else None
        return self._accounts[customer_id]


def shopper_of(cycle: Cycle, identities: Sequence[_Identity]) -> _Shopper | None:
    """Whose cart it is: the latest identity given up to its first item (known from the
    start), else the first one given before it ended (known from then on). A cart
    emptied or bought before anyone said whose it was belongs to nobody."""
    before = [i for i in identities if i.key <= cycle.first_key]
    if before:
        return _Shopper(before[-1].subscriber_id, before[-1].email, cycle.started_at)
    for identity in identities:
        if cycle.ended_key is not None and identity.key > cycle.ended_key:
            break
        if identity.key > cycle.first_key:
            return _Shopper(identity.subscriber_id, identity.email, identity.at)
    return None


# --- reconciling the fold with the carts and the event log ------------------------------------


def refold(session: Session, store: StoreContext, provider: str, session_key: str) -> None:
    """Bring the session's carts and timers in line with its whole log, and append the
    events of its settled part (:data:`SETTLE`)."""
    steps = _steps(session, store.integration_id, session_key)
    folded = fold(steps)
    if not folded.cycles:
        return
    settings = company_settings(session, store.company_id)
    identities = _Identities(session, store)
    known = identities.of(folded.steps)
    rows = list(
        session.scalars(
            select(Cart)
            .where(Cart.integration_id == store.integration_id, Cart.session_key == session_key)
            .order_by(Cart.id)
        )
    )
    by_first = {row.first_event_id: row for row in rows}
    by_event: dict[str, Cart] = {}
    latest = folded.cycles[-1]
    for cycle in folded.cycles:
        row = next((by_first[e] for e in cycle.event_ids if e in by_first), None)
        if row is None:
            row = _new_cart(session, store, session_key, cycle)
            by_first[row.first_event_id] = row
        by_event.update(dict.fromkeys(cycle.event_ids, row))
        _update(session, store, provider, row, cycle, shopper_of(cycle, known), folded)
        _arm(row, cycle is latest, settings, folded)
    # A cart may have opened (or been identified): the next order must look again.
    memo.forget(session, _OPEN_MEMO)
    _emit_settled(session, store, provider, steps, identities, by_event)


def _emit_settled(
    session: Session,
    store: StoreContext,
    provider: str,
    steps: Sequence[Step],
    identities: _Identities,
    by_event: dict[str, Cart],
) -> None:
    """Append the events of the log's settled prefix and time the next settling.

    The prefix up to ``now - SETTLE`` is complete for every batch late by less than
    :data:`SETTLE`, and a prefix only grows at its end, so what it appends is what
    any arrival order of those batches appends.
    """
    watermark = clock.now() - SETTLE
    settled = fold(s for s in steps if s.occurred_at <= watermark)
    known = identities.of(settled.steps)
    for cycle in settled.cycles:
        row = by_event.get(cycle.event_ids[0])
        shopper = shopper_of(cycle, known)
        if row is not None and shopper is not None:
            _emit(session, store, provider, row, cycle, shopper)
    pending = [s.occurred_at for s in steps if s.occurred_at > watermark]
    due = min(pending) + SETTLE if pending else None
    rows = sorted({id(r): r for r in by_event.values()}.values(), key=lambda r: r.id)
    for row in rows:
        # One timer per session, on its newest cart: the sweep refolds the session.
        row.settle_due_at = due if row is rows[-1] else None


def _new_cart(session: Session, store: StoreContext, session_key: str, cycle: Cycle) -> Cart:
    row = Cart(
        company_id=store.company_id,
        integration_id=store.integration_id,
        public_id=secrets.token_hex(10),
        session_key=session_key,
        first_event_id=cycle.event_ids[0],
        status="open",
        started_at=cycle.started_at,
        last_activity_at=cycle.last_activity_at,
        line_items=[],
    )
    session.add(row)
    session.flush()
    return row


def _update(
    session: Session,
    store: StoreContext,
    provider: str,
    row: Cart,
    cycle: Cycle,
    shopper: _Shopper | None,
    folded: Folded,
) -> None:
    items = enrich(session, store, provider, cycle.lines, cycle.currency)
    row.line_items = items
    row.currency = (cycle.currency or store.currency)[:3]
    row.total_cents = (
        cycle.total_cents
        if cycle.total_cents is not None
        else sum(int(item["totalCents"] or 0) for item in items)
    )
    row.started_at = cycle.started_at
    row.last_activity_at = cycle.last_activity_at
    row.checkout_started_at = cycle.checkout_at
    row.checkout_url = cycle.checkout_url[:2000] if cycle.checkout_url else None
    row.ended_at = cycle.ended_at
    row.converted_order_id = cycle.order_id
    row.status = (
        "open"
        if cycle.ended_how is None
        else ("converted" if cycle.ended_how == "converted" else "cleared")
    )
    # Recomputed from the log every time: the owner does not depend on arrival order.
    row.subscriber_id = shopper.subscriber_id if shopper is not None else None
    row.email = shopper.email if shopper is not None else None
    row.identified_at = shopper.identified_at if shopper is not None else None
    row.provider_customer_id = folded.customer_id


def _arm(row: Cart, is_latest: bool, settings: CartSettings, folded: Folded) -> None:
    """Set the timers from the row's state: each runs only while it can still fire."""
    can_abandon = (
        is_latest
        and row.status == "open"
        and row.subscriber_id is not None
        and row.abandoned_at is None
        and row.abandon_skipped is None
    )
    row.abandon_due_at = row.last_activity_at + settings.abandon_after if can_abandon else None
    last = folded.last_activity_at
    anonymous = row.subscriber_id is None and is_latest and last is not None
    row.expires_at = last + settings.anonymous_expiry if anonymous and last else None


def _key(row: Cart, what: str) -> str:
    return f"{row.integration_id}:cart:{row.public_id}:{what}"


def _emit(
    session: Session,
    store: StoreContext,
    provider: str,
    row: Cart,
    cycle: Cycle,
    shopper: _Shopper,
) -> None:
    """The cycle's events (once each, by key), dated from the settled log alone."""
    ref = _Ref(shopper.subscriber_id, shopper.email)
    base = properties(row, provider, store.store_url)
    started = shopper.identified_at
    _append(session, store, provider, row, ref, "ecommerce.cart_started", "started", started, base)
    if cycle.checkout_at is not None:
        at = max(cycle.checkout_at, started)
        _append(
            session, store, provider, row, ref, "ecommerce.checkout_started", "checkout", at, base
        )
    if cycle.ended_at is not None:
        extra: dict[str, Any] = {
            "reason": "purchased" if cycle.ended_how == "converted" else "emptied"
        }
        at = cycle.ended_at
        if cycle.ended_how == "converted":
            extra["orderId"] = cycle.order_id
            # Known only now: a recovery run that started since must still see it.
            at = max(at, cycle.ended_learned_at or at)
        _append(
            session,
            store,
            provider,
            row,
            ref,
            "ecommerce.cart_cleared",
            "cleared",
            at,
            {**base, **extra},
        )


@attrs.frozen
class _Ref:
    id: int
    email: str


def _append(
    session: Session,
    store: StoreContext,
    provider: str,
    row: Cart,
    ref: _Ref,
    name: records.EventName,
    what: str,
    at: datetime,
    props: dict[str, Any],
) -> int | None:
    return events.append(
        session,
        company_id=store.company_id,
        name=name,
        key=_key(row, what),
        occurred_at=at,
        subscriber=ref,
        properties=props,
        provider=provider,
        integration_id=store.integration_id,
    )


def properties(row: Cart, provider: str, store_url: str) -> dict[str, Any]:
    """The contract's cart event properties (plus when it started and how to resume it)."""
    cart_page = f"{store_url.rstrip('/')}/cart/" if store_url else None
    return {
        "cartId": row.public_id,
        "provider": provider,
        "lineItems": row.line_items or [],
        "itemCount": sum(int(item.get("quantity") or 0) for item in row.line_items or []),
        "totalCents": row.total_cents,
        "currency": row.currency,
        "checkoutUrl": row.checkout_url,
        # Where the recovery email's "resume" button goes.
        "cartUrl": row.checkout_url or cart_page,
        "startedAt": row.started_at.isoformat(),
        "lastActivityAt": row.last_activity_at.isoformat(),
        "identifiedAt": row.identified_at.isoformat() if row.identified_at else None,
        "wasAnonymous": bool(row.identified_at and row.identified_at > row.started_at),
        "customerId": row.provider_customer_id,
    }


def enrich(
    session: Session,
    store: StoreContext,
    provider: str,
    lines: Sequence[dict[str, Any]],
    currency: str | None,
) -> list[dict[str, Any]]:
    """The cart's lines with titles, images, prices and URLs from the synced catalogue."""
    product_ids = {str(line.get("productId")) for line in lines}
    variant_ids = {str(line.get("variantId") or line.get("productId")) for line in lines}
    products = (
        {
            row.provider_product_id: row
            for row in session.scalars(
                select(ProductRow).where(
                    ProductRow.integration_id == store.integration_id,
                    ProductRow.provider_product_id.in_(sorted(product_ids)),
                )
            )
        }
        if product_ids
        else {}
    )
    variants = (
        {
            row.provider_variant_id: row
            for row in session.scalars(
                select(VariantRow).where(
                    VariantRow.integration_id == store.integration_id,
                    VariantRow.provider_variant_id.in_(sorted(variant_ids)),
                )
            )
        }
        if variant_ids
        else {}
    )
    items = []
    for line in lines:
        pid = str(line.get("productId"))
        vid = str(line.get("variantId") or pid)
        product = products.get(pid)
        variant = variants.get(vid)
        quantity = int(line.get("quantity") or 0)
        line_total = line.get("lineTotalCents")
        price = (variant.price_cents if variant is not None else None) or (
            product.price_cents if product is not None else None
        )
        if price is None and line_total is not None and quantity:
            price = int(line_total) // quantity
        items.append(
            {
                "provider": provider,
                "providerProductId": pid,
                "providerVariantId": vid,
                "title": (product.title if product is not None and product.title else "")
                or str(line.get("name") or ""),
                "variantTitle": variant.title if variant is not None and vid != pid else "",
                "quantity": quantity,
                "priceCents": price,
                "totalCents": int(line_total)
                if line_total is not None
                else (price * quantity if price is not None else None),
                "currency": currency or store.currency,
                "sku": variant.sku if variant is not None else "",
                "imageUrl": (variant.image_url if variant is not None else None)
                or (product.image_url if product is not None else None),
                "url": product.url if product is not None else None,
            }
        )
    return items


# --- timers (sweeps) ---------------------------------------------------------------------------


def sweep_abandoned(rt: Runtime, session: Session) -> None:
    """Fire ``cart_abandoned`` for the carts whose inactivity timer is due.

    Reads only due rows (``ix_carts_abandon_due_at``): the cost follows what is due.
    """
    now = clock.now()
    settle(session, now)
    # A timer restarted by activity still in flight (less than SETTLE late) must wait.
    due = list(
        session.scalars(
            select(Cart)
            .where(Cart.abandon_due_at <= now - SETTLE)
            .order_by(Cart.abandon_due_at, Cart.id)
            .limit(SWEEP_BATCH)
        )
    )
    companies: dict[int, CartSettings] = {}
    for row in due:
        settings = companies.get(row.company_id)
        if settings is None:
            settings = companies[row.company_id] = settings_for(
                session.get(Company, row.company_id)
            )
        _abandon(session, row, settings)


def settle(session: Session, now: datetime) -> int:
    """Refold the sessions whose log has a part that settled since their last fold
    (``ix_carts_settle_due_at``), which appends its events; returns how many."""
    due = session.execute(
        select(Cart.integration_id, Cart.session_key)
        .where(Cart.settle_due_at <= now)
        .order_by(Cart.settle_due_at)
        .limit(SWEEP_BATCH)
    ).all()
    for integration_id, session_key in due:
        store_row = session.get_one(Integration, integration_id)
        refold(session, integrations.context(store_row), store_row.provider, session_key)
    return len(due)


def _abandon(session: Session, row: Cart, settings: CartSettings) -> bool:
    due = row.abandon_due_at
    row.abandon_due_at = None
    if due is None or row.status != "open" or row.subscriber_id is None or row.abandoned_at:
        return False
    ordered = session.scalar(
        select(Event.id)
        .where(
            Event.subscriber_id == row.subscriber_id,
            Event.name == "ecommerce.order_placed",
            Event.occurred_at >= row.started_at,
        )
        .limit(1)
    )
    if ordered is not None:
        row.abandon_skipped = f"ordered since the cart started (event {ordered})"
        return False
    recent = session.scalar(
        select(Cart.public_id)
        .where(
            Cart.subscriber_id == row.subscriber_id,
            Cart.id != row.id,
            Cart.abandoned_at.is_not(None),
            Cart.abandoned_at > due - settings.cooldown,
        )
        .limit(1)
    )
    if recent is not None:
        row.abandon_skipped = (
            f"cooldown: cart {recent} was abandoned less than {settings.cooldown_hours} h before"
        )
        return False
    integration = session.get_one(Integration, row.integration_id)
    props = {
        **properties(row, integration.provider, integration.store_url),
        "abandonedAt": due.isoformat(),
        "inactiveMinutes": settings.abandon_after_minutes,
    }
    row.abandoned_at = due
    events.append(
        session,
        company_id=row.company_id,
        name="ecommerce.cart_abandoned",
        key=_key(row, "abandoned"),
        occurred_at=due,
        subscriber=_Ref(row.subscriber_id, row.email or ""),
        properties=props,
        provider=integration.provider,
        integration_id=row.integration_id,
    )
    return True


def sweep_expired(rt: Runtime, session: Session) -> None:
    """Delete anonymous sessions idle past their expiry (carts and activity)."""
    now = clock.now()
    due = list(
        session.execute(
            select(Cart.id, Cart.integration_id, Cart.session_key)
            .where(Cart.expires_at <= now)
            .order_by(Cart.expires_at)
            .limit(SWEEP_BATCH)
        )
    )
    for cart_id, integration_id, session_key in due:
        identified = session.scalar(
            select(func.count())
            .select_from(Cart)
            .where(
                Cart.integration_id == integration_id,
                Cart.session_key == session_key,
                Cart.subscriber_id.is_not(None),
            )
        )
        if identified:
            session.get_one(Cart, cart_id).expires_at = None
            continue
        for table in (Cart, CartActivity):
            session.execute(
                delete(table)
                .where(table.integration_id == integration_id, table.session_key == session_key)
                .execution_options(synchronize_session=False)
            )


# --- purchase wins ---------------------------------------------------------------------------


class CartRecovery:
    """The event consumer: an order ends the buyer's carts and may be recovered revenue."""

    name = "carts"

    def on_event(self, rt: Runtime, session: Session, event: Event) -> None:
        if event.name != "ecommerce.order_placed" or not event.live or event.subscriber_id is None:
            return
        # Runs for every live order: the checks below are remembered per transaction,
        # so a store without open carts or recovery sequences costs no query per order.
        if has_open_carts(session, event.company_id):
            convert(session, event)
        if recovery_sequences(session, event.company_id):
            attribute(session, event)


CART_RECOVERY = CartRecovery()

# Per-transaction answers (storeflow.core.storage.memo); refold forgets _OPEN_MEMO.
_OPEN_MEMO = "carts.open"
_MEMO = "carts.company"


def company_settings(session: Session, company_id: int) -> CartSettings:
    """The company's cart settings, read once per transaction."""
    return memo.per_transaction(
        session,
        (_MEMO, "settings", company_id),
        lambda: settings_for(session.get(Company, company_id)),
    )


def has_open_carts(session: Session, company_id: int) -> bool:
    """Whether an order of the company can end a cart (``ix_carts_company_status``)."""

    def compute() -> bool:
        found = session.scalar(
            select(Cart.id)
            .where(
                Cart.company_id == company_id,
                Cart.status == "open",
                Cart.subscriber_id.is_not(None),
            )
            .limit(1)
        )
        return found is not None

    return memo.per_transaction(session, (_OPEN_MEMO, company_id), compute)


def recovery_sequences(session: Session, company_id: int) -> tuple[int, ...]:
    """Ids of the company's sequences whose emails can win revenue back."""
    return memo.per_transaction(
        session,
        (_MEMO, "recovery", company_id),
        lambda: tuple(
            session.scalars(
                select(SequenceRow.id)
                .where(
                    SequenceRow.company_id == company_id,
                    SequenceRow.trigger_event.in_(RECOVERY_TRIGGERS),
                )
                .order_by(SequenceRow.id)
            )
        ),
    )


def convert(session: Session, event: Event) -> int:
    """End the buyer's carts started before the order (by subscriber, and by the store's
    customer id when the order names one); returns how many."""
    props = event.properties or {}
    order_id = str(props.get("orderId") or event.id)
    customer_id = props.get("customerId")
    match = Cart.subscriber_id == event.subscriber_id
    if customer_id and event.integration_id:
        match = match | (
            (Cart.integration_id == event.integration_id)
            & (Cart.provider_customer_id == str(customer_id))
        )
    carts = list(
        session.scalars(
            select(Cart).where(
                Cart.company_id == event.company_id,
                Cart.status == "open",
                Cart.started_at <= event.occurred_at,
                match,
            )
        )
    )
    now = clock.now()
    for row in carts:
        store_row = session.get_one(Integration, row.integration_id)
        insert_ignore(
            session,
            CartActivity.__table__,
            {
                "company_id": row.company_id,
                "integration_id": row.integration_id,
                "event_id": f"order:{order_id}:{_digest(row.session_key)}"[:200],
                "type": "converted",
                "session_key": row.session_key,
                "occurred_at": event.occurred_at,
                "email": None,
                "provider_customer_id": None,
                "payload": {"orderId": order_id},
                "received_at": now,
            },
            None,
        )
        refold(session, integrations.context(store_row), store_row.provider, row.session_key)
    return len(carts)


def attribute(session: Session, event: Event) -> RecoveredOrder | None:
    """Credit the order to the latest recovery email sent within the window before it."""
    props = event.properties or {}
    total, currency, order_id = props.get("totalCents"), props.get("currency"), props.get("orderId")
    if not isinstance(total, int) or not currency or not order_id or not event.integration_id:
        return None
    sequence_ids = recovery_sequences(session, event.company_id)
    if not sequence_ids:
        return None
    settings = company_settings(session, event.company_id)
    # By the buyer (indexed): their few messages, not the company's.
    message = session.execute(
        select(Message.id, Message.enrollment_id, Message.sequence_id, Message.sent_at)
        .where(
            Message.subscriber_id == event.subscriber_id,
            Message.status == "sent",
            Message.channel == "email",
            Message.sent_at <= event.occurred_at,
            Message.sent_at >= event.occurred_at - settings.attribution_window,
            Message.sequence_id.in_(sequence_ids),
        )
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(1)
    ).first()
    if message is None:
        return None
    insert_ignore(
        session,
        RecoveredOrder.__table__,
        {
            "company_id": event.company_id,
            "integration_id": event.integration_id,
            "provider_order_id": str(order_id),
            "sequence_id": message.sequence_id,
            "enrollment_id": message.enrollment_id,
            "message_id": message.id,
            "subscriber_id": event.subscriber_id,
            "total_cents": total,
            "currency": str(currency)[:3],
            "ordered_at": event.occurred_at,
            "email_sent_at": message.sent_at,
            "created_at": clock.now(),
        },
        ["integration_id", "provider_order_id"],
    )
    return session.scalar(
        select(RecoveredOrder).where(
            RecoveredOrder.integration_id == event.integration_id,
            RecoveredOrder.provider_order_id == str(order_id),
        )
    )


def recovered_revenue(session: Session, sequence_id: int) -> dict[str, Any]:
    """``{orders, revenue: [{currency, totalCents}]}`` attributed to the sequence."""
    rows = session.execute(
        select(RecoveredOrder.currency, func.count(), func.sum(RecoveredOrder.total_cents))
        .where(RecoveredOrder.sequence_id == sequence_id)
        .group_by(RecoveredOrder.currency)
        .order_by(RecoveredOrder.currency)
    ).all()
    return {
        "orders": sum(int(count) for _c, count, _t in rows),
        "revenue": [{"currency": c, "totalCents": int(t or 0)} for c, _n, t in rows],
    }


def cart_json(row: Cart) -> dict[str, Any]:
    return {
        "cartId": row.public_id,
        "integrationId": row.integration_id,
        "status": row.status,
        "email": row.email,
        "lineItems": row.line_items or [],
        "totalCents": row.total_cents,
        "currency": row.currency,
        "checkoutUrl": row.checkout_url,
        "startedAt": row.started_at.isoformat(),
        "lastActivityAt": row.last_activity_at.isoformat(),
        "identifiedAt": row.identified_at.isoformat() if row.identified_at else None,
        "abandonDueAt": row.abandon_due_at.isoformat() if row.abandon_due_at else None,
        "abandonedAt": row.abandoned_at.isoformat() if row.abandoned_at else None,
        "abandonSkipped": row.abandon_skipped,
        "convertedOrderId": row.converted_order_id,
    }
