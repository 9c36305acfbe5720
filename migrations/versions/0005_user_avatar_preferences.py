"""Profile fields of the platform's user model: avatar_url (https) and preferences (a JSON object).

Existing users get no avatar and empty preferences. Plain ADD/DROP COLUMN on both databases
(SQLite has had DROP COLUMN since 3.35), so the user table is never rebuilt.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("user_account", sa.Column("avatar_url", sa.String(length=2048), nullable=True))
    op.add_column(
        "user_account", sa.Column("preferences", sa.JSON(), server_default=sa.text("'{}'"), nullable=False)
    )


def downgrade() -> None:
    op.drop_column("user_account", "preferences")
    op.drop_column("user_account", "avatar_url")
