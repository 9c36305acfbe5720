"""Route migration: request and shadow counts per legacy route, and recorded shadow mismatches.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "route_stats",
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("served_legacy_flask", sa.BigInteger(), nullable=False),
        sa.Column("served_fastapi", sa.BigInteger(), nullable=False),
        sa.Column("shadow_compared", sa.BigInteger(), nullable=False),
        sa.Column("shadow_mismatches", sa.BigInteger(), nullable=False),
        sa.Column("shadow_skipped", sa.BigInteger(), nullable=False),
        sa.Column("live_state", sa.String(length=16), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("route", name=op.f("pk_route_stats")),
    )
    op.create_table(
        "shadow_mismatch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("diff", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadow_mismatch")),
    )
    op.create_index(op.f("ix_shadow_mismatch_route"), "shadow_mismatch", ["route"], unique=False)
    op.create_index(op.f("ix_shadow_mismatch_created_at"), "shadow_mismatch", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_shadow_mismatch_created_at"), table_name="shadow_mismatch")
    op.drop_index(op.f("ix_shadow_mismatch_route"), table_name="shadow_mismatch")
    op.drop_table("shadow_mismatch")
    op.drop_table("route_stats")
