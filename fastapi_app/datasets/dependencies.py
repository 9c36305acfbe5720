"""Loading a dataset (and the version asked for) once, access checked, for every route that names one."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query
from sqlalchemy.orm import Session

from datalab import permissions
from datalab.permissions import Action
from datalab.services import datasets
from datalab.services.pages import MAX_ID
from fastapi_app.dependencies import CurrentUser, SessionDep
from shared_models import Dataset, DatasetVersion


async def get_visible_dataset(
    session: SessionDep,
    user: CurrentUser,
    dataset_id: Annotated[int, Path(ge=1, le=MAX_ID, description="The dataset's id")],
) -> Dataset:
    """Return the dataset if the caller may see it; a missing one and someone else's are the same 404."""

    def answer(db: Session) -> Dataset:
        return datasets.get_visible(db, user, dataset_id)

    return await session.run_sync(answer)


VisibleDataset = Annotated[Dataset, Depends(get_visible_dataset)]


async def get_changeable_dataset(session: SessionDep, user: CurrentUser, dataset: VisibleDataset) -> Dataset:
    """Return the dataset once the caller may change it (checked before any upload is read)."""

    def answer(db: Session) -> Dataset:
        permissions.require(db, user, dataset.project_id, Action.CHANGE_DATASET)
        return dataset

    return await session.run_sync(answer)


ChangeableDataset = Annotated[Dataset, Depends(get_changeable_dataset)]


async def get_queryable_dataset(session: SessionDep, user: CurrentUser, dataset: VisibleDataset) -> Dataset:
    """Return the dataset once the caller may run SQL on it (analysts; editors in a project)."""

    def answer(db: Session) -> Dataset:
        permissions.require(db, user, dataset.project_id, Action.QUERY)
        return dataset

    return await session.run_sync(answer)


QueryableDataset = Annotated[Dataset, Depends(get_queryable_dataset)]


async def get_version(
    session: SessionDep,
    dataset: VisibleDataset,
    version: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="A version; the latest if omitted")
    ] = None,
) -> DatasetVersion:
    """Return the version asked for, or the latest."""

    def answer(db: Session) -> DatasetVersion:
        return datasets.version_of(db, dataset, version)

    return await session.run_sync(answer)


ChosenVersion = Annotated[DatasetVersion, Depends(get_version)]
