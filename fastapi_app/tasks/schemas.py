"""Tasks as the v1 API takes and shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

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
SourceId = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_integral)]


class _OnASource(Input):
    """A task reading exactly one source: a data source or a dataset."""

    # The schema says what validation does: an integer id, exactly one of the two keys present.
    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["data_source_id"]}, {"required": ["dataset_id"]}]}
    )

    data_source_id: SourceId | SkipJsonSchema[None] = Field(
        None, description="The data source to read (one you may query)"
    )
    dataset_id: SourceId | SkipJsonSchema[None] = Field(
        None, description="The dataset to read, as the table `data` (its latest version)"
    )

    @field_validator("data_source_id", "dataset_id", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("must be an id; leave the key out instead")
        return value

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Self:
        if (self.data_source_id is None) == (self.dataset_id is None):
            raise ValueError("give exactly one of data_source_id and dataset_id")
        return self


class QueryTaskCreate(_OnASource):
    """A query task: one read-only statement, its whole result stored."""

    kind: Literal["query"] = Field(description="`query` runs a read-only statement")
    query: QueryText


class ExportTaskCreate(_OnASource):
    """An export: a query whose result downloads in `format` by default."""

    kind: Literal["export"] = Field(description="`export` runs a query to download in `format`")
    query: QueryText
    format: Literal["csv", "parquet"] = Field(description="The format `/download` answers by default")


class ProfileTaskCreate(Input):
    """A profile of a dataset's columns: type, nulls, a distinct estimate, min, max, mean; one row each."""

    kind: Literal["profile"] = Field(description="`profile` computes per-column statistics")
    dataset_id: RowId = Field(ge=1, le=MAX_ID, description="The dataset to profile (its latest version)")


TaskCreate = Annotated[QueryTaskCreate | ExportTaskCreate | ProfileTaskCreate, Field(discriminator="kind")]


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
    dataset_id: int | None
    dataset_version: int | None = Field(description="The dataset version read, for a dataset task")
    query: str | None
    format: Literal["csv", "parquet"] | None = Field(description="An export's download format")
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
            dataset_id=task.dataset_id,
            dataset_version=task.params.get("version"),
            query=task.query,
            format=task.params.get("format"),
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
