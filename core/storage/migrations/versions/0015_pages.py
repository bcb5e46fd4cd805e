"""pages: placeholder in the chain; filled in by the change that needs it

Revision ID: 0015_pages
Revises: 0014_shopify
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

revision = "0015_pages"
down_revision = "0014_shopify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
