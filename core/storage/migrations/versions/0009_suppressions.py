"""suppressions: addresses a mail server refused for good

Revision ID: 0009_suppressions
Revises: 0008_carts
Create Date: 2026-12-01 12:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_suppressions"
down_revision = "0008_carts"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("company_id", BigId, nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name="fk_suppressions_company_id_companies",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_suppressions"),
        sa.UniqueConstraint("company_id", "email", name="uq_suppressions_email"),
    )
    op.create_index("ix_suppressions_company_id", "suppressions", ["company_id"])


def downgrade() -> None:
    op.drop_index("ix_suppressions_company_id", table_name="suppressions")
    op.drop_table("suppressions")
