"""Submitting, listing, reading and cancelling tasks: plain functions over a Session.

Who may see a task is decided in one place, `visible_to` (owner or admin for now; project
sharing plugs in there). Anything else is the same 404 as a task that does not exist.
"""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from datalab import audit
from datalab.connectors import sql_guard
from datalab.connectors.base import ConnectorError
from datalab.connectors.registry import kind_of
from datalab.connectors.service import SourceFailed
from datalab.errors import Conflict, DomainError, Forbidden, NotFound
from datalab.services import data_sources
from datalab.services.pages import Page, PageRequest, paginate, valid_id
from datalab.tasks import state
from shared_models import AnalysisResult, AnalysisTask, Role, TaskKind, TaskStatus, User


def visible_to(actor: User) -> Select[AnalysisTask]:
    """Select the tasks `actor` may see and act on: their own, or every one for an admin."""
    statement = select(AnalysisTask)
    if actor.role != Role.ADMIN:
        statement = statement.where(AnalysisTask.owner_id == actor.id)
    return statement


def submit_query(session: Session, actor: User, *, data_source_id: int, query: str) -> AnalysisTask:
    """Queue a query task on a source the actor may use; refused writes are a 403 now, not later."""
    source = data_sources.get_owned(session, actor, data_source_id)
    # The dialect the read-only guard parses the query in (None: a REST path, not SQL).
    dialect = kind_of(source.type).dialect
    if dialect is not None:
        try:
            sql_guard.check_read_only(query, dialect)
        except ConnectorError as exc:
            raise SourceFailed(exc) from None
    task = AnalysisTask(
        owner_id=actor.id,
        kind=TaskKind.QUERY.value,
        status=TaskStatus.QUEUED.value,
        data_source_id=source.id,
        query=query,
        params={},
        progress=0.0,
        attempts=0,
    )
    session.add(task)
    session.flush()
    audit.record(
        session,
        "task.submit",
        user_id=actor.id,
        resource_type="task",
        resource_id=task.id,
        details={"kind": task.kind, "data_source_id": source.id, "query": query[:4000]},
    )
    return task


def get_visible(session: Session, actor: User, task_id: int) -> AnalysisTask:
    """Return a task the actor may see; anything else is NotFound."""
    task = session.scalars(visible_to(actor).where(AnalysisTask.id == task_id)).one_or_none()
    if task is None or not valid_id(task_id):
        raise NotFound("Task not found")
    return task


def list_tasks(
    session: Session,
    actor: User,
    page: PageRequest,
    *,
    everyone: bool = False,
    status: TaskStatus | None = None,
) -> Page[AnalysisTask]:
    """Return one page of tasks, newest first: the actor's own, or everyone's for an admin asking."""
    if everyone and actor.role != Role.ADMIN:
        raise Forbidden("Insufficient permissions")
    statement = (
        select(AnalysisTask) if everyone else select(AnalysisTask).where(AnalysisTask.owner_id == actor.id)
    )
    if status is not None:
        statement = statement.where(AnalysisTask.status == status.value)
    return paginate(session, statement.order_by(AnalysisTask.id.desc()), page)


def cancel(session: Session, actor: User, task: AnalysisTask) -> AnalysisTask:
    """Cancel a queued task at once, or ask a running one to stop; a finished task is a 409."""
    if task.status in {s.value for s in state.FINAL}:
        raise Conflict(f"The task has already {task.status}", code="TASK_FINISHED")
    state.request_cancel(session, task)
    audit.record(
        session,
        "task.cancel",
        user_id=actor.id,
        resource_type="task",
        resource_id=task.id,
        details={"status": task.status},
    )
    return task


class ResultGone(DomainError):
    """The task succeeded but its stored result is no longer there (removed from storage)."""

    status_code = 410
    code = "RESULT_GONE"


def result_of(session: Session, task: AnalysisTask) -> AnalysisResult:
    """Return the stored result of a succeeded task; 409 RESULT_NOT_READY before that."""
    result = session.get(AnalysisResult, task.id) if task.status == TaskStatus.SUCCEEDED.value else None
    if result is None:
        raise Conflict(f"The task is {task.status}; it has no result", code="RESULT_NOT_READY")
    return result
