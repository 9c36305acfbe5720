"""Loading a data source once, with its ownership checked, for every route that names one."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from datalab.services import data_sources
from datalab.services.pages import MAX_ID
from fastapi_app.dependencies import CurrentUser, SessionDep
from shared_models import DataSource


async def get_owned_source(
    session: SessionDep,
    user: CurrentUser,
    source_id: Annotated[int, Path(ge=1, le=MAX_ID, description="The data source's id")],
) -> DataSource:
    """Return the source if the caller owns it or is an admin; anything else is the same 404."""
    return await session.run_sync(data_sources.get_owned, user, source_id)


OwnedDataSource = Annotated[DataSource, Depends(get_owned_source)]
