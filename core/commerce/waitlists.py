"""Back-in-stock waitlists: requests, restocks, out-of-stock-again, re-arm and pacing.

A shopper asks to be told when a variant is back (``request``; a simple product's
variant id is its product id). The catalogue reports every variant whose stock
changed (``stock_changed``, called from ``storeflow.core.commerce.catalog``); a
variant going from not-in-stock to in stock while shoppers wait opens a *restock*
and queues the ``back-in-stock`` job, which notifies the waiting entries in
batches, oldest request first: each becomes ``notified`` and gets one
``ecommerce.back_in_stock``. The delivery that reported the restock does no
per-entry work, so its cost does not grow with the waitlist. The batches are
set-based (an UPDATE and an ``INSERT ... SELECT`` each) and leave the events'
consumers to later ``back-in-stock`` jobs (:func:`_record`).

Exactly once: a variant has at most one open restock (a unique key that is set only
while open), an entry moves ``waiting -> notified`` with a conditional UPDATE, and
every event key names the entry and the restock (or the entry's request cycle).
Two deliveries of one restock, or two racing updates, therefore notify each entry
once.

When the variant sells out again the restock closes and the
``back-in-stock-sold-out`` job fires ``ecommerce.back_in_stock_out_of_stock`` for
the entries that restock notified (the rules engine stops their sequences) and,
when the company re-arms (the default), puts them back to ``waiting`` for the next
restock. A purchase of the variant (``ecommerce.order_placed``) marks the buyer's
entry ``purchased``: bought entries are neither re-armed nor notified again.

Pacing (company setting ``backInStock.pacing``): at most ``perUnit`` shoppers per
unit of stock are notified at first; every ``intervalMinutes`` while the restock is
open and stock remains, the next ``perUnit`` x remaining-stock shoppers are.

Functions take a session and never commit.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs
from sqlalchemy import Boolean, String, cast, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storeflow.core import clock
from storeflow.core.commerce import events, subscribers
from storeflow.core.commerce.records import EventName
from storeflow.core.errors import NotFound, ValidationFailed
from storeflow.core.storage.db import rows_changed
from storeflow.core.storage.locks import lock_subscribers
from storeflow.core.storage.tables import (
    Company,
    Event,
    Integration,
    Job,
    ProductRow,
    Subscriber,
    VariantRow,
    WaitlistEntry,
    WaitlistRestock,
)
from storeflow.core.storage.upsert import insert_ignore
from storeflow.core.stores.provider import StoreContext
from storeflow.core.work import outbox

if TYPE_CHECKING:
    from storeflow.core.runtime import Runtime

log = logging.getLogger(__name__)

# Entries a fan-out job handles per transaction; the rest go to the next job.
BATCH = 1000
# Still asking to be told: shown on profiles and counted on products.
ACTIVE = ("waiting", "notified")


# --- company settings ---------------------------------------------------------------------


@attrs.frozen
class Pacing:
    per_unit: int
    interval_minutes: int = 60


@attrs.frozen
class WaitlistSettings:
    """``Company.settings["backInStock"]``: ``{rearm, backordersInStock, pacing}``."""

    rearm: bool = True
    backorders_in_stock: bool = False
    pacing: Pacing | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "rearm": self.rearm,
            "backordersInStock": self.backorders_in_stock,
            "pacing": (
                {"perUnit": self.pacing.per_unit, "intervalMinutes": self.pacing.interval_minutes}
                if self.pacing
                else None
            ),
        }


SETTINGS_KEY = "backInStock"


def settings_of(company: Company | None) -> WaitlistSettings:
    raw = ((company.settings or {}) if company else {}).get(SETTINGS_KEY) or {}
    pacing = raw.get("pacing")
    return WaitlistSettings(
        rearm=bool(raw.get("rearm", True)),
        backorders_in_stock=bool(raw.get("backordersInStock", False)),
        pacing=(
            Pacing(int(pacing["perUnit"]), int(pacing.get("intervalMinutes", 60)))
            if isinstance(pacing, dict) and pacing.get("perUnit")
            else None
        ),
    )


def parse_settings(data: Any) -> WaitlistSettings:
    """The admin API's body; a bad field is a 422 naming it."""
    if not isinstance(data, dict):
        raise ValidationFailed(
            "expected a JSON object", details=[{"path": "$", "message": "not an object"}]
        )
    problems: list[dict[str, str]] = []
    for name in ("rearm", "backordersInStock"):
        if name in data and not isinstance(data[name], bool):
            problems.append({"path": f"$.{name}", "message": "must be true or false"})
    pacing = data.get("pacing")
    if pacing is not None:
        if not isinstance(pacing, dict):
            problems.append({"path": "$.pacing", "message": "must be an object or null"})
        else:
            for name, low, high in (("perUnit", 1, 10_000), ("intervalMinutes", 1, 10_080)):
                value = pacing.get(name, 60 if name == "intervalMinutes" else None)
                if (
                    not isinstance(value, int)
                    or isinstance(value, bool)
                    or not low <= value <= high
                ):
                    problems.append(
                        {"path": f"$.pacing.{name}", "message": f"must be an integer {low}-{high}"}
                    )
    if problems:
        raise ValidationFailed("invalid back-in-stock settings", details=problems)
    return WaitlistSettings(
        rearm=data.get("rearm", True),
        backorders_in_stock=data.get("backordersInStock", False),
        pacing=Pacing(pacing["perUnit"], pacing.get("intervalMinutes", 60)) if pacing else None,
    )


def save_settings(company: Company, value: WaitlistSettings) -> None:
    company.settings = {**(company.settings or {}), SETTINGS_KEY: value.to_json()}


def in_stock(status: str | None, quantity: int | None, *, backorders: bool = False) -> bool:
    """Whether a shopper can buy it now: ``instock`` (with stock left when it is counted),
    or ``onbackorder`` where the company counts backorders as in stock."""
    if status == "onbackorder":
        return backorders
    if status != "instock":
        return False
    return quantity is None or quantity > 0


# --- the store a storefront request is for ------------------------------------------------


def store_key(url: str) -> str:
    """``https://WWW.Shop.example/`` and ``shop.example`` are one store: no scheme, no
    ``www.``, no trailing slash, lower case (a path is kept: WordPress in a folder)."""
    text = url.strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = text.removeprefix("www.")
    return text.rstrip("/")


def origin_key(origin: str) -> str | None:
    """The host (and port) of an ``Origin`` header, keyed like :func:`store_key`."""
    parts = urlsplit(origin.strip().lower())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.removeprefix("www.")
    return f"{host}:{parts.port}" if parts.port else host


def store_origin_key(store_url: str) -> str:
    """The host (and port) part of a store key: what its pages' ``Origin`` must be."""
    return store_key(store_url).split("/", 1)[0]


def find_store(
    session: Session, provider: str, store_url: str, company_id: int | None = None
) -> Integration:
    """The connected store of ``store_url``; ``company_id`` picks one when several match."""
    key = store_key(store_url)
    host = key.split("/", 1)[0]
    if not host:
        raise ValidationFailed(
            "storeUrl is empty", details=[{"path": "$.storeUrl", "message": "required"}]
        )
    # The host narrows the scan in SQL; the exact key is compared here.
    query = select(Integration).where(
        Integration.provider == provider,
        Integration.status == "connected",
        func.lower(Integration.store_url).contains(host, autoescape=True),
    )
    if company_id is not None:
        query = query.where(Integration.company_id == company_id)
    found = [row for row in session.scalars(query) if store_key(row.store_url) == key]
    if not found:
        raise NotFound("no connected store has this storeUrl", code="store_not_found")
    if len({row.company_id for row in found}) > 1:
        raise ValidationFailed(
            "several companies connect this store; pass companyId",
            details=[{"path": "$.companyId", "message": "required when several companies match"}],
        )
    return found[0]


def stores_for_origin(session: Session, provider: str, origin: str) -> list[Integration]:
    """Connected stores whose pages have this ``Origin`` (a CORS preflight has no body)."""
    key = origin_key(origin)
    if key is None:
        return []
    host = key.split(":", 1)[0]
    query = select(Integration).where(
        Integration.provider == provider,
        Integration.status == "connected",
        func.lower(Integration.store_url).contains(host, autoescape=True),
    )
    return [row for row in session.scalars(query) if store_origin_key(row.store_url) == key]


# --- requests -------------------------------------------------------------------------------


@attrs.frozen
class Requested:
    entry: WaitlistEntry
    created: bool  # False: already waiting, nothing changed


def request(
    session: Session,
    integration: Integration,
    *,
    email: str,
    provider_product_id: str,
    provider_variant_id: str | None,
    product_title: str = "",
    variant_title: str | None = None,
) -> Requested:
    """Put the shopper on the variant's waitlist (a repeat while waiting is a no-op).

    The subscriber is created if needed; no signup event is appended, so no signup
    automation starts: the shopper asked about a product, not for a newsletter.
    """
    variant_id = provider_variant_id or provider_product_id
    subscriber = subscribers.upsert(session, integration.company_id, email)
    now = clock.now()
    new_id = insert_ignore(
        session,
        WaitlistEntry.__table__,
        {
            "company_id": integration.company_id,
            "integration_id": integration.id,
            "provider": integration.provider,
            "provider_product_id": provider_product_id,
            "provider_variant_id": variant_id,
            "subscriber_id": subscriber.id,
            "email": subscriber.email,
            "product_title": product_title[:500],
            "variant_title": variant_title[:500] if variant_title else None,
            "status": "waiting",
            "cycle": 1,
            "requested_at": now,
            "updated_at": now,
        },
        ["integration_id", "provider_variant_id", "subscriber_id"],
    )
    entry = session.scalars(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.integration_id == integration.id,
            WaitlistEntry.provider_variant_id == variant_id,
            WaitlistEntry.subscriber_id == subscriber.id,
        )
        .with_for_update()
    ).one()
    if new_id is None:
        if entry.status == "waiting":
            return Requested(entry, created=False)
        # Asked again after being told, buying or cancelling: a new request cycle.
        entry.status = "waiting"
        entry.cycle += 1
        entry.requested_at = now
        entry.restock_id = None
        entry.product_title = product_title[:500] or entry.product_title
        entry.variant_title = (variant_title or "")[:500] or entry.variant_title
    events.append(
        session,
        company_id=integration.company_id,
        name="ecommerce.back_in_stock_requested",
        key=f"back_in_stock_requested:{entry.id}:{entry.cycle}",
        occurred_at=now,
        subscriber=subscriber,
        properties={"product": _product_json(session, entry)},
        provider=integration.provider,
        integration_id=integration.id,
    )
    return Requested(entry, created=True)


def _product_json(session: Session, entry: WaitlistEntry) -> dict[str, Any]:
    """The event's ``product``: the catalogue's title, image and link when it has them."""
    return _product_props(entry, *_catalogue(session, entry))


def _product_props(
    entry: WaitlistEntry | Any, product: ProductRow | None, variant: VariantRow | None
) -> dict[str, Any]:
    """``entry``: a waitlist entry, or a row of its columns (a fan-out's batch)."""
    is_variation = entry.provider_variant_id != entry.provider_product_id
    return {
        "provider": entry.provider,
        "providerProductId": entry.provider_product_id,
        "providerVariantId": entry.provider_variant_id,
        "title": (product.title if product and product.title else entry.product_title),
        "variantTitle": (
            (variant.title if variant and variant.title else entry.variant_title)
            if is_variation
            else entry.variant_title
        ),
        "imageUrl": (variant.image_url if variant else None)
        or (product.image_url if product else None),
        "url": (variant.url if variant else None) or (product.url if product else None),
    }


# --- stock changes (from the catalogue) ---------------------------------------------------


@attrs.frozen
class StockChange:
    """One variant whose stock fields were written; ``before`` is None for a new variant."""

    provider_product_id: str
    provider_variant_id: str
    before: tuple[str | None, int | None] | None
    after: tuple[str | None, int | None]


def stock_changed(
    session: Session, store: StoreContext, provider: str, changes: Sequence[StockChange]
) -> None:
    """Open a restock for variants back in stock with shoppers waiting; close the open
    restock of variants that sold out again. Per-entry work is left to jobs."""
    if not changes:
        return
    company = session.get(Company, store.company_id)
    backorders = settings_of(company).backorders_in_stock

    def now_in(state: tuple[str | None, int | None] | None) -> bool:
        return state is not None and in_stock(*state, backorders=backorders)

    back = [c for c in changes if now_in(c.after) and not now_in(c.before)]
    gone = [c for c in changes if now_in(c.before) and not now_in(c.after)]
    if back:
        _open_restocks(session, store, provider, back)
    if gone:
        _close_restocks(session, store, [c.provider_variant_id for c in gone])
    # Stock that rose or fell while a paced restock is open is read by its next wave.


def _open_restocks(
    session: Session, store: StoreContext, provider: str, back: Sequence[StockChange]
) -> None:
    waiting: dict[str, int] = dict(
        session.execute(
            select(WaitlistEntry.provider_variant_id, func.count())
            .where(
                WaitlistEntry.integration_id == store.integration_id,
                WaitlistEntry.provider_variant_id.in_([c.provider_variant_id for c in back]),
                WaitlistEntry.status == "waiting",
            )
            .group_by(WaitlistEntry.provider_variant_id)
        ).all()
    )
    pacing = settings_of(session.get(Company, store.company_id)).pacing
    now = clock.now()
    for change in back:
        if change.provider_variant_id not in waiting:
            continue
        quantity = change.after[1]
        budget = _budget(pacing, quantity, 0)
        restock_id = insert_ignore(
            session,
            WaitlistRestock.__table__,
            {
                "company_id": store.company_id,
                "integration_id": store.integration_id,
                "provider": provider,
                "provider_product_id": change.provider_product_id,
                "provider_variant_id": change.provider_variant_id,
                "open_key": "open",
                "stock_quantity": quantity,
                "budget": budget,
                "notified": 0,
                "wave": 0,
                "started_at": now,
            },
            ["integration_id", "provider_variant_id", "open_key"],
        )
        if restock_id is None:  # another delivery reported this restock first
            continue
        # Every batch is queued now, ahead of the consumer jobs the batches will queue:
        # the worker takes jobs oldest first, so all events are stored before their
        # consumers (the rules engine) run, while work queued earlier still goes first.
        due = waiting[change.provider_variant_id]
        batches = max(1, -(-min(due, budget if budget is not None else due) // BATCH))
        for number in range(batches):
            NOTIFY_JOBS.add(session, store.company_id, restock_id, wave=0, batch=number, of=batches)


def _budget(pacing: Pacing | None, quantity: int | None, notified: int) -> int | None:
    """How many shoppers may have been told in total; None when unpaced or stock uncounted."""
    if pacing is None or quantity is None:
        return None
    return notified + pacing.per_unit * max(quantity, 0)


def _close_restocks(session: Session, store: StoreContext, variant_ids: list[str]) -> None:
    restocks = list(
        session.scalars(
            select(WaitlistRestock).where(
                WaitlistRestock.integration_id == store.integration_id,
                WaitlistRestock.provider_variant_id.in_(variant_ids),
                WaitlistRestock.open_key == "open",
            )
        )
    )
    for restock in restocks:
        restock.open_key = None
        restock.ended_at = clock.now()
        SOLD_OUT_JOBS.add(session, restock.company_id, restock.id, after=0)


# --- the jobs ------------------------------------------------------------------------------


class NotifyJobs:
    """``back-in-stock``: notify a batch of a restock's waiting entries, oldest first."""

    name = "back-in-stock"

    def add(
        self,
        session: Session,
        company_id: int,
        restock_id: int,
        *,
        wave: int,
        batch: int,
        delay: timedelta | None = None,
        tag: str = "",
        of: int = 1,
    ) -> None:
        """Batch ``batch`` of ``of`` queued together (the last queues one more if needed)."""
        outbox.add(
            session,
            company_id=company_id,
            kind=self.name,
            key=f"restock:{restock_id}:{wave}:{batch}{tag}",
            ref_id=restock_id,
            payload={"wave": wave, "batch": batch, "of": of, "tag": tag},
            available_at=clock.now() + delay if delay else None,
        )

    def add_events(
        self, session: Session, company_id: int, restock_id: int, event_ids: list[int]
    ) -> None:
        """Run the consumers of these fan-out events (see :func:`_record`)."""
        outbox.add(
            session,
            company_id=company_id,
            kind=self.name,
            key=f"restock:{restock_id}:events:{event_ids[0]}",
            ref_id=restock_id,
            payload={"events": event_ids},
        )

    def run(self, rt: Runtime, session: Session, job: Job) -> None:
        event_ids = job.payload.get("events")
        if isinstance(event_ids, list):
            events.dispatch(rt, session, [int(event_id) for event_id in event_ids])
            return
        notify_batch(
            session,
            job.ref_id,
            int(job.payload.get("wave", 0)),
            int(job.payload.get("batch", 0)),
            of=int(job.payload.get("of", 1)),
            tag=str(job.payload.get("tag", "")),
        )


NOTIFY_JOBS = NotifyJobs()

# Events whose consumers (the rules engine) one job runs: a fan-out batch's events are
# stored at once, their consumers run in several short transactions after it.
DISPATCH = 100


def notify_batch(
    session: Session, restock_id: int | None, wave: int, batch: int, *, of: int = 1, tag: str = ""
) -> int:
    """Notify up to :data:`BATCH` waiting entries of an open restock; returns how many.

    Set-based: one read of the entries, one conditional UPDATE, one multi-row INSERT of
    the events. Queues the next batch when more may wait, or the next paced wave.
    """
    restock = session.get(WaitlistRestock, restock_id, with_for_update=True)
    if restock is None or restock.open_key is None:
        return 0  # sold out again before its turn: the rest keep waiting
    if wave < restock.wave:
        return 0  # an older wave's job, superseded
    if batch < 0:  # a paced wave starts: the stock left now sets its size
        start_wave(session, restock)
        batch = 0
    room = BATCH if restock.budget is None else min(BATCH, restock.budget - restock.notified)
    rows = _waiting(session, restock, room) if room > 0 else []
    now = clock.now()
    # Unsubscribed or suppressed since they asked: never tell them.
    _set_status(session, [r.id for r in rows if r.subscriber_status != "active"], "cancelled", now)
    # Conditional: an entry that changed since it was read (bought, cancelled) is left.
    moved = _move(
        session,
        [r.id for r in rows if r.subscriber_status == "active"],
        "waiting",
        {"status": "notified", "notified_at": now, "restock_id": restock.id, "updated_at": now},
    )
    product, variant = _catalogue(session, restock)
    stock = variant.stock_quantity if variant else restock.stock_quantity
    _record(
        session,
        restock,
        "ecommerce.back_in_stock",
        [r for r in rows if r.id in moved],
        lambda r: {"product": _product_props(r, product, variant), "stockQuantity": stock},
    )
    restock.notified += len(moved)
    if len(rows) == room and room > 0:
        if batch + 1 >= of:  # the last batch queued together, and more may wait
            NOTIFY_JOBS.add(
                session, restock.company_id, restock.id, wave=wave, batch=batch + 1, tag=tag
            )
    elif (
        restock.budget is not None
        and restock.notified >= restock.budget
        and _waiting(session, restock, 1)
    ):
        _next_wave(session, restock)
    return len(moved)


def _record(
    session: Session,
    restock: WaitlistRestock,
    name: EventName,
    rows: Sequence[Any],
    props_of: Callable[[Any], dict[str, Any]],
) -> list[int]:
    """Append one event per entry row (key: entry and restock), set-based; their
    consumers run in ``back-in-stock`` jobs of :data:`DISPATCH` events each.

    The events are written by ``INSERT ... SELECT`` from the entries, one statement
    per distinct ``properties`` (one, unless the catalogue lacks the product's title),
    instead of a row of parameters per event: a 100,000-shopper waitlist is the case
    this is for. Like ``events.append``, a key already stored appends nothing, and the
    subscribers are locked until commit.
    """
    if not rows:
        return []
    # Properties depend on the entry only through the titles it was asked with.
    by_titles: dict[tuple[str, str | None], list[Any]] = {}
    for row in rows:
        by_titles.setdefault((row.product_title, row.variant_title), []).append(row)
    groups: dict[str, tuple[dict[str, Any], list[int]]] = {}
    for same in by_titles.values():
        props = props_of(same[0])
        key = json.dumps(props, sort_keys=True)
        groups.setdefault(key, (props, []))[1].extend(row.id for row in same)
    table = Event.__table__
    module = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    now = clock.now()
    prefix = name.removeprefix("ecommerce.")
    appended: list[tuple[int, int]] = []
    for props, ids in groups.values():
        chosen = select(
            WaitlistEntry.company_id,
            literal(name, String),
            literal(f"{prefix}:", String)
            + cast(WaitlistEntry.id, String)
            + literal(f":{restock.id}", String),
            WaitlistEntry.subscriber_id,
            WaitlistEntry.email,
            WaitlistEntry.provider,
            WaitlistEntry.integration_id,
            literal(now, table.c.occurred_at.type),
            literal(props, table.c.properties.type),
            literal(True, Boolean),
            literal(now, table.c.created_at.type),
        ).where(WaitlistEntry.id.in_(ids))
        statement = (
            module.insert(table)
            .from_select(_EVENT_COLUMNS, chosen)
            .on_conflict_do_nothing(index_elements=["company_id", "idempotency_key"])
            .returning(table.c.id, table.c.subscriber_id)
        )
        appended.extend(
            (event_id, subscriber_id) for event_id, subscriber_id in session.execute(statement)
        )
    # Held until commit, as events.append does (see storeflow.core.storage.locks).
    lock_subscribers(session, (subscriber_id for _, subscriber_id in appended))
    event_ids = sorted(event_id for event_id, _ in appended)
    for start in range(0, len(event_ids), DISPATCH):
        NOTIFY_JOBS.add_events(
            session, restock.company_id, restock.id, event_ids[start : start + DISPATCH]
        )
    return event_ids


_EVENT_COLUMNS = [
    "company_id",
    "name",
    "idempotency_key",
    "subscriber_id",
    "email",
    "provider",
    "integration_id",
    "occurred_at",
    "properties",
    "live",
    "created_at",
]


def _catalogue(
    session: Session, of: WaitlistEntry | WaitlistRestock
) -> tuple[ProductRow | None, VariantRow | None]:
    """The catalogue's product and variant rows of an entry or a restock, when stored."""
    product = session.scalar(
        select(ProductRow).where(
            ProductRow.integration_id == of.integration_id,
            ProductRow.provider_product_id == of.provider_product_id,
        )
    )
    variant = session.scalar(
        select(VariantRow).where(
            VariantRow.integration_id == of.integration_id,
            VariantRow.provider_variant_id == of.provider_variant_id,
        )
    )
    return product, variant


def _move(session: Session, ids: list[int], status: str, values: dict[str, Any]) -> set[int]:
    """Set ``values`` on the entries of ``ids`` still in ``status``; the ids it moved."""
    if not ids:
        return set()
    return set(
        session.scalars(
            update(WaitlistEntry)
            .where(WaitlistEntry.id.in_(ids), WaitlistEntry.status == status)
            .values(**values)
            .returning(WaitlistEntry.id)
            .execution_options(synchronize_session=False)
        )
    )


def _set_status(session: Session, ids: list[int], status: str, now: Any) -> None:
    if ids:
        session.execute(
            update(WaitlistEntry)
            .where(WaitlistEntry.id.in_(ids), WaitlistEntry.status == "waiting")
            .values(status=status, updated_at=now)
            .execution_options(synchronize_session=False)
        )


# The entry columns a fan-out reads (no ORM objects: a batch is plain rows).
_ENTRY_COLUMNS = (
    WaitlistEntry.id,
    WaitlistEntry.subscriber_id,
    WaitlistEntry.email,
    WaitlistEntry.provider,
    WaitlistEntry.provider_product_id,
    WaitlistEntry.provider_variant_id,
    WaitlistEntry.product_title,
    WaitlistEntry.variant_title,
    Subscriber.status.label("subscriber_status"),
)


def _waiting(session: Session, restock: WaitlistRestock, limit: int) -> list[Any]:
    return list(
        session.execute(
            select(*_ENTRY_COLUMNS)
            .join(Subscriber, Subscriber.id == WaitlistEntry.subscriber_id)
            .where(
                WaitlistEntry.integration_id == restock.integration_id,
                WaitlistEntry.provider_variant_id == restock.provider_variant_id,
                WaitlistEntry.status == "waiting",
            )
            .order_by(WaitlistEntry.requested_at, WaitlistEntry.id)
            .limit(limit)
        )
    )


def _next_wave(session: Session, restock: WaitlistRestock) -> None:
    pacing = settings_of(session.get(Company, restock.company_id)).pacing
    if pacing is None:
        return
    restock.wave += 1
    NOTIFY_JOBS.add(
        session,
        restock.company_id,
        restock.id,
        wave=restock.wave,
        batch=-1,
        delay=timedelta(minutes=pacing.interval_minutes),
    )


def start_wave(session: Session, restock: WaitlistRestock) -> None:
    """A paced wave is due: the stock left now sets how many more shoppers are told."""
    variant = session.scalar(
        select(VariantRow).where(
            VariantRow.integration_id == restock.integration_id,
            VariantRow.provider_variant_id == restock.provider_variant_id,
        )
    )
    pacing = settings_of(session.get(Company, restock.company_id)).pacing
    quantity = variant.stock_quantity if variant else None
    restock.budget = _budget(pacing, quantity, restock.notified)
    restock.stock_quantity = quantity


class SoldOutJobs:
    """``back-in-stock-sold-out``: tell a closed restock's notified entries, then re-arm."""

    name = "back-in-stock-sold-out"

    def add(self, session: Session, company_id: int, restock_id: int, *, after: int) -> None:
        outbox.add(
            session,
            company_id=company_id,
            kind=self.name,
            key=f"sold-out:{restock_id}:{after}",
            ref_id=restock_id,
            payload={"after": after},
        )

    def run(self, rt: Runtime, session: Session, job: Job) -> None:
        sold_out_batch(session, job.ref_id, int(job.payload.get("after", 0)))


SOLD_OUT_JOBS = SoldOutJobs()


def sold_out_batch(session: Session, restock_id: int | None, after: int) -> int:
    """Entries the restock notified, by id after ``after``: the event, then re-armed."""
    restock = session.get(WaitlistRestock, restock_id)
    if restock is None:
        return 0
    rearm = settings_of(session.get(Company, restock.company_id)).rearm
    rows = list(
        session.execute(
            select(*_ENTRY_COLUMNS)
            .join(Subscriber, Subscriber.id == WaitlistEntry.subscriber_id)
            .where(
                WaitlistEntry.restock_id == restock.id,
                WaitlistEntry.status == "notified",
                WaitlistEntry.id > after,
            )
            .order_by(WaitlistEntry.id)
            .limit(BATCH)
        )
    )
    if not rows:
        return 0
    product, variant = _catalogue(session, restock)
    now = clock.now()
    _record(
        session,
        restock,
        "ecommerce.back_in_stock_out_of_stock",
        rows,
        lambda r: {"product": _product_props(r, product, variant)},
    )
    if rearm:  # the shopper did not buy (that would have ended the entry): wait again
        session.execute(
            update(WaitlistEntry)
            .where(
                WaitlistEntry.id.in_([r.id for r in rows]),
                WaitlistEntry.status == "notified",
                WaitlistEntry.restock_id == restock.id,
            )
            .values(status="waiting", restock_id=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    if len(rows) == BATCH:
        SOLD_OUT_JOBS.add(session, restock.company_id, restock.id, after=rows[-1].id)
    if rearm:
        _catch_up(session, restock, f":rearm:{restock.id}:{after}")
    return len(rows)


def _catch_up(session: Session, closed: WaitlistRestock, tag: str) -> None:
    """Entries re-armed after the variant came back once more join the open restock."""
    current = session.scalar(
        select(WaitlistRestock).where(
            WaitlistRestock.integration_id == closed.integration_id,
            WaitlistRestock.provider_variant_id == closed.provider_variant_id,
            WaitlistRestock.open_key == "open",
        )
    )
    if current is not None:
        NOTIFY_JOBS.add(
            session, current.company_id, current.id, wave=current.wave, batch=0, tag=tag
        )


# --- purchases -----------------------------------------------------------------------------


class PurchaseCancels:
    """Event consumer: buying a variant ends the buyer's waitlist entry for it."""

    name = "waitlists"

    def on_event(self, rt: Runtime, session: Session, event: Event) -> None:
        if event.name != "ecommerce.order_placed" or event.subscriber_id is None:
            return
        variants = {
            str(line.get("providerVariantId") or line.get("providerProductId") or "")
            for line in (event.properties or {}).get("lineItems") or []
            if isinstance(line, dict)
        } - {""}
        if variants:
            purchased(session, event.subscriber_id, event.integration_id, variants)


PURCHASES = PurchaseCancels()


def purchased(
    session: Session, subscriber_id: int, integration_id: str | None, variant_ids: Iterable[str]
) -> int:
    query = (
        update(WaitlistEntry)
        .where(
            WaitlistEntry.subscriber_id == subscriber_id,
            WaitlistEntry.provider_variant_id.in_(list(variant_ids)),
            WaitlistEntry.status.in_(ACTIVE),
        )
        .values(status="purchased", updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    if integration_id:
        query = query.where(WaitlistEntry.integration_id == integration_id)
    return rows_changed(session, query)


# --- reading ---------------------------------------------------------------------------------


def counts(session: Session, product_ids: Iterable[int]) -> dict[tuple[int, str], dict[str, int]]:
    """``{(product row id, provider variant id): {"waiting": n, "notified": n}}``."""
    ids = list(product_ids)
    found: dict[tuple[int, str], dict[str, int]] = {}
    if not ids:
        return found
    rows = session.execute(
        select(
            ProductRow.id,
            WaitlistEntry.provider_variant_id,
            WaitlistEntry.status,
            func.count(),
        )
        .join(
            WaitlistEntry,
            (WaitlistEntry.integration_id == ProductRow.integration_id)
            & (WaitlistEntry.provider_product_id == ProductRow.provider_product_id),
        )
        .where(ProductRow.id.in_(ids), WaitlistEntry.status.in_(ACTIVE))
        .group_by(ProductRow.id, WaitlistEntry.provider_variant_id, WaitlistEntry.status)
    )
    for product_id, variant_id, status, n in rows:
        found.setdefault((product_id, variant_id), {"waiting": 0, "notified": 0})[status] = n
    return found


def active_entries(session: Session, subscriber_id: int) -> list[WaitlistEntry]:
    """The subscriber's entries still waiting or notified, newest request first."""
    return list(
        session.scalars(
            select(WaitlistEntry)
            .where(WaitlistEntry.subscriber_id == subscriber_id, WaitlistEntry.status.in_(ACTIVE))
            .order_by(WaitlistEntry.requested_at.desc(), WaitlistEntry.id.desc())
        )
    )
