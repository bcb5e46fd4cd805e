"""Stock counted per location: inventory items, their levels, and the variant they roll up to.

Some stores (Shopify) do not report a variant's stock as one number: each inventory
item has a level per location, and a level update names only the item and the
location (wire-formats.md B7). The product payload says which variant an item belongs
to (:class:`records.InventoryItem`). A level (:class:`records.StockLevel`) is kept per
(item, location), newest ``modified_at`` wins, and the variant's stock becomes the sum
over its locations:

- more than 0 available: ``instock`` with that quantity;
- 0 or less, but the variant may be oversold (Shopify ``inventory_policy: continue``):
  ``instock`` with no quantity (buyable, not counted);
- otherwise ``outofstock`` with the sum.

A change of the variant's stock goes to :func:`waitlists.stock_changed`, exactly as a
product update does, so a restock through levels notifies the waitlist. A level for
an item not linked yet is kept: the product payload that links it carries the same
total (``inventory_quantity``) itself. Functions take a session and never commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from storeflow.core.commerce import records, waitlists
from storeflow.core.commerce.freshness import Outcome
from storeflow.core.storage.tables import InventoryItemRow, ProductRow, StockLevelRow, VariantRow
from storeflow.core.storage.upsert import upsert
from storeflow.core.stores.provider import StoreContext


def stock_of(total: int, *, oversell: bool) -> tuple[str, int | None]:
    """A variant's ``(stock_status, stock_quantity)`` from the sum over its locations."""
    if total > 0:
        return "instock", total
    if oversell:
        return "instock", None
    return "outofstock", total


def _older(incoming: datetime | None, stored: datetime | None) -> bool:
    # Shopify does not order deliveries (B3): an older level never overwrites a newer one.
    return incoming is not None and stored is not None and incoming < stored


def link(session: Session, store: StoreContext, rec: records.InventoryItem) -> Outcome:
    """Remember which variant ``rec.inventory_item_id`` counts (the newest link wins)."""
    stored = session.scalar(
        select(InventoryItemRow.source_modified_at).where(
            InventoryItemRow.integration_id == store.integration_id,
            InventoryItemRow.inventory_item_id == rec.inventory_item_id,
        )
    )
    if _older(rec.modified_at, stored):
        return "stale"
    upsert(
        session,
        InventoryItemRow.__table__,
        {
            "company_id": store.company_id,
            "integration_id": store.integration_id,
            "inventory_item_id": rec.inventory_item_id,
            "provider_product_id": rec.provider_product_id,
            "provider_variant_id": rec.provider_variant_id,
            "oversell": rec.oversell,
            "source_modified_at": rec.modified_at,
        },
        ["integration_id", "inventory_item_id"],
        ["provider_product_id", "provider_variant_id", "oversell", "source_modified_at"],
    )
    return "upserted"


def apply_level(
    session: Session, store: StoreContext, provider: str, rec: records.StockLevel
) -> Outcome:
    """Store one location's level; roll the item's levels up to its variant's stock."""
    row = session.scalar(
        select(StockLevelRow).where(
            StockLevelRow.integration_id == store.integration_id,
            StockLevelRow.inventory_item_id == rec.inventory_item_id,
            StockLevelRow.location_id == rec.location_id,
        )
    )
    if row is not None:
        if _older(rec.modified_at, row.source_modified_at):
            return "stale"
        if row.available == rec.available and row.source_modified_at == rec.modified_at:
            return "unchanged"
        row.available = rec.available
        row.source_modified_at = rec.modified_at
    else:
        session.add(
            StockLevelRow(
                company_id=store.company_id,
                integration_id=store.integration_id,
                inventory_item_id=rec.inventory_item_id,
                location_id=rec.location_id,
                available=rec.available,
                source_modified_at=rec.modified_at,
            )
        )
    session.flush()
    _roll_up(session, store, provider, rec.inventory_item_id)
    return "upserted"


def _roll_up(session: Session, store: StoreContext, provider: str, item_id: str) -> None:
    item = session.scalar(
        select(InventoryItemRow).where(
            InventoryItemRow.integration_id == store.integration_id,
            InventoryItemRow.inventory_item_id == item_id,
        )
    )
    if item is None:
        return
    variant = session.scalar(
        select(VariantRow).where(
            VariantRow.integration_id == store.integration_id,
            VariantRow.provider_variant_id == item.provider_variant_id,
        )
    )
    if variant is None:
        return
    total = session.scalar(
        select(func.coalesce(func.sum(StockLevelRow.available), 0)).where(
            StockLevelRow.integration_id == store.integration_id,
            StockLevelRow.inventory_item_id == item_id,
        )
    )
    before = (variant.stock_status, variant.stock_quantity)
    after = stock_of(int(total or 0), oversell=item.oversell)
    if after == before:
        return
    variant.stock_status, variant.stock_quantity = after
    _product_stock(session, variant.product_id)
    waitlists.stock_changed(
        session,
        store,
        provider,
        [waitlists.StockChange(item.provider_product_id, item.provider_variant_id, before, after)],
    )


def _product_stock(session: Session, product_id: int) -> None:
    """A product is in stock while any of its variants is (the catalogue's roll-up)."""
    session.flush()
    rows = session.execute(
        select(VariantRow.stock_status, VariantRow.stock_quantity).where(
            VariantRow.product_id == product_id, VariantRow.deleted.is_(False)
        )
    ).all()
    status = "instock" if any(row.stock_status == "instock" for row in rows) else "outofstock"
    counted = [row.stock_quantity for row in rows if row.stock_quantity is not None]
    quantity = sum(counted) if counted and len(counted) == len(rows) else None
    session.execute(
        update(ProductRow)
        .where(ProductRow.id == product_id)
        .values(stock_status=status, stock_quantity=quantity)
    )
