"""back_in_stock_optin: variants whose stock their product manages

Revision ID: 0011_back_in_stock_optin
Revises: 0010_operations
Create Date: 2026-12-01 13:00:00

A WooCommerce variation with ``manage_stock: "parent"`` takes its stock from its
parent: ``variants.stock_from_parent`` remembers it, so that a parent-only update
drives those variants' stock (and back-in-stock). The revision keeps the name it was
reserved under (double opt-in, which is not built yet).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_back_in_stock_optin"
down_revision = "0010_operations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("variants") as batch_op:
        batch_op.add_column(
            sa.Column("stock_from_parent", sa.Boolean(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("variants") as batch_op:
        batch_op.drop_column("stock_from_parent")
