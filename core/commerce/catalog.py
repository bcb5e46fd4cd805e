"""Products and variants, upserted in bulk with stale-update protection.

Every record is compared with what is stored by the source's modified time (see
``storeflow.core.commerce.freshness``): an older one never overwrites a newer one. A variation
record (``parent_id`` set) updates one variant of its parent and leaves the
parent's own fields alone; if the parent has not arrived yet, a placeholder
parent (no title, no time) is created and filled in when it does.

Deletions arrive as bare ids (``{"id": N}``, no time). The product (or variant)
is kept, flagged ``deleted`` with the time the deletion was received: payloads
still update its fields by freshness, but it stays deleted until one modified
after the deletion (``product.restored``) arrives (``freshness.is_deleted``). An
id never seen before gets a deleted placeholder, so that a payload arriving after
its deletion stays deleted too.

A variant whose stock its product manages (``Variant.stock_from_parent``: WooCommerce
``manage_stock: "parent"``) takes the product's stock from every newer product
record that counts its stock (``stock_quantity`` set, no variants of its own): the
store updates those variants without sending them, so the parent's update is theirs
too, back-in-stock included.

The functions take a batch of records and apply them as if one after the other
(later records in the batch see earlier ones), but read and write in a few
statements: one query for the current versions, then executemany writes. That is
what keeps a 500-item sync page cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from storeflow.core import clock
from storeflow.core.commerce import freshness, records, waitlists
from storeflow.core.commerce.freshness import Outcome
from storeflow.core.storage import paging
from storeflow.core.storage.tables import ProductRow, VariantRow
from storeflow.core.stores.provider import StoreContext


def is_stale(stored: datetime | None, incoming: datetime | None) -> bool:
    """Kept for callers that only have times (no fingerprints)."""
    return stored is not None and incoming is not None and incoming < stored


def _clip(value: str | None, size: int) -> str | None:
    # Stores allow longer strings than our columns; PostgreSQL would refuse them.
    return value[:size] if value is not None and len(value) > size else value


@attrs.define
class _Row:
    """The current version of one stored row, as far as this batch knows."""

    id: int | None
    at: datetime | None = None
    hash: str | None = None
    deleted: bool = False
    deleted_at: datetime | None = None
    values: dict[str, Any] | None = None  # pending write, None when untouched
    product_pid: str | None = None  # variants: the provider id of their product
    stock: tuple[str | None, int | None] | None = None  # as stored (back-in-stock compares)
    from_parent: bool = False  # variants: the product's stock is theirs

    def verdict(self, incoming_at: datetime | None, digest: str) -> freshness.Verdict:
        return freshness.compare(self.at, self.hash, incoming_at, digest)

    def write(self, at: datetime | None, digest: str, values: dict[str, Any]) -> None:
        self.at, self.hash = at, digest
        self.deleted = freshness.is_deleted(at, self.deleted_at)
        self.values = {
            **(self.values or {}),
            **values,
            "source_modified_at": at,
            "source_hash": digest,
            "deleted": self.deleted,
        }
        self.from_parent = bool(self.values.get("stock_from_parent", self.from_parent))


def _load_rows(
    session: Session,
    store: StoreContext,
    model: type[ProductRow] | type[VariantRow],
    key: InstrumentedAttribute[str],
    ids: Iterable[str],
) -> dict[str, _Row]:
    """Stored freshness of products or variants by provider id (500 ids per query)."""
    found: dict[str, _Row] = {}
    wanted = list(dict.fromkeys(ids))
    for start in range(0, len(wanted), 500):
        for row in session.execute(
            select(
                model.id,
                key.label("provider_id"),
                model.source_modified_at,
                model.source_hash,
                model.deleted,
                model.deleted_at,
                model.stock_status,
                model.stock_quantity,
            ).where(
                model.integration_id == store.integration_id,
                key.in_(wanted[start : start + 500]),
            )
        ):
            found[row.provider_id] = _Row(
                row.id,
                row.source_modified_at,
                row.source_hash,
                row.deleted,
                row.deleted_at,
                stock=(row.stock_status, row.stock_quantity),
            )
    return found


def _load_products(session: Session, store: StoreContext, pids: Iterable[str]) -> dict[str, _Row]:
    return _load_rows(session, store, ProductRow, ProductRow.provider_product_id, pids)


def _load_variants(session: Session, store: StoreContext, vids: Iterable[str]) -> dict[str, _Row]:
    return _load_rows(session, store, VariantRow, VariantRow.provider_variant_id, vids)


def upsert_products(
    session: Session, store: StoreContext, provider: str, recs: Sequence[records.Product]
) -> list[Outcome]:
    """Apply product and variation records; one outcome per record, in order."""
    products = _load_products(session, store, (r.provider_product_id for r in recs))
    variants = _load_variants(
        session, store, (v.provider_variant_id for r in recs for v in r.variants)
    )
    _load_inheriting(session, store, products, variants, recs)
    outcomes: list[Outcome] = []
    for rec in recs:
        if rec.parent_id is not None:
            outcomes.append(_variation(store, products, variants, rec))
        else:
            outcomes.append(_product(store, products, variants, rec))
            if outcomes[-1] == "upserted" and _shares_stock(rec):
                _share_stock(variants, rec)
    _write_products(session, store, provider, products)
    _write_variants(session, store, products, variants)
    waitlists.stock_changed(session, store, provider, _stock_changes(variants))
    return outcomes


def _shares_stock(rec: records.Product) -> bool:
    """A product that counts its own stock and has no variants of its own (a variable
    product managing stock): variants marked ``stock_from_parent`` follow it."""
    return not rec.variants and rec.stock_quantity is not None


def _load_inheriting(
    session: Session,
    store: StoreContext,
    products: dict[str, _Row],
    variants: dict[str, _Row],
    recs: Sequence[records.Product],
) -> None:
    """Add the stored variants that follow the stock of a product in this batch."""
    stored = (
        (products.get(r.provider_product_id), r.provider_product_id)
        for r in recs
        if r.parent_id is None and _shares_stock(r)
    )
    # A product new in this batch has no stored variants to follow it.
    pids = {row.id: pid for row, pid in stored if row is not None and row.id is not None}
    if not pids:
        return
    for row in session.execute(
        select(
            VariantRow.id,
            VariantRow.provider_variant_id,
            VariantRow.product_id,
            VariantRow.source_modified_at,
            VariantRow.source_hash,
            VariantRow.deleted,
            VariantRow.deleted_at,
            VariantRow.stock_status,
            VariantRow.stock_quantity,
        ).where(
            VariantRow.integration_id == store.integration_id,
            VariantRow.product_id.in_(list(pids)),
            VariantRow.stock_from_parent.is_(True),
        )
    ):
        known = variants.setdefault(
            row.provider_variant_id,
            _Row(
                row.id,
                row.source_modified_at,
                row.source_hash,
                row.deleted,
                row.deleted_at,
                stock=(row.stock_status, row.stock_quantity),
            ),
        )
        known.from_parent = True
        known.product_pid = known.product_pid or pids[row.product_id]


def _share_stock(variants: dict[str, _Row], rec: records.Product) -> None:
    """The product's newer stock is its inheriting variants' stock (freshness is the
    product's: the variants' own versions are left as they are)."""
    stock = {"stock_status": _clip(rec.stock_status, 40), "stock_quantity": rec.stock_quantity}
    for row in variants.values():
        if row.from_parent and row.product_pid == rec.provider_product_id:
            row.values = {**(row.values or {}), **stock}


def _stock_changes(variants: dict[str, _Row]) -> list[waitlists.StockChange]:
    """Variants whose written stock differs from what was stored before this batch."""
    changes = []
    for vid, row in variants.items():
        if not row.values or "stock_status" not in row.values:
            continue
        after = (row.values["stock_status"], row.values["stock_quantity"])
        if after != row.stock:
            changes.append(waitlists.StockChange(row.product_pid or vid, vid, row.stock, after))
    return changes


def upsert_product(
    session: Session, store: StoreContext, provider: str, rec: records.Product
) -> Outcome:
    return upsert_products(session, store, provider, [rec])[0]


def _product(
    store: StoreContext, products: dict[str, _Row], variants: dict[str, _Row], rec: records.Product
) -> Outcome:
    row = products.setdefault(rec.provider_product_id, _Row(None))
    digest = freshness.fingerprint(rec)
    verdict = row.verdict(rec.modified_at, digest)
    if verdict != "newer":
        return verdict
    row.write(
        rec.modified_at,
        digest,
        {
            "title": _clip(rec.title, 500) or "",
            "type": _clip(rec.type, 40) or "simple",
            "status": _clip(rec.status, 40) or "publish",
            "slug": _clip(rec.slug, 300) or "",
            "url": _clip(rec.url, 1000),
            "image_url": _clip(rec.image_url, 1000),
            "categories": list(rec.categories),
            "price_cents": rec.price.minor if rec.price else None,
            "currency": rec.price.currency if rec.price else store.currency,
            "stock_status": _clip(rec.stock_status, 40),
            "stock_quantity": rec.stock_quantity,
        },
    )
    # A simple product's own variant is part of the product: same version, same verdict.
    for variant in rec.variants:
        target = variants.setdefault(variant.provider_variant_id, _Row(None))
        target.product_pid = rec.provider_product_id
        target.write(rec.modified_at, freshness.fingerprint(variant), _variant_values(variant))
    return "upserted"


def _variation(
    store: StoreContext, products: dict[str, _Row], variants: dict[str, _Row], rec: records.Product
) -> Outcome:
    parent_pid = rec.parent_id or rec.provider_product_id
    if parent_pid not in products:
        # The parent has not arrived yet: a placeholder (no time) it will fill in.
        products[parent_pid] = _Row(None, values={"title": "", "type": "variable"})
    outcome: Outcome = "unchanged"
    for variant in rec.variants:
        row = variants.setdefault(variant.provider_variant_id, _Row(None))
        digest = freshness.fingerprint(rec)
        verdict = row.verdict(rec.modified_at, digest)
        if verdict == "newer":
            row.product_pid = parent_pid
            row.write(rec.modified_at, digest, _variant_values(variant))
            outcome = "upserted"
        elif verdict == "stale" and outcome == "unchanged":
            outcome = "stale"
    return outcome


def _variant_values(variant: records.Variant) -> dict[str, Any]:
    return {
        "title": _clip(variant.title, 500) or "",
        "sku": _clip(variant.sku, 200) or "",
        "price_cents": variant.price.minor if variant.price else None,
        "stock_status": _clip(variant.stock_status, 40),
        "stock_quantity": variant.stock_quantity,
        "image_url": _clip(variant.image_url, 1000),
        "url": _clip(variant.url, 1000),
        "stock_from_parent": variant.stock_from_parent,
    }


def _write_products(
    session: Session, store: StoreContext, provider: str, products: dict[str, _Row]
) -> None:
    table = ProductRow.__table__
    now = clock.now()
    new = [(pid, row) for pid, row in products.items() if row.id is None and row.values]
    if new:
        defaults: dict[str, Any] = {
            "title": "",
            "type": "simple",
            "status": "publish",
            "slug": "",
            "url": None,
            "image_url": None,
            "categories": [],
            "price_cents": None,
            "currency": store.currency,
            "stock_status": None,
            "stock_quantity": None,
            "deleted": False,
            "deleted_at": None,
            "source_modified_at": None,
            "source_hash": None,
        }
        # A plain executemany and one SELECT for the ids: INSERT ... RETURNING in
        # executemany form is several times slower on PostgreSQL.
        session.execute(
            table.insert(),
            [
                {
                    **defaults,
                    **(row.values or {}),
                    "company_id": store.company_id,
                    "integration_id": store.integration_id,
                    "provider": provider,
                    "provider_product_id": pid,
                    "updated_at": now,
                }
                for pid, row in new
            ],
        )
        for pid, row in _load_products(session, store, [pid for pid, _ in new]).items():
            products[pid].id = row.id
    _update_rows(session, table, [row for row in products.values() if row.id and row.values])


def _write_variants(
    session: Session, store: StoreContext, products: dict[str, _Row], variants: dict[str, _Row]
) -> None:
    table = VariantRow.__table__
    new = [(vid, row) for vid, row in variants.items() if row.id is None and row.values]
    if new:
        session.execute(
            table.insert(),
            [
                {
                    **(row.values or {}),
                    "company_id": store.company_id,
                    "integration_id": store.integration_id,
                    "provider_variant_id": vid,
                    "product_id": products[row.product_pid or vid].id,
                }
                for vid, row in new
            ],
        )
    changed = [row for row in variants.values() if row.id and row.values]
    for row in changed:
        if row.product_pid is not None:
            assert row.values is not None
            row.values["product_id"] = products[row.product_pid].id
    _update_rows(session, table, changed)


def _update_rows(session: Session, table: Table, rows: list[_Row]) -> None:
    """executemany UPDATE, grouped by the set of columns written."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        values = row.values or {}
        groups.setdefault(tuple(sorted(values)), []).append({"row_id": row.id, **values})
    for columns, params in groups.items():
        session.execute(
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({name: bindparam(name) for name in columns}),
            params,
            execution_options={"synchronize_session": False},
        )


def mark_deleted(session: Session, store: StoreContext, provider: str, pid: str) -> Outcome:
    """A ``{"id": N}`` deletion of a product or a variation (see the module docstring)."""
    now = clock.now()
    products = _load_products(session, store, [pid])
    if pid in products:
        _update_rows(session, ProductRow.__table__, [_deletion(products[pid], now)])
        return "upserted"
    variants = _load_variants(session, store, [pid])
    if pid in variants:
        _update_rows(session, VariantRow.__table__, [_deletion(variants[pid], now)])
        return "upserted"
    # Never seen: remember the deletion so that an older payload arriving later stays dead.
    products[pid] = _deletion(_Row(None), now)
    _write_products(session, store, provider, products)
    return "upserted"


def _deletion(row: _Row, now: datetime) -> _Row:
    row.deleted_at = now
    row.values = {"deleted": freshness.is_deleted(row.at, now), "deleted_at": now}
    return row


# --- reading ------------------------------------------------------------------------------


def _like(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_products(
    session: Session,
    company_id: int,
    *,
    provider: str | None = None,
    search: str | None = None,
    include_deleted: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[ProductRow], int]:
    """A company's products, by title (then id); ``search`` matches title, id or SKU."""
    from sqlalchemy import func, or_

    query = select(ProductRow).where(ProductRow.company_id == company_id)
    if provider:
        query = query.where(ProductRow.provider == provider)
    if not include_deleted:
        query = query.where(ProductRow.deleted.is_(False))
    if search:
        pattern = _like(search.strip())
        query = query.where(
            or_(
                func.lower(ProductRow.title).like(pattern, escape="\\"),
                ProductRow.provider_product_id == search.strip(),
                ProductRow.id.in_(
                    select(VariantRow.product_id).where(
                        VariantRow.company_id == company_id,
                        func.lower(VariantRow.sku).like(pattern, escape="\\"),
                    )
                ),
            )
        )
    return paging.page(
        session,
        query,
        ProductRow.title,
        ProductRow.provider_product_id,
        ProductRow.id,
        limit=limit,
        offset=offset,
    )


def get_product(
    session: Session,
    company_id: int,
    provider: str,
    provider_product_id: str,
    integration_id: str | None = None,
) -> ProductRow | None:
    """One product of the company; with several stores, ``integration_id`` picks the store."""
    query = select(ProductRow).where(
        ProductRow.company_id == company_id,
        ProductRow.provider == provider,
        ProductRow.provider_product_id == provider_product_id,
    )
    if integration_id:
        query = query.where(ProductRow.integration_id == integration_id)
    return session.scalars(query.order_by(ProductRow.deleted, ProductRow.id).limit(1)).first()


def variants_of(session: Session, product_ids: list[int]) -> dict[int, list[VariantRow]]:
    found: dict[int, list[VariantRow]] = {pid: [] for pid in product_ids}
    if not product_ids:
        return found
    for row in session.scalars(
        select(VariantRow)
        .where(VariantRow.product_id.in_(product_ids), VariantRow.deleted.is_(False))
        .order_by(VariantRow.product_id, VariantRow.id)
    ):
        found[row.product_id].append(row)
    return found
