"""Data sources as the v1 API shows them: configs always masked."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Row

from datalab.connectors.base import QueryResult, SchemaInfo, TestResult
from datalab.connectors.fields import QueryLimit, QueryText
from datalab.crypto import ConfigCipher
from datalab.fields import Description, Tag
from datalab.inputs import DataSourceCreate, Input
from datalab.masking import mask_secrets
from fastapi_app.pagination import Paginated
from fastapi_app.projects.schemas import ProjectId
from shared_models import DataSource, SourceStatus, SourceType


class DataSourceCreateV1(DataSourceCreate):
    """A new data source, personal or (with `project_id`) shared in a project the caller edits."""

    project_id: ProjectId | None = None


class DataSourceReplace(DataSourceCreate):
    """A whole data source, as PUT replaces it: every updatable field must be sent."""

    description: Description | None
    tags: list[Tag] = Field(max_length=20)


class DataSourceRead(BaseModel):
    """A data source; every secret in `config` reads "********"."""

    id: int
    owner_id: int
    project_id: int | None
    name: str
    type: SourceType
    status: SourceStatus
    description: str | None
    tags: list[str]
    is_active: bool
    config: dict[str, Any] | None = Field(
        description="Secrets read ********; null in a list when no configured key can decrypt it"
    )
    last_test: datetime | None
    last_used: datetime | None
    usage_count: int
    error_message: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(
        cls, source: DataSource | Row[Any], cipher: ConfigCipher, *, listed: bool = False
    ) -> DataSourceRead:
        """Describe `source` (an entity, or a listed row), decrypting its config only to mask it."""
        return cls(
            id=source.id,
            owner_id=source.owner_id,
            project_id=source.project_id,
            name=source.name,
            type=SourceType(source.type),
            status=SourceStatus(source.status),
            description=source.description,
            tags=list(source.tags or []),
            is_active=source.is_active,
            # Alone, an unreadable config is a 409 (ConfigUnreadable); in a list it reads null.
            config=cipher.masked(source.config_encrypted)
            if listed
            else mask_secrets(cipher.decrypt(source.config_encrypted)),
            last_test=source.last_test,
            last_used=source.last_used,
            usage_count=source.usage_count,
            error_message=source.error_message,
            created_at=source.created_at,
            updated_at=source.updated_at,
        )


class DataSourceList(Paginated[DataSourceRead]):
    """A slice of the data-source list."""


class ConnectionTestRead(BaseModel):
    """The outcome of a connection test; a failed connection is a success=false answer, not an error."""

    success: bool
    message: str
    latency_ms: float
    error_code: str | None = Field(description="The failure's stable code (UNREACHABLE, TIMEOUT, ...)")
    metadata: dict[str, Any]

    @classmethod
    def of(cls, result: TestResult) -> ConnectionTestRead:
        """Describe `result`."""
        return cls(
            success=result.success,
            message=result.message,
            latency_ms=round(result.latency_ms, 1),
            error_code=result.error_code,
            metadata=result.metadata,
        )


class ColumnRead(BaseModel):
    """A column: its name, its type as the source names it, and whether it may be null."""

    name: str
    type: str
    nullable: bool


class TableRead(BaseModel):
    """A table or view of the source; for csv and json sources, the one table `data`."""

    name: str
    schema_: str | None = Field(alias="schema", serialization_alias="schema")
    columns: list[ColumnRead]
    indexes: list[dict[str, Any]]
    constraints: list[dict[str, Any]]


Truncated = Literal["rows", "bytes"]


class SchemaRead(BaseModel):
    """What a source holds, cut at QUERY_MAX_BYTES (`truncated` is then "bytes")."""

    tables: list[TableRead]
    truncated: Literal["bytes"] | None = Field(
        None, description='"bytes" when the tables were cut at QUERY_MAX_BYTES, else null'
    )

    @classmethod
    def of(cls, info: SchemaInfo) -> SchemaRead:
        """Describe `info`."""
        tables = [asdict(table) for table in info.tables]
        return cls.model_validate({"tables": tables, "truncated": info.truncated})


class QueryIn(Input):
    """One read-only statement (SELECT or WITH ... SELECT); a csv or json source is the table `data`."""

    query: QueryText
    limit: QueryLimit | None = Field(None, description="Rows to return at most; capped by QUERY_MAX_ROWS")


class QueryRead(BaseModel):
    """Rows of a query as objects, the column names in order, and whether (and why) rows were cut."""

    data: list[dict[str, Any]]
    columns: list[str]
    row_count: int
    execution_time_ms: float
    has_more: bool
    truncated: Truncated | None = Field(
        None,
        description='Why the rows were cut: "rows" (the limit or QUERY_MAX_ROWS), "bytes" '
        "(QUERY_MAX_BYTES of JSON rows); null when every row is here",
    )

    @classmethod
    def of(cls, result: QueryResult) -> QueryRead:
        """Describe `result`."""
        return cls(
            data=result.rows,
            columns=result.columns,
            row_count=result.row_count,
            execution_time_ms=round(result.execution_time_ms, 1),
            has_more=result.has_more,
            truncated=result.truncated,
        )
