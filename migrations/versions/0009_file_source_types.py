"""Parquet and XLSX data sources: widen the data_source type CHECK.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28 09:00:00

The type lists are written out, not read from the registry: a revision is a snapshot, and must
keep meaning what it meant when later types are added.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEFORE = ("postgresql", "mysql", "sqlite", "csv", "json", "rest_api")
AFTER = (*BEFORE, "parquet", "xlsx")


def _type_check(types: tuple[str, ...]) -> None:
    # SQLite cannot alter a constraint in place; batch mode rebuilds the table there.
    with op.batch_alter_table("data_source") as batch:
        batch.drop_constraint(op.f("ck_data_source_type_known"), type_="check")
        batch.create_check_constraint(op.f("ck_data_source_type_known"), f"type IN {types!r}")


def upgrade() -> None:
    _type_check(AFTER)


def downgrade() -> None:
    # The older schema cannot hold these sources: they go, as a downgrade drops any newer feature's rows.
    data_source = sa.table("data_source", sa.column("type", sa.String))
    op.execute(data_source.delete().where(data_source.c.type.not_in(BEFORE)))
    _type_check(BEFORE)
