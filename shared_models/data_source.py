"""Data sources: connection configs for external databases, files and REST APIs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text, true
from sqlalchemy.orm import Mapped, mapped_column

from shared_models.base import Base, UTCDateTime, utcnow


class SourceType(StrEnum):
    """Kinds of data source a connector exists for: `datalab.connectors.registry.KINDS`, as stored.

    The registry owns the types (it needs the connectors; this package does not import them);
    tests/datalab/connectors/test_registry.py holds the two equal, and the CHECK constraint below
    is built from these values.
    """

    POSTGRESQL = "postgresql"
    MYSQL = "mysql"
    SQLITE = "sqlite"
    CSV = "csv"
    JSON = "json"
    REST_API = "rest_api"
    PARQUET = "parquet"
    XLSX = "xlsx"


class SourceStatus(StrEnum):
    """What the last connection test found."""

    PENDING = "pending"
    CONNECTED = "connected"
    FAILED = "failed"
    DISABLED = "disabled"


class DataSource(Base):
    """A connection config owned by one user; `config_encrypted` holds the Fernet-encrypted JSON."""

    __tablename__ = "data_source"
    __table_args__ = (
        CheckConstraint(f"type IN {tuple(t.value for t in SourceType)}", name="type_known"),
        CheckConstraint(f"status IN {tuple(s.value for s in SourceStatus)}", name="status_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    # A source in a project is shared with its members; None is a personal source.
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=SourceStatus.PENDING.value)
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    config_encrypted: Mapped[str] = mapped_column(Text)
    last_test: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used: Mapped[datetime | None] = mapped_column(UTCDateTime())
    usage_count: Mapped[int] = mapped_column(Integer, default=0)
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


# One active source per owner and name; soft-deleted ones leave their name free.
Index(
    "uq_data_source_owner_active_name",
    DataSource.owner_id,
    DataSource.name,
    unique=True,
    sqlite_where=text("is_active"),
    postgresql_where=text("is_active"),
)


# A caller's page (owner_id = ? ORDER BY id DESC) reads this index alone; it also serves the foreign key.
Index("ix_data_source_owner_id_id", DataSource.owner_id, DataSource.id)
