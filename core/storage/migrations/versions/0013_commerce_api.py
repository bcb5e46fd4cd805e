"""commerce_api: placeholder in the chain; filled in by the change that needs it

Revision ID: 0013_commerce_api
Revises: 0012_carts_order
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

revision = "0013_commerce_api"
down_revision = "0012_carts_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
