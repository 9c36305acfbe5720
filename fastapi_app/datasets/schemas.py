"""Datasets as the v1 API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from fastapi_app.pagination import Paginated
from shared_models import Dataset, DatasetFormat, DatasetVersion


class ColumnRead(BaseModel):
    """A column and the type DuckDB found for it."""

    name: str
    type: str


class DatasetRead(BaseModel):
    """A dataset, described by the version read (the latest unless `?version=` asks otherwise)."""

    id: int
    name: str
    description: str | None
    format: DatasetFormat
    size_bytes: int
    sha256: str
    version: int
    row_count: int
    columns: list[ColumnRead]
    project_id: int | None
    owner_id: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, dataset: Dataset, version: DatasetVersion) -> DatasetRead:
        """Describe `dataset` at `version`."""
        return cls(
            id=dataset.id,
            name=dataset.name,
            description=dataset.description,
            format=DatasetFormat(version.format),
            size_bytes=version.size_bytes,
            sha256=version.sha256,
            version=version.version,
            row_count=version.row_count,
            columns=[ColumnRead(**c) for c in version.columns],
            project_id=dataset.project_id,
            owner_id=dataset.owner_id,
            created_at=dataset.created_at,
            updated_at=version.created_at,
        )


class DatasetList(Paginated[DatasetRead]):
    """A slice of the dataset list, each at its latest version."""


class VersionRead(BaseModel):
    """One uploaded version of a dataset."""

    version: int
    format: DatasetFormat
    size_bytes: int
    sha256: str
    row_count: int
    columns: list[ColumnRead]
    created_by: int | None
    created_at: datetime

    @classmethod
    def of(cls, version: DatasetVersion) -> VersionRead:
        """Describe one version."""
        return cls(
            version=version.version,
            format=DatasetFormat(version.format),
            size_bytes=version.size_bytes,
            sha256=version.sha256,
            row_count=version.row_count,
            columns=[ColumnRead(**c) for c in version.columns],
            created_by=version.created_by,
            created_at=version.created_at,
        )


class VersionList(BaseModel):
    """Every version of a dataset, newest first."""

    items: list[VersionRead]


class ColumnProfile(BaseModel):
    """Statistics of one column; `mean` only for numbers, `distinct` an estimate."""

    name: str
    type: str
    nulls: int
    distinct: int
    min: Any
    max: Any
    mean: float | None


class ProfileRead(BaseModel):
    """Statistics of every column of one version."""

    dataset_id: int
    version: int
    row_count: int
    columns: list[ColumnProfile]
