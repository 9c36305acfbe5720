"""Loading a data source once, with its ownership checked, for every route that names one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path

from datalab import permissions
from datalab.permissions import Action
from datalab.services import data_sources
from datalab.services.pages import MAX_ID
from fastapi_app.dependencies import CurrentUser, SessionDep
from shared_models import DataSource


async def get_owned_source(
    session: SessionDep,
    user: CurrentUser,
    source_id: Annotated[int, Path(ge=1, le=MAX_ID, description="The data source's id")],
) -> DataSource:
    """Return the source if the caller may see it (own, in their project, or admin); else the same 404."""
    return await session.run_sync(data_sources.get_visible, user, source_id)


OwnedDataSource = Annotated[DataSource, Depends(get_owned_source)]


def source_for(action: Action) -> Any:
    """Return a dependency giving the route's source once the caller is allowed `action` on it."""

    async def check(session: SessionDep, user: CurrentUser, source: OwnedDataSource) -> DataSource:
        await session.run_sync(permissions.require, user, source.project_id, action)
        return source

    return Depends(check)


# Test, schema and query: the source's project role counts, not only the global one.
TestableDataSource = Annotated[DataSource, source_for(Action.CHANGE_SOURCE)]
QueryableDataSource = Annotated[DataSource, source_for(Action.QUERY)]
