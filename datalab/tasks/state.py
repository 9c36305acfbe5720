"""The task state machine, as conditional updates: every transition names the states it leaves.

A delivery claims a task (`queued`, or `running` with a stale heartbeat) and gets an attempt
number; every later write of that attempt is fenced by it (`WHERE attempts = :attempt AND
status = 'running'`). So a duplicate delivery of a finished task changes nothing, and a stale
attempt that wakes up after another took over writes nothing either.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from shared_models import AnalysisResult, AnalysisTask, TaskStatus

FINAL = (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)


class Claim(enum.Enum):
    """What a delivery found when it tried to claim its task."""

    CLAIMED = "claimed"
    FINISHED = "finished"  # already final (a duplicate, or cancelled while queued): nothing to do
    BUSY = "busy"  # another attempt holds a live lease: try again later
    GONE = "gone"  # no such task


@dataclass(frozen=True)
class ClaimResult:
    """The outcome of a claim and, when claimed, the attempt number that fences later writes."""

    outcome: Claim
    attempt: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


def _set(session: Session, task_id: int, where: Any, **values: Any) -> bool:
    result = session.execute(
        update(AnalysisTask).where(AnalysisTask.id == task_id, where).values(**values),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def claim(session: Session, task_id: int, *, worker: str, lease_s: float, max_attempts: int) -> ClaimResult:
    """Take the task for one attempt, or say why not; a task out of attempts ends WORKER_LOST."""
    now = _now()
    stale = now - timedelta(seconds=lease_s)
    takeable = or_(
        AnalysisTask.status == TaskStatus.QUEUED.value,
        and_(AnalysisTask.status == TaskStatus.RUNNING.value, AnalysisTask.heartbeat_at < stale),
    )
    open_attempts = AnalysisTask.attempts < max_attempts
    attempt = session.execute(
        update(AnalysisTask)
        .where(
            AnalysisTask.id == task_id, takeable, open_attempts, AnalysisTask.cancel_requested_at.is_(None)
        )
        .values(
            status=TaskStatus.RUNNING.value,
            attempts=AnalysisTask.attempts + 1,
            worker=worker[:255],
            heartbeat_at=now,
            started_at=now,
            progress=0.0,
            row_count=0,
        )
        .returning(AnalysisTask.attempts),
        execution_options={"synchronize_session": False},
    ).scalar_one_or_none()
    if attempt is not None:
        return ClaimResult(Claim.CLAIMED, int(attempt))
    # Out of attempts, or cancelled while no attempt ran: settle it here, once.
    if _set(
        session,
        task_id,
        and_(takeable, AnalysisTask.cancel_requested_at.is_not(None)),
        status=TaskStatus.CANCELLED.value,
        finished_at=now,
    ):
        return ClaimResult(Claim.FINISHED)
    if _set(
        session,
        task_id,
        and_(takeable, ~open_attempts),
        status=TaskStatus.FAILED.value,
        error_code="WORKER_LOST",
        error_message="The task's worker stopped before finishing, on every attempt.",
        finished_at=now,
    ):
        return ClaimResult(Claim.FINISHED)
    status = session.scalar(select(AnalysisTask.status).where(AnalysisTask.id == task_id))
    if status is None:
        return ClaimResult(Claim.GONE)
    return ClaimResult(Claim.BUSY if status == TaskStatus.RUNNING.value else Claim.FINISHED)


def _fenced(attempt: int) -> Any:
    return and_(AnalysisTask.status == TaskStatus.RUNNING.value, AnalysisTask.attempts == attempt)


def heartbeat(session: Session, task_id: int, attempt: int, *, rows: int, progress: float) -> bool:
    """Renew the lease and report progress; False when this attempt no longer owns the task."""
    return _set(session, task_id, _fenced(attempt), heartbeat_at=_now(), row_count=rows, progress=progress)


def cancel_requested(session: Session, task_id: int) -> bool:
    """Tell whether someone asked to cancel the task."""
    asked = session.scalar(select(AnalysisTask.cancel_requested_at).where(AnalysisTask.id == task_id))
    return asked is not None


def succeed(
    session: Session,
    task_id: int,
    attempt: int,
    *,
    object_key: str,
    columns: list[str],
    rows: int,
    size: int,
    truncated: str | None,
    ran_s: float | None = None,
) -> bool:
    """Finish the attempt and record its one result row; False (and no write) for a fenced-out attempt."""
    if not _set(
        session,
        task_id,
        _fenced(attempt),
        status=TaskStatus.SUCCEEDED.value,
        progress=1.0,
        row_count=rows,
        result_bytes=size,
        truncated=truncated,
        finished_at=_now(),
        run_seconds=ran_s,
    ):
        return False
    session.add(
        AnalysisResult(
            task_id=task_id,
            object_key=object_key,
            format="parquet",
            columns=columns,
            row_count=rows,
            size_bytes=size,
            attempt=attempt,
        )
    )
    session.flush()
    return True


def fail(
    session: Session, task_id: int, attempt: int, *, code: str, message: str, ran_s: float | None = None
) -> bool:
    """End the attempt as failed with a stable code and a safe message."""
    return _set(
        session,
        task_id,
        _fenced(attempt),
        status=TaskStatus.FAILED.value,
        error_code=code[:64],
        error_message=message[:1000],
        finished_at=_now(),
        run_seconds=ran_s,
    )


def cancelled(session: Session, task_id: int, attempt: int, *, ran_s: float | None = None) -> bool:
    """End the attempt as cancelled."""
    values = {"status": TaskStatus.CANCELLED.value, "finished_at": _now(), "run_seconds": ran_s}
    return _set(session, task_id, _fenced(attempt), **values)


def request_cancel(session: Session, task: AnalysisTask) -> None:
    """Cancel a queued task at once (it will never start); ask a running one to stop."""
    now = _now()
    _set(
        session,
        task.id,
        AnalysisTask.status == TaskStatus.QUEUED.value,
        status=TaskStatus.CANCELLED.value,
        cancel_requested_at=now,
        finished_at=now,
    )
    _set(
        session,
        task.id,
        and_(AnalysisTask.status == TaskStatus.RUNNING.value, AnalysisTask.cancel_requested_at.is_(None)),
        cancel_requested_at=now,
    )
    session.refresh(task)
