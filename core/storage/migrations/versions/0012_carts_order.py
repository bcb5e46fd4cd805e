"""carts_order: the settle timer that appends cart events in log order; order lookups

Revision ID: 0012_carts_order
Revises: 0011_back_in_stock_optin
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_carts_order"
down_revision = "0011_back_in_stock_optin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("carts") as batch:
        batch.add_column(sa.Column("settle_due_at", sa.DateTime(), nullable=True))
    op.create_index("ix_carts_settle_due_at", "carts", ["settle_due_at"])
    op.create_index("ix_carts_company_status", "carts", ["company_id", "status"])
    op.create_index("ix_carts_customer", "carts", ["integration_id", "provider_customer_id"])


def downgrade() -> None:
    op.drop_index("ix_carts_customer", table_name="carts")
    op.drop_index("ix_carts_company_status", table_name="carts")
    op.drop_index("ix_carts_settle_due_at", table_name="carts")
    with op.batch_alter_table("carts") as batch:
        batch.drop_column("settle_due_at")
