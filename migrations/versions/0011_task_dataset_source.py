"""Tasks on datasets: analysis_tasks.dataset_id.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("analysis_tasks") as batch:
        batch.add_column(sa.Column("dataset_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_analysis_tasks_dataset_id_dataset"), "dataset", ["dataset_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index(op.f("ix_analysis_tasks_dataset_id"), ["dataset_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("analysis_tasks") as batch:
        batch.drop_index(op.f("ix_analysis_tasks_dataset_id"))
        batch.drop_constraint(op.f("fk_analysis_tasks_dataset_id_dataset"), type_="foreignkey")
        batch.drop_column("dataset_id")
