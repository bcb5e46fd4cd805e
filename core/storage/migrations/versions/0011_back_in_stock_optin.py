"""back_in_stock_optin: placeholder in the chain; filled in by the change that needs it

Revision ID: 0011_back_in_stock_optin
Revises: 0010_operations
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

revision = "0011_back_in_stock_optin"
down_revision = "0010_operations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
