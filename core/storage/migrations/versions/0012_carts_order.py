"""carts_order: placeholder in the chain; filled in by the change that needs it

Revision ID: 0012_carts_order
Revises: 0011_back_in_stock_optin
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

revision = "0012_carts_order"
down_revision = "0011_back_in_stock_optin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
