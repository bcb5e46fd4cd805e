"""back_in_stock: placeholder in the chain; filled in by the change that needs it

Revision ID: 0007_back_in_stock
Revises: 0006_replenishment
Create Date: 2026-12-01 12:20:00
"""

from __future__ import annotations

revision = "0007_back_in_stock"
down_revision = "0006_replenishment"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
