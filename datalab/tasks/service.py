"""Submitting, listing, reading and cancelling tasks: plain functions over a Session.

Who may see a task is decided in one place, `visible_to`: its owner, an admin, and the members
of the project its data source or dataset is in (the projects `datalab.permissions` says the
caller belongs to). Anything else is the same 404 as a task that does not exist. Submitting
and cancelling need what a synchronous query needs on that source (`Action.QUERY`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from datalab import audit, permissions
from datalab.connectors import sql_guard
from datalab.connectors.base import ConnectorError
from datalab.connectors.registry import kind_of
from datalab.connectors.service import SourceFailed
from datalab.errors import Conflict, DomainError, Forbidden, NotFound
from datalab.permissions import Action
from datalab.services import data_sources, datasets
from datalab.services.pages import Page, PageRequest, paginate, valid_id
from datalab.tasks import state
from shared_models import (
    AnalysisResult,
    AnalysisTask,
    Dataset,
    DataSource,
    Role,
    TaskKind,
    TaskStatus,
    User,
)


def _mine_or_shared(actor: User) -> ColumnElement[bool]:
    projects = permissions.member_projects(actor)
    shared_sources = select(DataSource.id).where(DataSource.project_id.in_(projects))
    shared_datasets = select(Dataset.id).where(Dataset.project_id.in_(projects))
    return or_(
        AnalysisTask.owner_id == actor.id,
        AnalysisTask.data_source_id.in_(shared_sources),
        AnalysisTask.dataset_id.in_(shared_datasets),
    )


def visible_to(actor: User) -> Select[AnalysisTask]:
    """Select the tasks `actor` may see: own, on a source shared with them, or all for an admin."""
    statement = select(AnalysisTask)
    if actor.role != Role.ADMIN:
        statement = statement.where(_mine_or_shared(actor))
    return statement


@dataclass(frozen=True)
class TaskSpec:
    """A task as asked for: its kind, exactly one source, and the query and format its kind takes."""

    kind: TaskKind
    data_source_id: int | None = None
    dataset_id: int | None = None
    query: str | None = None
    format: str | None = None


def _guard(query: str | None, dialect: str | None, extra: Mapping[str, frozenset[str]]) -> None:
    # Refused now (403), not when a worker gets to it; dialect None is a REST path, not SQL.
    if query is None or dialect is None:
        return
    try:
        sql_guard.check_read_only(query, dialect, extra.get(dialect, frozenset()))
    except ConnectorError as exc:
        raise SourceFailed(exc) from None


def submit(
    session: Session, actor: User, spec: TaskSpec, *, extra_functions: Mapping[str, frozenset[str]]
) -> AnalysisTask:
    """Queue a task on a source the actor may query (as the synchronous query routes decide)."""
    params: dict[str, object] = {"format": spec.format} if spec.format else {}
    details: dict[str, object] = {"kind": spec.kind.value}
    if spec.dataset_id is not None:
        dataset = datasets.get_visible(session, actor, spec.dataset_id)
        permissions.require(session, actor, dataset.project_id, Action.QUERY)
        # Pinned now: a version uploaded while the task waits does not change what it reads.
        params["version"] = datasets.version_of(session, dataset, None).version
        _guard(spec.query, "duckdb", extra_functions)
        details.update(dataset_id=dataset.id, version=params["version"])
    else:
        assert spec.data_source_id is not None, "the schema asks for exactly one source"
        source = data_sources.get_visible(session, actor, spec.data_source_id)
        permissions.require(session, actor, source.project_id, Action.QUERY)
        _guard(spec.query, kind_of(source.type).dialect, extra_functions)
        details.update(data_source_id=source.id)
    task = AnalysisTask(
        owner_id=actor.id,
        kind=spec.kind.value,
        status=TaskStatus.QUEUED.value,
        data_source_id=spec.data_source_id,
        dataset_id=spec.dataset_id,
        query=spec.query,
        params=params,
        progress=0.0,
        attempts=0,
    )
    session.add(task)
    session.flush()
    if spec.query is not None:
        details["query"] = spec.query[:4000]
    audit.record(
        session, "task.submit", user_id=actor.id, resource_type="task", resource_id=task.id, details=details
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
    """Return one page of tasks, newest first: own and shared through projects, or all for an admin asking."""
    if everyone and actor.role != Role.ADMIN:
        raise Forbidden("Insufficient permissions")
    statement = select(AnalysisTask) if everyone else select(AnalysisTask).where(_mine_or_shared(actor))
    if status is not None:
        statement = statement.where(AnalysisTask.status == status.value)
    return paginate(session, statement.order_by(AnalysisTask.id.desc()), page)


def cancel(session: Session, actor: User, task: AnalysisTask) -> AnalysisTask:
    """Cancel a queued task at once, or ask a running one to stop; a finished task is a 409.

    The owner and admins may; another member of the source's project needs the right to query it.
    """
    if task.owner_id != actor.id:
        permissions.require(session, actor, _project_of(session, task), Action.QUERY)
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


def _project_of(session: Session, task: AnalysisTask) -> int | None:
    if task.dataset_id is not None:
        return session.scalar(select(Dataset.project_id).where(Dataset.id == task.dataset_id))
    return session.scalar(select(DataSource.project_id).where(DataSource.id == task.data_source_id))


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
