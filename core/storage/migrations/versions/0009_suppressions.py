"""suppressions: placeholder in the chain; filled in by the change that needs it

Revision ID: 0009_suppressions
Revises: 0008_carts
Create Date: 2026-12-01 12:20:00
"""

from __future__ import annotations

revision = "0009_suppressions"
down_revision = "0008_carts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
