"""shopify: placeholder in the chain; filled in by the change that needs it

Revision ID: 0014_shopify
Revises: 0013_commerce_api
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

revision = "0014_shopify"
down_revision = "0013_commerce_api"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
