"""Datasets: uploaded files kept in object storage, one immutable object per version."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared_models.base import Base, UTCDateTime, utcnow


class DatasetFormat(StrEnum):
    """File formats a dataset may be uploaded in."""

    CSV = "csv"
    TSV = "tsv"
    JSON = "json"
    NDJSON = "ndjson"
    PARQUET = "parquet"
    XLSX = "xlsx"


class VersionState(StrEnum):
    """`pending` until its object is committed in storage; only `ready` versions are visible."""

    PENDING = "pending"
    READY = "ready"


class Dataset(Base):
    """A dataset owned by one user, personal or in a project; its content is in its versions."""

    __tablename__ = "dataset"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class DatasetVersion(Base):
    """One uploaded file: its object key, checksum and the shape found when it was checked."""

    __tablename__ = "dataset_version"
    __table_args__ = (
        UniqueConstraint("dataset_id", "version"),
        CheckConstraint(f"format IN {tuple(f.value for f in DatasetFormat)}", name="format_known"),
        CheckConstraint(f"state IN {tuple(s.value for s in VersionState)}", name="state_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10), default=VersionState.PENDING.value)
    format: Mapped[str] = mapped_column(String(10))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    row_count: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # The committed key; the upload sits at `temp_key` until the row is committed.
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    temp_key: Mapped[str | None] = mapped_column(String(255))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
