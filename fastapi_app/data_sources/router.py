"""Data sources under /api/v1/data-sources: the caller's own, or any for an admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from datalab.fields import SearchText, Tag
from datalab.inputs import DataSourceCreate, DataSourceUpdate
from datalab.services import data_sources
from fastapi_app.data_sources.dependencies import OwnedDataSource
from fastapi_app.data_sources.schemas import DataSourceList, DataSourceRead
from fastapi_app.dependencies import CurrentUser, RuntimeDep, SessionDep, require_role
from fastapi_app.pagination import PageDep
from fastapi_app.responses import errors
from shared_models import Role, SourceStatus, SourceType, User

router = APIRouter(prefix="/data-sources", tags=["data sources"])
Writer = Annotated[User, require_role(Role.USER)]


@router.get("", summary="List data sources", responses=errors(401, 403, 422))
def list_sources(
    session: SessionDep,
    runtime: RuntimeDep,
    user: CurrentUser,
    page: PageDep,
    type: SourceType | None = None,
    status: SourceStatus | None = None,
    tag: Annotated[Tag | None, Query(description="Only sources with this tag")] = None,
    name: Annotated[SearchText | None, Query(description="Part of the name")] = None,
    all: Annotated[bool, Query(description="Every user's sources (admins only)")] = False,
) -> DataSourceList:
    """List active sources newest first: the caller's own, or everyone's for an admin asking `all`."""
    found = data_sources.list_sources(
        session, user, page, everyone=all, source_type=type, status=status, tag=tag, name_contains=name
    )
    return DataSourceList(
        items=[DataSourceRead.of(s, runtime.cipher) for s in found.items],
        total=found.total,
        limit=found.limit,
        offset=found.offset,
    )


@router.post(
    "",
    summary="Create a data source",
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403, 409, 413, 422),
)
def create_source(
    session: SessionDep, runtime: RuntimeDep, owner: Writer, source_in: DataSourceCreate
) -> DataSourceRead:
    """Create a source owned by the caller (user and up); its config is stored encrypted."""
    return DataSourceRead.of(data_sources.create(session, runtime.cipher, owner, source_in), runtime.cipher)


@router.get("/{source_id}", summary="Get one data source", responses=errors(401, 404, 422))
def get_source(source: OwnedDataSource, runtime: RuntimeDep) -> DataSourceRead:
    """Return one source the caller owns (any, for an admin)."""
    return DataSourceRead.of(source, runtime.cipher)


@router.patch("/{source_id}", summary="Change a data source", responses=errors(401, 403, 404, 409, 413, 422))
def update_source(
    session: SessionDep,
    runtime: RuntimeDep,
    source: OwnedDataSource,
    actor: Writer,
    source_in: DataSourceUpdate,
) -> DataSourceRead:
    """Change the fields sent; a masked secret ("********") keeps the stored one."""
    updated = data_sources.update(session, runtime.cipher, actor, source, source_in)
    return DataSourceRead.of(updated, runtime.cipher)


@router.delete(
    "/{source_id}",
    summary="Delete a data source",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 422),
)
def delete_source(session: SessionDep, source: OwnedDataSource, actor: Writer) -> Response:
    """Soft-delete a source: it is kept for the audit trail and answers 404 from then on."""
    data_sources.soft_delete(session, actor, source)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
