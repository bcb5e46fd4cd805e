"""shopify: encrypted access tokens, inventory items and stock levels, privacy exports

Revision ID: 0014_shopify
Revises: 0013_commerce_api
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0014_shopify"
down_revision = "0013_commerce_api"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="CASCADE"
    )


def _tenant(table: str) -> list[Any]:
    return [
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("company_id", BigId, nullable=False),
        sa.Column("integration_id", sa.String(40), nullable=False),
        _fk(table, "company_id", "companies"),
        _fk(table, "integration_id", "integrations"),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    ]


def upgrade() -> None:
    with op.batch_alter_table("integrations") as batch:
        batch.add_column(sa.Column("access_token_ciphertext", sa.Text(), nullable=True))
    op.create_table(
        "inventory_items",
        *_tenant("inventory_items"),
        sa.Column("inventory_item_id", sa.String(64), nullable=False),
        sa.Column("provider_product_id", sa.String(64), nullable=False),
        sa.Column("provider_variant_id", sa.String(64), nullable=False),
        sa.Column("oversell", sa.Boolean(), nullable=False),
        sa.Column("source_modified_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("integration_id", "inventory_item_id", name="uq_inventory_items_item"),
    )
    op.create_index("ix_inventory_items_company_id", "inventory_items", ["company_id"])
    op.create_table(
        "stock_levels",
        *_tenant("stock_levels"),
        sa.Column("inventory_item_id", sa.String(64), nullable=False),
        sa.Column("location_id", sa.String(64), nullable=False),
        sa.Column("available", sa.Integer(), nullable=True),
        sa.Column("source_modified_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint(
            "integration_id", "inventory_item_id", "location_id", name="uq_stock_levels_level"
        ),
    )
    op.create_index("ix_stock_levels_company_id", "stock_levels", ["company_id"])
    op.create_table(
        "data_exports",
        *_tenant("data_exports"),
        sa.Column("request_id", sa.String(100), nullable=False),
        sa.Column("subject", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("integration_id", "request_id", name="uq_data_exports_request"),
    )
    op.create_index("ix_data_exports_company_id", "data_exports", ["company_id"])


def downgrade() -> None:
    op.drop_index("ix_data_exports_company_id", table_name="data_exports")
    op.drop_table("data_exports")
    op.drop_index("ix_stock_levels_company_id", table_name="stock_levels")
    op.drop_table("stock_levels")
    op.drop_index("ix_inventory_items_company_id", table_name="inventory_items")
    op.drop_table("inventory_items")
    with op.batch_alter_table("integrations") as batch:
        batch.drop_column("access_token_ciphertext")
