"""carts: placeholder in the chain; filled in by the change that needs it

Revision ID: 0008_carts
Revises: 0007_back_in_stock
Create Date: 2026-12-01 12:20:00
"""

from __future__ import annotations

revision = "0008_carts"
down_revision = "0007_back_in_stock"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
