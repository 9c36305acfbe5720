"""Analysis tasks under /api/v1/tasks: submit, watch, page or download the result, cancel."""

from __future__ import annotations

import logging
from typing import Annotated, BinaryIO, Literal

from fastapi import APIRouter, BackgroundTasks, Query, Response, status
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from datalab.storage import StorageError
from datalab.tasks import service
from datalab.tasks.executors import Tasks
from fastapi_app.dependencies import CurrentUser, RuntimeDep, SessionDep, require_role
from fastapi_app.pagination import PageDep
from fastapi_app.responses import errors
from fastapi_app.tasks.dependencies import TasksDep, VisibleTask
from fastapi_app.tasks.schemas import (
    MAX_RESULT_PAGE,
    TaskCreate,
    TaskList,
    TaskRead,
    TaskResultPage,
    TaskSubmitted,
)
from shared_models import AnalysisTask, Role, TaskKind, TaskStatus, User

router = APIRouter(prefix="/tasks", tags=["tasks"])
Analyst = Annotated[User, require_role(Role.ANALYST)]
log = logging.getLogger(__name__)
MEDIA = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


def _dispatch(tasks: Tasks, sessions: sessionmaker[Session], task_id: int) -> None:
    # After the commit (a worker must find the row). A broker that refuses fails the task visibly.
    try:
        tasks.executor.submit(task_id)
    except Exception:
        log.exception("task %s could not be queued", task_id)
        with sessions.begin() as session:
            task = session.get_one(AnalysisTask, task_id)
            if task.status == TaskStatus.QUEUED.value:
                task.status, task.error_code = TaskStatus.FAILED.value, "BROKER_UNAVAILABLE"
                task.error_message = "The task queue could not be reached; submit the task again."


GONE = "The task's stored result is no longer available; run the task again"


def _stored(tasks: Tasks, key: str) -> BinaryIO:
    # Opened before any byte is answered, so a missing object is a clear 410, not a cut stream.
    try:
        return tasks.store.open_seekable(key)
    except StorageError:
        raise service.ResultGone(GONE) from None


@router.post(
    "",
    summary="Submit a task",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TaskSubmitted,
    responses=errors(401, 403, 404, 413, 422),
)
async def submit_task(
    session: SessionDep,
    runtime: RuntimeDep,
    tasks: TasksDep,
    actor: Analyst,
    task_in: TaskCreate,
    response: Response,
    background: BackgroundTasks,
) -> TaskSubmitted:
    """Queue a query, export or profile on a data source or dataset you may query; poll `Location`."""
    spec = service.TaskSpec(
        kind=TaskKind(task_in.kind),
        data_source_id=getattr(task_in, "data_source_id", None),
        dataset_id=task_in.dataset_id,
        query=getattr(task_in, "query", None),
        format=getattr(task_in, "format", None),
    )
    extra = runtime.connectors.limits.extra_functions

    def answer(db: Session) -> TaskSubmitted:
        task = service.submit(db, actor, spec, extra_functions=extra)
        factory = sessionmaker(db.get_bind(), expire_on_commit=False)
        background.add_task(_dispatch, tasks, factory, task.id)
        response.headers["Location"] = f"/api/v1/tasks/{task.id}"
        return TaskSubmitted(
            id=task.id, kind=task.kind, status=TaskStatus(task.status), created_at=task.created_at
        )

    return await session.run_sync(answer)


@router.get("", summary="List tasks", response_model=TaskList, responses=errors(401, 403, 422))
async def list_tasks(
    session: SessionDep,
    user: CurrentUser,
    page: PageDep,
    status: TaskStatus | None = None,
    all: Annotated[bool, Query(description="Every user's tasks (admins only)")] = False,
) -> TaskList:
    """List tasks newest first: own and shared through projects, or everyone's for an admin asking `all`."""

    def answer(db: Session) -> TaskList:
        found = service.list_tasks(db, user, page, everyone=all, status=status)
        return TaskList(
            items=[TaskRead.of(t) for t in found.items],
            total=found.total,
            limit=found.limit,
            offset=found.offset,
        )

    return await session.run_sync(answer)


@router.get(
    "/{task_id}", summary="Get a task's state", response_model=TaskRead, responses=errors(401, 404, 422)
)
def get_task(task: VisibleTask) -> TaskRead:
    """Return the task's status, progress, counts, error and times."""
    return TaskRead.of(task)


@router.get(
    "/{task_id}/result",
    summary="Page through a task's result",
    response_model=TaskResultPage,
    responses=errors(401, 404, 409, 410, 422),
)
async def task_result(
    session: SessionDep,
    tasks: TasksDep,
    task: VisibleTask,
    limit: Annotated[int, Query(ge=1, le=MAX_RESULT_PAGE, description="Rows per answer")] = 100,
    offset: Annotated[int, Query(ge=0, le=2**53, description="Rows to skip")] = 0,
) -> TaskResultPage:
    """Return rows of a succeeded task's stored result; 409 RESULT_NOT_READY before it succeeds."""

    def answer(db: Session) -> TaskResultPage:
        from datalab.tasks.parquet import read_page  # noqa: PLC0415 - pyarrow loads with the first read

        result = service.result_of(db, task)
        with _stored(tasks, result.object_key) as source:
            columns, rows = read_page(source, offset, limit)
        return TaskResultPage(
            columns=list(result.columns) or columns,
            data=rows,
            total=result.row_count,
            limit=limit,
            offset=offset,
            has_more=offset + len(rows) < result.row_count,
        )

    return await session.run_sync(answer)


@router.get(
    "/{task_id}/download",
    summary="Download a task's whole result",
    response_class=StreamingResponse,
    responses={
        200: {"content": {MEDIA["csv"]: {}, MEDIA["parquet"]: {}}, "description": "The result"},
        **errors(401, 404, 409, 410, 422),
    },
)
async def download_result(
    session: SessionDep,
    tasks: TasksDep,
    task: VisibleTask,
    format: Annotated[
        Literal["csv", "parquet"] | None,
        Query(description="csv (with a header) or parquet; default: an export's format, else csv"),
    ] = None,
) -> StreamingResponse:
    """Stream the whole stored result from the object storage, as CSV or as the Parquet object itself."""
    chosen = format or task.params.get("format") or "csv"

    def answer(db: Session) -> StreamingResponse:
        from datalab.tasks.parquet import csv_chunks  # noqa: PLC0415 - pyarrow loads with the first read

        key = service.result_of(db, task).object_key
        if chosen == "csv":
            chunks = csv_chunks(_stored(tasks, key))
        else:
            try:
                chunks = tasks.store.read_chunks(key)
            except StorageError:
                raise service.ResultGone(GONE) from None
        headers = {"Content-Disposition": f'attachment; filename="task-{task.id}.{chosen}"'}
        return StreamingResponse(chunks, media_type=MEDIA[chosen], headers=headers)

    return await session.run_sync(answer)


@router.post(
    "/{task_id}/cancel",
    summary="Cancel a task",
    response_model=TaskRead,
    responses=errors(401, 404, 409, 422),
)
async def cancel_task(session: SessionDep, task: VisibleTask, actor: CurrentUser) -> TaskRead:
    """Cancel a queued task (it never starts) or stop a running one at its source; 409 once finished.

    The owner and admins may; another project member needs the right to query the task's source.
    """

    def answer(db: Session) -> TaskRead:
        return TaskRead.of(service.cancel(db, actor, task))

    return await session.run_sync(answer)
