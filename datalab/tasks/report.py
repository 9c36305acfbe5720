"""`datalab tasks`: recent tasks as a plain table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared_models import AnalysisTask

HEADER = (
    f"{'id':>7}  {'status':<9}  {'kind':<6}  {'owner':>5}  {'rows':>10}  {'att':>3}  {'seconds':>8}  created"
)


def _seconds(task: AnalysisTask) -> str:
    if task.started_at is None:
        return "-"
    end = task.finished_at or datetime.now(task.started_at.tzinfo)
    return f"{(end - task.started_at).total_seconds():.1f}"


def recent_tasks(session: Session, *, limit: int, status: str | None = None) -> list[str]:
    """Return a header and one line per task, newest first (with the error code of failed ones)."""
    statement = select(AnalysisTask).order_by(AnalysisTask.id.desc()).limit(limit)
    if status is not None:
        statement = statement.where(AnalysisTask.status == status)
    lines = [HEADER]
    for task in session.scalars(statement):
        rows = "-" if task.row_count is None else str(task.row_count)
        line = (
            f"{task.id:>7}  {task.status:<9}  {task.kind:<6}  {task.owner_id:>5}  {rows:>10}  "
            f"{task.attempts:>3}  {_seconds(task):>8}  {task.created_at:%Y-%m-%d %H:%M:%S}"
        )
        lines.append(f"{line}  {task.error_code}" if task.error_code else line)
    if len(lines) == 1:
        lines.append("(no tasks)")
    return lines
