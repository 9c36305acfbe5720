"""Analysis tasks: a query, a profile or an export queued, run by a worker, and its one stored result."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared_models.base import Base, UTCDateTime, utcnow


class TaskStatus(enum.StrEnum):
    """Where a task is in its life; the last three are final."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TaskKind(enum.StrEnum):
    """What a task does; each kind is one entry of `datalab.tasks.kinds.KINDS`."""

    QUERY = "query"
    PROFILE = "profile"
    EXPORT = "export"


class AnalysisTask(Base):
    """One submitted task; its row is the only source of truth about its state (never the broker)."""

    __tablename__ = "analysis_tasks"
    __table_args__ = (Index("ix_analysis_tasks_owner_id_id", "owner_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.QUEUED.value, index=True)
    data_source_id: Mapped[int | None] = mapped_column(
        ForeignKey("data_source.id", ondelete="SET NULL"), index=True
    )
    # A dataset source instead of a data source (exactly one of the two is set at submit).
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("dataset.id", ondelete="SET NULL"), index=True)
    query: Mapped[str | None] = mapped_column(Text)
    # Per kind: the dataset version read, an export's format.
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    result_bytes: Mapped[int | None] = mapped_column(BigInteger)
    truncated: Mapped[str | None] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(String(1000))
    # Each claim by a worker adds one; the claim is refused past TASK_MAX_ATTEMPTS.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(255))
    # Renewed by the running attempt; another delivery may take over only once it is stale.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Seconds the finishing attempt ran, for the run-time histogram in /metrics.
    run_seconds: Mapped[float | None] = mapped_column(Float)


class AnalysisResult(Base):
    """The stored result of a task: at most one per task (its primary key is the task's id)."""

    __tablename__ = "analysis_results"

    task_id: Mapped[int] = mapped_column(
        ForeignKey("analysis_tasks.id", ondelete="CASCADE"), primary_key=True
    )
    object_key: Mapped[str] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(16), default="parquet")
    columns: Mapped[list[str]] = mapped_column(JSON, default=list)
    row_count: Mapped[int] = mapped_column(BigInteger)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    attempt: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
