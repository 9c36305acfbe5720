"""Datasets and their versions in the database; the bytes are in object storage (datalab.storage).

A version row is written `pending`, committed, and only then is its object committed in storage;
the row turns `ready` last. Readers see `ready` versions only, so a crash anywhere in between
leaves nothing visible, and `datalab storage gc` clears what it left behind.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from datalab import audit, permissions
from datalab.errors import NotFound
from datalab.permissions import Action
from datalab.services import projects
from datalab.services.pages import Page, PageRequest, valid_id
from datalab.storage import FINAL_PREFIX
from shared_models import Dataset, DatasetVersion, User, VersionState

READY = VersionState.READY.value


def _has_ready_version() -> Any:
    return exists().where(DatasetVersion.dataset_id == Dataset.id, DatasetVersion.state == READY)


def get_visible(session: Session, actor: User, dataset_id: int) -> Dataset:
    """Return a dataset `actor` may see (own personal, in their projects, or any for an admin)."""
    statement = select(Dataset).where(
        Dataset.id == dataset_id,
        permissions.visible(actor, Dataset.owner_id, Dataset.project_id),
        _has_ready_version(),
    )
    dataset = session.scalars(statement).one_or_none() if valid_id(dataset_id) else None
    if dataset is None:
        raise NotFound("Dataset not found")
    return dataset


def list_visible(
    session: Session, actor: User, request: PageRequest, *, project_id: int | None
) -> Page[tuple[Dataset, DatasetVersion]]:
    """Return one page of datasets with their latest version: personal ones, or one project's."""
    latest = (
        select(DatasetVersion.dataset_id, func.max(DatasetVersion.version).label("version"))
        .where(DatasetVersion.state == READY)
        .group_by(DatasetVersion.dataset_id)
        .subquery()
    )
    statement = (
        select(Dataset, DatasetVersion)
        .join(latest, latest.c.dataset_id == Dataset.id)
        .join(
            DatasetVersion,
            (DatasetVersion.dataset_id == Dataset.id) & (DatasetVersion.version == latest.c.version),
        )
    )
    if project_id is not None:
        projects.get_visible(session, actor, project_id)
        statement = statement.where(Dataset.project_id == project_id)
    else:
        statement = statement.where(Dataset.owner_id == actor.id, Dataset.project_id.is_(None))
    statement = statement.order_by(Dataset.id.desc())
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.execute(statement.limit(request.limit).offset(request.offset)).all()
    return Page(items=[(d, v) for d, v in rows], total=total, limit=request.limit, offset=request.offset)


def version_of(session: Session, dataset: Dataset, version: int | None) -> DatasetVersion:
    """Return the dataset's `version`, or its latest ready one; NotFound if there is none such."""
    statement = select(DatasetVersion).where(
        DatasetVersion.dataset_id == dataset.id, DatasetVersion.state == READY
    )
    if version is not None:
        statement = statement.where(DatasetVersion.version == version)
    found = session.scalars(statement.order_by(DatasetVersion.version.desc()).limit(1)).first()
    if found is None:
        raise NotFound("Dataset version not found")
    return found


def versions(session: Session, dataset: Dataset) -> list[DatasetVersion]:
    """Return the dataset's ready versions, newest first."""
    statement = (
        select(DatasetVersion)
        .where(DatasetVersion.dataset_id == dataset.id, DatasetVersion.state == READY)
        .order_by(DatasetVersion.version.desc())
    )
    return list(session.scalars(statement))


def start_dataset(
    session: Session, actor: User, *, name: str, description: str | None, project_id: int | None
) -> Dataset:
    """Add a new dataset row (not visible until a version is ready); analysts and up, editors in projects."""
    if project_id is not None:
        projects.get_visible(session, actor, project_id)
    permissions.require(session, actor, project_id, Action.CHANGE_DATASET)
    dataset = Dataset(owner_id=actor.id, project_id=project_id, name=name, description=description)
    session.add(dataset)
    session.flush()
    return dataset


def start_version(
    session: Session,
    actor: User,
    dataset: Dataset,
    *,
    temp_key: str,
    fields: dict[str, Any],
) -> DatasetVersion:
    """Add a pending version holding the uploaded object at `temp_key`, numbered after the last one."""
    permissions.require(session, actor, dataset.project_id, Action.CHANGE_DATASET)
    last = session.scalar(
        select(func.max(DatasetVersion.version)).where(DatasetVersion.dataset_id == dataset.id)
    )
    number = (last or 0) + 1
    version = DatasetVersion(
        dataset_id=dataset.id,
        version=number,
        state=VersionState.PENDING.value,
        storage_key=f"{FINAL_PREFIX}{dataset.id}/{number}-{uuid.uuid4().hex}",
        temp_key=temp_key,
        created_by=actor.id,
        **fields,
    )
    session.add(version)
    session.flush()
    action = "dataset.create" if number == 1 else "dataset.version"
    details = {
        "name": dataset.name,
        "version": number,
        "format": version.format,
        "size_bytes": version.size_bytes,
    }
    audit.record(
        session, action, user_id=actor.id, resource_type="dataset", resource_id=dataset.id, details=details
    )
    return version


def mark_ready(session: Session, version_id: int) -> DatasetVersion:
    """Make a version visible once its object is committed in storage."""
    version = session.get_one(DatasetVersion, version_id)
    version.state = READY
    version.temp_key = None
    session.flush()
    return version


def discard(session: Session, version_id: int) -> None:
    """Drop a pending version, and its dataset when nothing else is left of it."""
    version = session.get(DatasetVersion, version_id)
    if version is None:
        return
    dataset_id = version.dataset_id
    session.execute(delete(DatasetVersion).where(DatasetVersion.id == version_id))
    others = session.scalar(select(func.count()).where(DatasetVersion.dataset_id == dataset_id))
    if not others:
        session.execute(delete(Dataset).where(Dataset.id == dataset_id))


def delete_dataset(session: Session, actor: User, dataset: Dataset) -> list[str]:
    """Delete a dataset and its versions; return the object keys to remove once this commits."""
    permissions.require(session, actor, dataset.project_id, Action.CHANGE_DATASET)
    rows = session.scalars(select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id)).all()
    keys = [key for v in rows for key in (v.storage_key, v.temp_key) if key]
    details = {"name": dataset.name, "versions": len(rows)}
    audit.record(
        session,
        "dataset.delete",
        user_id=actor.id,
        resource_type="dataset",
        resource_id=dataset.id,
        details=details,
    )
    session.execute(delete(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id))
    session.execute(delete(Dataset).where(Dataset.id == dataset.id))
    session.expunge(dataset)
    return keys


def stale_pending(session: Session, before: datetime) -> list[DatasetVersion]:
    """Return pending versions started before `before` (their upload died half-way)."""
    statement = select(DatasetVersion).where(
        DatasetVersion.state == VersionState.PENDING.value, DatasetVersion.created_at < before
    )
    return list(session.scalars(statement))


def referenced_keys(session: Session) -> set[str]:
    """Return every object key a version row names, committed or temporary."""
    rows = session.execute(select(DatasetVersion.storage_key, DatasetVersion.temp_key))
    return {key for pair in rows for key in pair if key}
