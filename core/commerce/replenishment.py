"""Replenishment reminders: per-product settings, scheduling from live orders, the due sweep.

A product's setting (``enabled``, ``days``, ``match``: ``product`` | ``variant``,
``multiplyByQuantity``) says when a buyer will need it again. A *live*
``ecommerce.order_placed`` with a line item of an enabled product schedules one
reminder per (store, subscriber, key), the key being ``product:<id>`` or
``variant:<id>`` per the match setting, due at the order time plus ``days`` (times
the quantity bought when ``multiplyByQuantity`` is on). Historical orders (store
sync) never reach here: only live events are handed to consumers.

One pending reminder per key, due from the newest purchase: a newer purchase
*supersedes* the pending one (kept, not deleted, so that cancelling the newer order
can put the older one back); an older purchase that arrives late is stored already
superseded. A cancelled, failed or fully refunded order cancels the reminders it
scheduled.

The sweep (:func:`sweep`, registered by ``storeflow.core.builtins``) fires the due
ones in due order and in batches through the one event path
(:func:`storeflow.core.commerce.events.append`), each under the idempotency key
``replenishment:<reminder id>``, so a reminder fires exactly once however often the
sweep runs, and one that fell due while no worker ran fires on the next sweep. It
reads the partial index of pending reminders by due time, so its cost follows what
is due, not what is pending.

``suggestedDays`` (:func:`suggestions`) is the median number of days between a
subscriber's consecutive purchases of the same product (or variant, per the match
setting), over every subscriber's counted orders, historical ones included; it is
shown, never applied.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import attrs
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.commerce import events
from storeflow.core.commerce.records import EventName
from storeflow.core.errors import ValidationFailed
from storeflow.core.statuses import ORDER_COUNTED
from storeflow.core.storage import memo
from storeflow.core.storage.locks import lock_subscriber
from storeflow.core.storage.tables import (
    Event,
    OrderLine,
    OrderRow,
    ProductRow,
    ReplenishmentReminder,
    ReplenishmentSetting,
    Subscriber,
    VariantRow,
)

if TYPE_CHECKING:
    from storeflow.core.runtime import Runtime

Match = Literal["product", "variant"]
MATCHES: tuple[Match, ...] = ("product", "variant")
MIN_DAYS, MAX_DAYS = 1, 730
# ``days x quantity`` stops here: ten years is "never" for a reminder.
MAX_SCALED_DAYS = 3650
DUE_EVENT: EventName = "ecommerce.replenishment_due"
# Purchases of the same key closer than this are one purchase (a split or corrected
# order), not an interval the learned suggestion should count.
SAME_PURCHASE = timedelta(days=1)


# --- settings ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Setting:
    enabled: bool = False
    days: int | None = None
    match: Match = "product"
    multiply_by_quantity: bool = False


DEFAULT = Setting()
_KEYS = {"enabled", "days", "match", "multiplyByQuantity"}


def parse_setting(data: Any) -> Setting:
    """The PUT body, or :class:`ValidationFailed` listing every problem with its path.

    ``enabled`` is required; ``days`` (1 to 730) is required when enabled; omitted
    ``match`` and ``multiplyByQuantity`` take their defaults (``product``, false).
    """
    if not isinstance(data, dict):
        raise ValidationFailed(
            "the request body is not valid: $: expected an object",
            details=[{"path": "$", "message": "expected an object"}],
        )
    problems: list[dict[str, str]] = []

    def bad(key: str, message: str) -> None:
        problems.append({"path": f"$.{key}", "message": message})

    for key in sorted(set(data) - _KEYS):
        bad(key, "unknown key")
    enabled = data.get("enabled")
    if "enabled" not in data:
        bad("enabled", "required")
    elif type(enabled) is not bool:
        bad("enabled", "expected a boolean")
    days = data.get("days")
    if type(days) is float and days.is_integer():
        days = int(days)  # JSON has one number type: 30.0 is 30, as JSON Schema says
    if days is None:
        if enabled is True:
            bad("days", "required when enabled")
    elif type(days) is not int:
        bad("days", "expected an integer")
    elif not MIN_DAYS <= days <= MAX_DAYS:
        bad("days", f"must be from {MIN_DAYS} to {MAX_DAYS}")
    match = data.get("match", "product")
    if match not in MATCHES:
        bad("match", "must be one of product, variant")
    multiply = data.get("multiplyByQuantity", False)
    if type(multiply) is not bool:
        bad("multiplyByQuantity", "expected a boolean")
    if problems:
        first = problems[0]
        raise ValidationFailed(
            f"the replenishment setting is not valid: {first['path']}: {first['message']}",
            details=problems,
        )
    return Setting(enabled=enabled is True, days=days, match=match, multiply_by_quantity=multiply)


def _setting_of(row: ReplenishmentSetting | None) -> Setting:
    if row is None:
        return DEFAULT
    match: Match = "variant" if row.match == "variant" else "product"
    return Setting(
        enabled=row.enabled,
        days=row.days,
        match=match,
        multiply_by_quantity=row.multiply_by_quantity,
    )


def settings_for(session: Session, product_ids: Iterable[int]) -> dict[int, Setting]:
    """Every product's setting (the default for one never set)."""
    ids = list(product_ids)
    found = {pid: DEFAULT for pid in ids}
    for start in range(0, len(ids), 500):
        for row in session.scalars(
            select(ReplenishmentSetting).where(
                ReplenishmentSetting.product_id.in_(ids[start : start + 500])
            )
        ):
            found[row.product_id] = _setting_of(row)
    return found


def save_setting(session: Session, product: ProductRow, setting: Setting) -> Setting:
    """Store the product's setting. Disabling cancels its pending reminders.

    Pending reminders keep the due time computed when they were scheduled: a new
    ``days`` or ``match`` applies to purchases from now on.
    """
    row = session.scalars(
        select(ReplenishmentSetting).where(ReplenishmentSetting.product_id == product.id)
    ).first()
    if row is None:
        row = ReplenishmentSetting(company_id=product.company_id, product_id=product.id)
        session.add(row)
    row.enabled = setting.enabled
    row.days = setting.days
    row.match = setting.match
    row.multiply_by_quantity = setting.multiply_by_quantity
    memo.forget(session, MEMO_TOPIC)
    if not setting.enabled:
        session.execute(
            update(ReplenishmentReminder)
            .where(
                ReplenishmentReminder.product_id == product.id,
                ReplenishmentReminder.status.in_(("pending", "superseded")),
            )
            .values(status="cancelled", reason="replenishment disabled", updated_at=clock.now())
            .execution_options(synchronize_session=False)
        )
    session.flush()
    return _setting_of(row)


# --- scheduling ------------------------------------------------------------------------


@attrs.frozen
class _Planned:
    key: str
    product_id: int
    match: Match
    provider_product_id: str
    provider_variant_id: str
    title: str
    variant_title: str
    quantity: int
    days: int


def _key(match: Match, provider_product_id: str, provider_variant_id: str) -> str:
    return (
        f"variant:{provider_variant_id}" if match == "variant" else f"product:{provider_product_id}"
    )


def _plan(session: Session, event: Event) -> list[_Planned]:
    """What the order's line items schedule: one entry per key, quantities added up."""
    items = [i for i in (event.properties or {}).get("lineItems") or [] if isinstance(i, dict)]
    pids = {str(i.get("providerProductId") or "") for i in items} - {""}
    if not pids or event.integration_id is None:
        return []
    enabled = {
        row.provider_product_id: row
        for row in session.execute(
            select(
                ProductRow.id,
                ProductRow.provider_product_id,
                ProductRow.title,
                ReplenishmentSetting.days,
                ReplenishmentSetting.match,
                ReplenishmentSetting.multiply_by_quantity,
            )
            .join(ReplenishmentSetting, ReplenishmentSetting.product_id == ProductRow.id)
            .where(
                ProductRow.integration_id == event.integration_id,
                ProductRow.provider_product_id.in_(sorted(pids)),
                ReplenishmentSetting.enabled.is_(True),
                ReplenishmentSetting.days.is_not(None),
                ProductRow.deleted.is_(False),
            )
        )
    }
    planned: dict[str, _Planned] = {}
    for item in items:
        pid = str(item.get("providerProductId") or "")
        product = enabled.get(pid)
        if product is None:
            continue
        vid = str(item.get("providerVariantId") or pid)
        match: Match = "variant" if product.match == "variant" else "product"
        key = _key(match, pid, vid)
        quantity = max(1, int(item.get("quantity") or 1))
        seen = planned.get(key)
        if seen is not None:
            quantity += seen.quantity
        days = product.days * (quantity if product.multiply_by_quantity else 1)
        planned[key] = _Planned(
            key=key,
            product_id=product.id,
            match=match,
            provider_product_id=pid,
            provider_variant_id=seen.provider_variant_id if seen else vid,
            title=(item.get("title") or product.title or "")[:500],
            variant_title=(item.get("variantTitle") or "")[:500],
            quantity=quantity,
            days=min(days, MAX_SCALED_DAYS),
        )
    return list(planned.values())


def _order_voided(session: Session, integration_id: str, provider_order_id: str) -> bool:
    """Cancelled (or failed), or refunded in full: such an order needs no reminder."""
    row = session.execute(
        select(OrderRow.state, OrderRow.total_cents, OrderRow.refunded_cents).where(
            OrderRow.integration_id == integration_id,
            OrderRow.provider_order_id == provider_order_id,
        )
    ).first()
    if row is None:
        return False
    fully_refunded = row.total_cents > 0 and row.refunded_cents >= row.total_cents
    return row.state in ("cancelled", "refunded") or fully_refunded


def _any_enabled(session: Session, company_id: int) -> bool:
    """Whether any product of the company has reminders enabled (once per transaction)."""

    def ask() -> bool:
        return bool(
            session.scalar(
                select(ReplenishmentSetting.id)
                .where(
                    ReplenishmentSetting.company_id == company_id,
                    ReplenishmentSetting.enabled.is_(True),
                )
                .limit(1)
            )
        )

    return memo.per_transaction(session, (MEMO_TOPIC, company_id), ask)


MEMO_TOPIC = "replenishment.enabled"


def schedule(session: Session, event: Event, *, late_days: float = 14.0) -> list[int]:
    """Schedule the reminders of a live ``order_placed`` event; returns the new ids.

    Idempotent: the same event schedules nothing twice (unique per event and key).
    """
    if not event.live or event.subscriber_id is None or event.integration_id is None:
        return []
    if not _any_enabled(session, event.company_id):
        return []  # the common case: no product of the company has reminders on
    order_id = str((event.properties or {}).get("orderId") or "")
    planned = _plan(session, event)
    if not planned or not order_id:
        return []
    # An event job retried after the order was cancelled must not schedule it again.
    if _order_voided(session, event.integration_id, order_id):
        return []
    lock_subscriber(session, event.subscriber_id)
    now = clock.now()
    ordered_at = event.occurred_at
    created = []
    for plan in planned:
        due_at = ordered_at + timedelta(days=plan.days)
        if due_at < now - timedelta(days=late_days):
            continue  # an old order seen for the first time: its moment has passed
        if _exists(session, event.id, plan.key):
            continue
        status = _supersede(session, event, plan.key, ordered_at)
        reminder = ReplenishmentReminder(
            company_id=event.company_id,
            integration_id=event.integration_id,
            provider=event.provider or "",
            subscriber_id=event.subscriber_id,
            product_id=plan.product_id,
            key=plan.key,
            match=plan.match,
            provider_product_id=plan.provider_product_id,
            provider_variant_id=plan.provider_variant_id,
            title=plan.title,
            variant_title=plan.variant_title,
            quantity=plan.quantity,
            days=plan.days,
            provider_order_id=order_id[:64],
            order_event_id=event.id,
            ordered_at=ordered_at,
            due_at=due_at,
            status=status,
            reason=None if status == "pending" else "a newer purchase of the same product",
        )
        session.add(reminder)
        session.flush()
        created.append(reminder.id)
    return created


def _exists(session: Session, event_id: int, key: str) -> bool:
    found = session.scalar(
        select(ReplenishmentReminder.id).where(
            ReplenishmentReminder.order_event_id == event_id, ReplenishmentReminder.key == key
        )
    )
    return found is not None


def _pending(
    session: Session, integration_id: str, subscriber_id: int, key: str
) -> ReplenishmentReminder | None:
    return session.scalars(
        select(ReplenishmentReminder).where(
            ReplenishmentReminder.integration_id == integration_id,
            ReplenishmentReminder.subscriber_id == subscriber_id,
            ReplenishmentReminder.key == key,
            ReplenishmentReminder.status == "pending",
        )
    ).first()


def _supersede(session: Session, event: Event, key: str, ordered_at: datetime) -> str:
    """Make room for the new purchase's reminder; the status it is stored with.

    The newest purchase wins, by order time (then event id): a late-arriving older
    order is stored superseded and the pending one stays.
    """
    current = _pending(session, event.integration_id or "", event.subscriber_id or 0, key)
    if current is None:
        return "pending"
    if (current.ordered_at, current.order_event_id) > (ordered_at, event.id):
        return "superseded"
    current.status = "superseded"
    current.reason = "a newer purchase of the same product"
    session.flush()  # the one-pending index must see it before the new row
    return "pending"


def cancel_order(
    session: Session, integration_id: str, provider_order_id: str, reason: str
) -> list[int]:
    """Cancel the reminders the order scheduled; returns their ids.

    Where the order's reminder was the pending one, the newest older purchase of the
    same key that is still standing becomes pending again (it may be due already: then
    it fires on the next sweep).
    """
    rows = list(
        session.scalars(
            select(ReplenishmentReminder).where(
                ReplenishmentReminder.integration_id == integration_id,
                ReplenishmentReminder.provider_order_id == provider_order_id,
                ReplenishmentReminder.status.in_(("pending", "superseded")),
            )
        )
    )
    reopened = []
    for row in rows:
        if row.status == "pending":
            reopened.append((row.subscriber_id, row.key))
        row.status = "cancelled"
        row.reason = reason[:200]
    session.flush()
    for subscriber_id, key in reopened:
        previous = session.scalars(
            select(ReplenishmentReminder)
            .where(
                ReplenishmentReminder.integration_id == integration_id,
                ReplenishmentReminder.subscriber_id == subscriber_id,
                ReplenishmentReminder.key == key,
                ReplenishmentReminder.status == "superseded",
            )
            .order_by(
                ReplenishmentReminder.ordered_at.desc(), ReplenishmentReminder.order_event_id.desc()
            )
            .limit(1)
        ).first()
        if previous is not None:
            previous.status = "pending"
            previous.reason = f"restored: the newer order {provider_order_id} was {reason}"[:200]
    session.flush()
    return [row.id for row in rows]


def on_order_event(session: Session, event: Event, *, late_days: float = 14.0) -> None:
    """Schedule on ``order_placed``; cancel on ``order_cancelled`` and full refunds."""
    if not event.live or event.integration_id is None:
        return
    order_id = str((event.properties or {}).get("orderId") or "")
    if event.name == "ecommerce.order_placed":
        schedule(session, event, late_days=late_days)
    elif event.name == "ecommerce.order_cancelled" and order_id:
        cancel_order(session, event.integration_id, order_id, "cancelled")
    elif (
        event.name == "ecommerce.order_refunded"
        and order_id
        and _order_voided(session, event.integration_id, order_id)
    ):
        cancel_order(session, event.integration_id, order_id, "refunded")


class ReplenishmentScheduler:
    """The event consumer that schedules and cancels reminders from order events."""

    name = "replenishment"

    def on_event(self, rt: Runtime, session: Session, event: Event) -> None:
        on_order_event(session, event, late_days=rt.settings.replenishment_late_days)


SCHEDULER = ReplenishmentScheduler()


# --- firing --------------------------------------------------------------------------


@attrs.frozen
class _Ref:
    id: int
    email: str


def due_properties(
    reminder: ReplenishmentReminder, product: ProductRow | None, variant: VariantRow | None
) -> dict[str, Any]:
    """The contract's ``product`` block (catalogue data as it is now), plus the purchase."""
    image = (variant.image_url if variant else None) or (product.image_url if product else None)
    url = (variant.url if variant else None) or (product.url if product else None)
    return {
        "product": {
            "provider": reminder.provider,
            "providerProductId": reminder.provider_product_id,
            "providerVariantId": reminder.provider_variant_id,
            "title": (product.title if product else "") or reminder.title,
            "variantTitle": reminder.variant_title or (variant.title if variant else ""),
            "imageUrl": image,
            "url": url,
        },
        "orderId": reminder.provider_order_id,
        "orderedAt": reminder.ordered_at.isoformat(),
        "dueAt": reminder.due_at.isoformat(),
        "quantity": reminder.quantity,
        "days": reminder.days,
        # Read by the rules' default stop (storeflow.rules.defaults): which repurchase counts.
        "replenishmentMatch": reminder.match,
    }


def fire_due(
    session: Session, *, now: datetime | None = None, batch: int = 500, limit: int = 2_000
) -> int:
    """Fire up to ``limit`` due reminders, oldest due first; returns how many fired.

    A reminder of a product deleted since is cancelled instead (nothing to reorder).
    """
    now = now or clock.now()
    fired = handled = 0
    while handled < limit:
        rows = session.execute(
            select(ReplenishmentReminder, Subscriber.email)
            .join(Subscriber, Subscriber.id == ReplenishmentReminder.subscriber_id)
            .where(ReplenishmentReminder.status == "pending", ReplenishmentReminder.due_at <= now)
            .order_by(ReplenishmentReminder.due_at, ReplenishmentReminder.id)
            .limit(min(batch, limit - handled))
        ).all()
        if not rows:
            break
        products, variants = _catalogue(session, [reminder for reminder, _ in rows])
        for reminder, email in rows:
            product = products.get(reminder.product_id)
            if product is None or product.deleted:
                # Nothing to reorder: the store removed the product after the purchase.
                reminder.status, reminder.reason = "cancelled", "product deleted"
                handled += 1
                continue
            event_id = events.append(
                session,
                company_id=reminder.company_id,
                name=DUE_EVENT,
                key=f"replenishment:{reminder.id}",
                occurred_at=reminder.due_at,
                subscriber=_Ref(reminder.subscriber_id, email),
                properties=due_properties(
                    reminder,
                    product,
                    variants.get((reminder.integration_id, reminder.provider_variant_id)),
                ),
                provider=reminder.provider,
                integration_id=reminder.integration_id,
                live=True,
            )
            reminder.status = "fired"
            if event_id is not None:  # None: a concurrent sweep fired it (same event key)
                reminder.fired_event_id = event_id
            handled += 1
            fired += 1
        session.flush()
    return fired


def _catalogue(
    session: Session, reminders: list[ReplenishmentReminder]
) -> tuple[dict[int, ProductRow], dict[tuple[str, str], VariantRow]]:
    """The products and variants the reminders name, as the catalogue has them now."""
    product_ids = sorted({r.product_id for r in reminders})
    products = {
        row.id: row
        for row in session.scalars(select(ProductRow).where(ProductRow.id.in_(product_ids)))
    }
    variants: dict[tuple[str, str], VariantRow] = {}
    for row in session.scalars(
        select(VariantRow).where(
            VariantRow.product_id.in_(product_ids), VariantRow.deleted.is_(False)
        )
    ):
        variants[(row.integration_id, row.provider_variant_id)] = row
    return products, variants


def sweep(rt: Runtime, session: Session) -> None:
    """The ``replenishment-due`` sweep: fire what is due (see the module docstring)."""
    fire_due(
        session,
        batch=rt.settings.replenishment_sweep_batch,
        limit=rt.settings.replenishment_sweep_limit,
    )


# --- what the admin API shows ----------------------------------------------------------


def pending_counts(session: Session, product_ids: Iterable[int]) -> dict[int, int]:
    ids = list(product_ids)
    found = dict.fromkeys(ids, 0)
    for start in range(0, len(ids), 500):
        for product_id, count in session.execute(
            select(ReplenishmentReminder.product_id, func.count())
            .where(
                ReplenishmentReminder.product_id.in_(ids[start : start + 500]),
                ReplenishmentReminder.status == "pending",
            )
            .group_by(ReplenishmentReminder.product_id)
        ):
            found[product_id] = count
    return found


def pending_for_subscriber(session: Session, subscriber_id: int) -> list[dict[str, Any]]:
    """The profile's ``replenishment`` list: pending reminders, soonest first."""
    rows = session.scalars(
        select(ReplenishmentReminder)
        .where(
            ReplenishmentReminder.subscriber_id == subscriber_id,
            ReplenishmentReminder.status == "pending",
        )
        .order_by(ReplenishmentReminder.due_at, ReplenishmentReminder.id)
    )
    return [
        {
            "provider": row.provider,
            "providerProductId": row.provider_product_id,
            "providerVariantId": row.provider_variant_id,
            "title": row.title,
            "dueAt": row.due_at.isoformat(),
            "orderId": row.provider_order_id,
        }
        for row in rows
    ]


# --- learned intervals -----------------------------------------------------------------


@attrs.frozen
class Suggestion:
    days: int | None  # None until there are enough intervals
    sample_size: int


def median_interval(
    purchases: Iterable[tuple[Any, datetime]], *, min_samples: int = 5
) -> Suggestion:
    """The median days between consecutive purchases of one key by one buyer.

    ``purchases`` are (buyer, time) pairs in any order; a buyer's purchases closer than
    :data:`SAME_PURCHASE` to the previous one count once. The result depends only on
    the set of purchases, never on their order.
    """
    by_buyer: dict[Any, list[datetime]] = defaultdict(list)
    for buyer, at in purchases:
        by_buyer[buyer].append(at)
    gaps: list[float] = []
    for times in by_buyer.values():
        times.sort()
        last = times[0]
        for at in times[1:]:
            gap = at - last
            if gap < SAME_PURCHASE:
                continue
            gaps.append(gap.total_seconds() / 86400)
            last = at
    if len(gaps) < min_samples:
        return Suggestion(None, len(gaps))
    days = round(statistics.median(gaps))
    return Suggestion(min(max(days, MIN_DAYS), MAX_DAYS), len(gaps))


def suggestions(
    session: Session,
    products: Iterable[ProductRow],
    settings: Mapping[int, Setting],
    *,
    min_samples: int = 5,
) -> dict[int, Suggestion]:
    """Each product's learned interval from its counted orders (historical ones too)."""
    rows = list(products)
    found = {row.id: Suggestion(None, 0) for row in rows}
    by_store: dict[tuple[str, str], int] = {
        (row.integration_id, row.provider_product_id): row.id for row in rows
    }
    purchases: dict[tuple[int, str], set[tuple[int, datetime]]] = defaultdict(set)
    for integration_id in {row.integration_id for row in rows}:
        pids = sorted(pid for (store, pid) in by_store if store == integration_id)
        for start in range(0, len(pids), 500):
            for pid, vid, subscriber_id, ordered_at in session.execute(
                select(
                    OrderLine.provider_product_id,
                    OrderLine.provider_variant_id,
                    OrderRow.subscriber_id,
                    OrderRow.ordered_at,
                )
                .join(OrderRow, OrderRow.id == OrderLine.order_id)
                .where(
                    OrderRow.integration_id == integration_id,
                    OrderRow.state.in_(ORDER_COUNTED),
                    OrderRow.deleted.is_(False),
                    OrderLine.provider_product_id.in_(pids[start : start + 500]),
                )
            ):
                product_id = by_store[(integration_id, pid)]
                setting = settings.get(product_id, DEFAULT)
                key = vid if setting.match == "variant" else pid
                # A set: two lines of one key in one order are one purchase.
                purchases[(product_id, key)].add((subscriber_id, ordered_at))
    grouped: dict[int, list[tuple[Any, datetime]]] = defaultdict(list)
    for (product_id, key), bought in purchases.items():
        grouped[product_id].extend(((key, buyer), at) for buyer, at in bought)
    for product_id, history in grouped.items():
        found[product_id] = median_interval(history, min_samples=min_samples)
    return found


@attrs.frozen
class Overview:
    """What a product shows: its setting, the learned interval, its pending reminders."""

    setting: Setting
    suggestion: Suggestion
    pending: int


def overview(
    session: Session, products: Iterable[ProductRow], *, min_samples: int = 5
) -> dict[int, Overview]:
    rows = list(products)
    ids = [row.id for row in rows]
    settings = settings_for(session, ids)
    learned = suggestions(session, rows, settings, min_samples=min_samples)
    pending = pending_counts(session, ids)
    return {pid: Overview(settings[pid], learned[pid], pending[pid]) for pid in ids}
