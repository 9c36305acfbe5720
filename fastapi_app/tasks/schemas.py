"""Tasks as the v1 API takes and shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field

from datalab.connectors.fields import QueryText
from datalab.inputs import Input
from datalab.services.pages import MAX_ID
from fastapi_app.pagination import Paginated
from shared_models import AnalysisTask, TaskStatus

MAX_RESULT_PAGE = 10_000


def _integral(value: object) -> object:
    # JSON has one number type: 7.0 is the integer 7 to a JSON schema, so to us too (as config ports).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


RowId = Annotated[int, BeforeValidator(_integral)]


class TaskCreate(Input):
    """A query task: one read-only statement run on a data source, its whole result stored."""

    kind: Literal["query"] = Field(description="What the task does; `query` runs a read-only statement")
    data_source_id: RowId = Field(
        ge=1, le=MAX_ID, description="The data source to query (yours, or any for an admin)"
    )
    query: QueryText


class TaskSubmitted(BaseModel):
    """A task accepted and queued; poll `Location` for its state."""

    id: int
    kind: str
    status: TaskStatus
    created_at: datetime


class TaskError(BaseModel):
    """Why a task failed: a stable code and a message for people."""

    code: str
    message: str


class TaskRead(BaseModel):
    """A task's state.

    While running, `progress` is the rows stored over TASK_MAX_ROWS (a source does not say how
    many rows are coming); it is 1 once the task succeeded.
    """

    id: int
    owner_id: int
    kind: str
    status: TaskStatus
    data_source_id: int | None
    query: str | None
    progress: float = Field(ge=0, le=1)
    row_count: int | None = Field(description="Rows stored so far, or in the result")
    result_bytes: int | None = Field(description="Size of the stored Parquet result")
    truncated: Literal["rows", "bytes"] | None = Field(
        description="Set when the result stopped at TASK_MAX_ROWS or TASK_MAX_BYTES"
    )
    error: TaskError | None
    attempts: int = Field(description="Deliveries that started the task")
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, task: AnalysisTask) -> TaskRead:
        """Describe `task`."""
        error = TaskError(code=task.error_code, message=task.error_message or "") if task.error_code else None
        return cls(
            id=task.id,
            owner_id=task.owner_id,
            kind=task.kind,
            status=TaskStatus(task.status),
            data_source_id=task.data_source_id,
            query=task.query,
            progress=task.progress,
            row_count=task.row_count,
            result_bytes=task.result_bytes,
            truncated=task.truncated,
            error=error,
            attempts=task.attempts,
            cancel_requested=task.cancel_requested_at is not None,
            created_at=task.created_at,
            started_at=task.started_at,
            finished_at=task.finished_at,
        )


class TaskList(Paginated[TaskRead]):
    """A slice of the task list."""


class TaskResultPage(BaseModel):
    """Rows `offset` to `offset + limit` of a task's result, as objects (same value rules as queries)."""

    columns: list[str]
    data: list[dict[str, Any]]
    total: int = Field(description="Rows in the whole result")
    limit: int
    offset: int
    has_more: bool
