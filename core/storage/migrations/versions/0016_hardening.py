"""hardening: placeholder in the chain; filled in by the change that needs it

Revision ID: 0016_hardening
Revises: 0015_pages
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

revision = "0016_hardening"
down_revision = "0015_pages"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
