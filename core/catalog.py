"""Products and variants, upserted with stale-update protection.

A record older than what is stored (by the source's modified time) never
overwrites it. A variation record (``parent_id`` set) updates one variant of its
parent and leaves the parent's own fields alone; if the parent has not arrived
yet, a placeholder parent is created and filled in when it does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import records
from core.provider import StoreContext
from core.tables import Product, Variant

Outcome = Literal["upserted", "stale"]


def is_stale(stored: datetime | None, incoming: datetime | None) -> bool:
    return stored is not None and incoming is not None and incoming < stored


def _product_row(session: Session, store: StoreContext, provider: str, pid: str) -> Product | None:
    return session.scalar(
        select(Product).where(
            Product.integration_id == store.integration_id, Product.provider_product_id == pid
        )
    )


def _new_product(session: Session, store: StoreContext, provider: str, pid: str) -> Product:
    row = Product(
        company_id=store.company_id,
        integration_id=store.integration_id,
        provider=provider,
        provider_product_id=pid,
        title="",
        categories=[],
    )
    session.add(row)
    session.flush()
    return row


def upsert_product(
    session: Session, store: StoreContext, provider: str, rec: records.Product
) -> Outcome:
    if rec.parent_id is not None:
        return _upsert_variation(session, store, provider, rec)
    row = _product_row(session, store, provider, rec.provider_product_id)
    if row is not None and is_stale(row.source_modified_at, rec.modified_at):
        return "stale"
    if row is None:
        row = _new_product(session, store, provider, rec.provider_product_id)
    row.title = rec.title
    row.type = rec.type
    row.status = rec.status
    row.slug = rec.slug
    row.url = rec.url
    row.image_url = rec.image_url
    row.categories = list(rec.categories)
    row.price_cents = rec.price.minor if rec.price else None
    row.currency = rec.price.currency if rec.price else store.currency
    row.stock_status = rec.stock_status
    row.stock_quantity = rec.stock_quantity
    row.deleted = False
    row.source_modified_at = rec.modified_at or row.source_modified_at
    for variant in rec.variants:
        _apply_variant(session, store, row, variant, rec.modified_at)
    return "upserted"


def _upsert_variation(
    session: Session, store: StoreContext, provider: str, rec: records.Product
) -> Outcome:
    parent = _product_row(session, store, provider, rec.parent_id or "")
    if parent is None:
        parent = _new_product(session, store, provider, rec.parent_id or "")
        parent.type = "variable"
    outcome: Outcome = "upserted"
    for variant in rec.variants:
        if not _apply_variant(session, store, parent, variant, rec.modified_at):
            outcome = "stale"
    return outcome


def _apply_variant(
    session: Session,
    store: StoreContext,
    product: Product,
    rec: records.Variant,
    modified_at: datetime | None,
) -> bool:
    row = session.scalar(
        select(Variant).where(
            Variant.integration_id == store.integration_id,
            Variant.provider_variant_id == rec.provider_variant_id,
        )
    )
    if row is not None and is_stale(row.source_modified_at, modified_at):
        return False
    if row is None:
        row = Variant(
            company_id=store.company_id,
            integration_id=store.integration_id,
            product_id=product.id,
            provider_variant_id=rec.provider_variant_id,
        )
        session.add(row)
    row.product_id = product.id
    row.title = rec.title
    row.sku = rec.sku
    row.price_cents = rec.price.minor if rec.price else None
    row.stock_status = rec.stock_status
    row.stock_quantity = rec.stock_quantity
    row.image_url = rec.image_url
    row.url = rec.url
    row.source_modified_at = modified_at or row.source_modified_at
    session.flush()
    return True


def mark_deleted(session: Session, store: StoreContext, provider: str, pid: str) -> Outcome:
    row = _product_row(session, store, provider, pid)
    if row is None:
        # Also a variation id? Deleting a variation removes nothing we can't restore.
        row = _new_product(session, store, provider, pid)
    row.deleted = True
    return "upserted"
