"""Data sources under /api/v1/data-sources: the caller's own, or any for an admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.orm import Session

from datalab.connectors import ConnectorError
from datalab.connectors import service as connections
from datalab.fields import SearchText, Tag
from datalab.inputs import DataSourceUpdate
from datalab.services import data_sources
from datalab.services.pages import MAX_ID
from fastapi_app.data_sources.dependencies import OwnedDataSource, QueryableDataSource, TestableDataSource
from fastapi_app.data_sources.schemas import (
    ConnectionTestRead,
    DataSourceCreateV1,
    DataSourceList,
    DataSourceRead,
    DataSourceReplace,
    QueryIn,
    QueryRead,
    SchemaRead,
)
from fastapi_app.dependencies import CurrentUser, RuntimeDep, SessionDep, require_role
from fastapi_app.pagination import PageDep
from fastapi_app.responses import errors
from shared_models import Role, SourceStatus, SourceType, User

router = APIRouter(prefix="/data-sources", tags=["data sources"])
Writer = Annotated[User, require_role(Role.USER)]
Analyst = Annotated[User, require_role(Role.ANALYST)]
# Connector failures: 400 QUERY_INVALID for a query naming what the source lacks (or not parsing),
# 403 for a refused query, host or path, 502 when the source answers with another error, 504
# when it does not answer in time, 503 when every connector thread is busy.
SOURCE_ERRORS = (400, 401, 403, 404, 409, 413, 422, 502, 503, 504)


@router.get("", summary="List data sources", responses=errors(401, 403, 404, 422))
async def list_sources(
    session: SessionDep,
    runtime: RuntimeDep,
    user: CurrentUser,
    page: PageDep,
    type: SourceType | None = None,
    status: SourceStatus | None = None,
    tag: Annotated[Tag | None, Query(description="Only sources with this tag")] = None,
    name: Annotated[SearchText | None, Query(description="Part of the name")] = None,
    all: Annotated[bool, Query(description="Every user's sources (admins only)")] = False,
    project_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only this project's sources")
    ] = None,
) -> DataSourceList:
    """List active sources newest first: the caller's own, or everyone's for an admin asking `all`."""

    def answer(db: Session) -> DataSourceList:
        found = data_sources.list_sources(
            db,
            user,
            page,
            everyone=all,
            source_type=type,
            status=status,
            tag=tag,
            name_contains=name,
            project_id=project_id,
        )
        return DataSourceList(
            items=[DataSourceRead.of(s, runtime.cipher, listed=True) for s in found.items],
            total=found.total,
            limit=found.limit,
            offset=found.offset,
        )

    return await session.run_sync(answer)


@router.post(
    "",
    summary="Create a data source",
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403, 404, 409, 413, 422),
)
async def create_source(
    session: SessionDep, runtime: RuntimeDep, owner: Writer, source_in: DataSourceCreateV1
) -> DataSourceRead:
    """Create a source owned by the caller (user and up), personal or in a project; config encrypted."""

    def answer(db: Session) -> DataSourceRead:
        source = data_sources.create(
            db, runtime.cipher, owner, source_in, quota=runtime.source_quota, project_id=source_in.project_id
        )
        return DataSourceRead.of(source, runtime.cipher)

    return await session.run_sync(answer)


@router.get("/{source_id}", summary="Get one data source", responses=errors(401, 404, 422))
async def get_source(source: OwnedDataSource, runtime: RuntimeDep) -> DataSourceRead:
    """Return one source the caller owns (any, for an admin)."""
    return DataSourceRead.of(source, runtime.cipher)


@router.patch("/{source_id}", summary="Change a data source", responses=errors(401, 403, 404, 409, 413, 422))
async def update_source(
    session: SessionDep,
    runtime: RuntimeDep,
    source: OwnedDataSource,
    actor: Writer,
    source_in: DataSourceUpdate,
) -> DataSourceRead:
    """Change the fields sent; a masked secret ("********") keeps the stored one."""

    def answer(db: Session) -> DataSourceRead:
        updated = data_sources.update(
            db, runtime.cipher, actor, source, source_in, quota=runtime.source_quota
        )
        return DataSourceRead.of(updated, runtime.cipher)

    return await session.run_sync(answer)


@router.put("/{source_id}", summary="Replace a data source", responses=errors(401, 403, 404, 409, 413, 422))
async def replace_source(
    session: SessionDep,
    runtime: RuntimeDep,
    source: OwnedDataSource,
    actor: Writer,
    source_in: DataSourceReplace,
) -> DataSourceRead:
    """Replace every updatable field: name, type, config, description (null clears it) and tags.

    All five are required; PATCH changes only the fields sent. As with PATCH, a masked secret
    ("********") keeps the stored one.
    """
    changes = DataSourceUpdate.model_validate(source_in.model_dump())

    def answer(db: Session) -> DataSourceRead:
        updated = data_sources.update(db, runtime.cipher, actor, source, changes, quota=runtime.source_quota)
        return DataSourceRead.of(updated, runtime.cipher)

    return await session.run_sync(answer)


@router.delete(
    "/{source_id}",
    summary="Delete a data source",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 422),
)
async def delete_source(session: SessionDep, source: OwnedDataSource, actor: Writer) -> Response:
    """Soft-delete a source: it is kept for the audit trail and answers 404 from then on."""
    await session.run_sync(data_sources.soft_delete, actor, source)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{source_id}/test",
    summary="Test the connection to a data source",
    response_model=ConnectionTestRead,
    responses=errors(401, 403, 404, 409, 422, 503),
)
async def test_source(
    session: SessionDep, runtime: RuntimeDep, source: TestableDataSource, actor: Writer
) -> ConnectionTestRead:
    """Connect for real and record the outcome in `status`, `last_test` and `error_message`.

    A source that cannot be reached is a 200 with `success` false and a reason; one that
    connects as a privileged account is refused (403 PRIVILEGED_ACCOUNT), as schema and query are.
    """
    # The connector runs on its own pool; the service awaits it there (datalab.blocking).
    result = await session.run_sync(
        connections.test_source, runtime.cipher, runtime.connectors, actor, source
    )
    if result.error_code in connections.REFUSED_ON_TEST:
        # keep_changes: the recorded outcome (status, audit) is committed with the refusal.
        refusal = ConnectorError(result.error_code, result.message)
        raise connections.SourceFailed(refusal, keep_changes=True)
    return ConnectionTestRead.of(result)


@router.get(
    "/{source_id}/schema",
    summary="Read a data source's tables",
    response_model=SchemaRead,
    responses=errors(*SOURCE_ERRORS),
)
async def read_schema(
    session: SessionDep, runtime: RuntimeDep, source: QueryableDataSource, actor: Analyst
) -> SchemaRead:
    """List tables with their columns, indexes and constraints (analysts and admins)."""
    # A failure raises SourceFailed, which keeps what it recorded (status, audit).
    info = await session.run_sync(
        connections.describe_source, runtime.cipher, runtime.connectors, actor, source
    )
    return SchemaRead.of(info)


@router.post(
    "/{source_id}/query",
    summary="Run a read-only query on a data source",
    response_model=QueryRead,
    responses=errors(*SOURCE_ERRORS),
)
async def run_query(
    session: SessionDep,
    runtime: RuntimeDep,
    source: QueryableDataSource,
    actor: Analyst,
    query_in: QueryIn,
) -> QueryRead:
    """Run one SELECT (or WITH ... SELECT) in a read-only transaction; rows are capped (`has_more`)."""
    limit = query_in.limit or runtime.settings.connectors.query_max_rows
    result = await session.run_sync(
        connections.query_source,
        runtime.cipher,
        runtime.connectors,
        actor,
        source,
        sql=query_in.query,
        limit=limit,
    )
    return QueryRead.of(result)
