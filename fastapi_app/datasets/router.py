"""Datasets under /api/v1/datasets: upload, versions, preview, profile, query, download, delete."""

from __future__ import annotations

import base64
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, BackgroundTasks, Query, Request, Response, status
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.orm import Session, sessionmaker

from datalab.datasets.errors import StorageUnavailable
from datalab.datasets.ingest import Upload, ingest
from datalab.services import datasets
from datalab.services.pages import MAX_ID
from datalab.storage import StorageError
from fastapi_app.data_sources.schemas import QueryIn, QueryRead
from fastapi_app.datasets import reads
from fastapi_app.datasets.dependencies import (
    ChangeableDataset,
    ChosenVersion,
    QueryableDataset,
    VisibleDataset,
)
from fastapi_app.datasets.fields import new_dataset_fields
from fastapi_app.datasets.schemas import DatasetList, DatasetRead, ProfileRead, VersionList, VersionRead
from fastapi_app.datasets.upload import receive_upload
from fastapi_app.dependencies import CurrentUser, RuntimeDep, SessionDep, require_role
from fastapi_app.pagination import PageDep
from fastapi_app.responses import errors
from shared_models import Role, User

router = APIRouter(prefix="/datasets", tags=["datasets"])
Uploader = Annotated[User, require_role(Role.ANALYST)]
_MULTIPART: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "name": {"type": "string", "maxLength": 255},
                        "description": {"type": "string", "maxLength": 2000},
                        "project_id": {"type": "integer", "minimum": 1},
                        # Optional: the file name's extension declares the format otherwise.
                        "format": {"$ref": "#/components/schemas/DatasetFormat"},
                    },
                }
            }
        },
    }
}


def _sessions(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    return factory


async def _ingest(request: Request, runtime: Any, user: User, upload: Upload, **target: Any) -> DatasetRead:
    # Checking and storing block (DuckDB, disk, S3): a worker thread, never the event loop.
    try:
        work = partial(ingest, _sessions(request), runtime.storage, runtime.settings, user, upload, **target)
        dataset, version = await anyio.to_thread.run_sync(work)
    finally:
        await anyio.to_thread.run_sync(partial(upload.path.unlink, missing_ok=True))
    return DatasetRead.of(dataset, version)


@router.post(
    "",
    summary="Upload a dataset",
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403, 404, 413, 422, 503),
    openapi_extra=_MULTIPART,
)
async def upload_dataset(request: Request, runtime: RuntimeDep, user: Uploader) -> DatasetRead:
    """Upload CSV, TSV, JSON, NDJSON, Parquet or XLSX as multipart/form-data (`file`, `name`, ...).

    The file is streamed to storage and checked against its declared format before it counts.
    """
    settings = runtime.settings
    upload = await receive_upload(request, settings.upload_spool_dir, settings.storage.dataset_max_bytes)
    try:
        name, description, project_id = new_dataset_fields(upload.fields)
    except BaseException:
        await anyio.to_thread.run_sync(partial(upload.path.unlink, missing_ok=True))
        raise
    return await _ingest(
        request,
        runtime,
        user,
        upload,
        dataset_id=None,
        name=name,
        description=description,
        project_id=project_id,
    )


@router.get("", summary="List datasets", responses=errors(401, 404, 422))
async def list_datasets(
    session: SessionDep,
    user: CurrentUser,
    page: PageDep,
    project_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only this project's datasets")
    ] = None,
) -> DatasetList:
    """List the caller's personal datasets, or one project's, newest first, each at its latest version."""

    def answer(db: Session) -> DatasetList:
        found = datasets.list_visible(db, user, page, project_id=project_id)
        items = [DatasetRead.of(d, v) for d, v in found.items]
        return DatasetList(items=items, total=found.total, limit=found.limit, offset=found.offset)

    return await session.run_sync(answer)


@router.get("/{dataset_id}", summary="Get a dataset", responses=errors(401, 404, 422))
def get_dataset(dataset: VisibleDataset, version: ChosenVersion) -> DatasetRead:
    """Describe a dataset at its latest version, or at `?version=`."""
    return DatasetRead.of(dataset, version)


@router.post(
    "/{dataset_id}/versions",
    summary="Upload a new version",
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403, 404, 413, 422, 503),
    openapi_extra=_MULTIPART,
)
async def upload_version(
    request: Request, runtime: RuntimeDep, user: Uploader, dataset: ChangeableDataset
) -> DatasetRead:
    """Upload a new version of a dataset; reads use it from now on unless they ask for `?version=`."""
    settings = runtime.settings
    upload = await receive_upload(request, settings.upload_spool_dir, settings.storage.dataset_max_bytes)
    return await _ingest(request, runtime, user, upload, dataset_id=dataset.id)


@router.get("/{dataset_id}/versions", summary="List a dataset's versions", responses=errors(401, 404, 422))
async def list_versions(session: SessionDep, dataset: VisibleDataset) -> VersionList:
    """List every version, newest first."""

    def answer(db: Session) -> VersionList:
        return VersionList(items=[VersionRead.of(v) for v in datasets.versions(db, dataset)])

    return await session.run_sync(answer)


@router.get(
    "/{dataset_id}/preview",
    summary="Preview a dataset's first rows",
    response_model=QueryRead,
    responses=errors(401, 404, 422, 502, 503, 504),
)
def preview_dataset(
    request: Request,
    runtime: RuntimeDep,
    dataset: VisibleDataset,
    version: ChosenVersion,
    limit: Annotated[int, Query(ge=1, le=1000, description="Rows to return")] = 20,
) -> QueryRead | JSONResponse:
    """Return the first rows of the version read."""
    return reads.preview(request, runtime, version, limit)


@router.get(
    "/{dataset_id}/profile",
    summary="Profile a dataset's columns",
    response_model=ProfileRead,
    responses=errors(401, 404, 422, 502, 503, 504),
)
def profile_dataset(
    request: Request, runtime: RuntimeDep, dataset: VisibleDataset, version: ChosenVersion
) -> ProfileRead | JSONResponse:
    """Per column: type, nulls, a distinct-count estimate, min, max, and the mean of numbers."""
    return reads.profile(request, runtime, dataset, version)


@router.post(
    "/{dataset_id}/query",
    summary="Run a read-only query on a dataset",
    response_model=QueryRead,
    responses=errors(401, 403, 404, 413, 422, 502, 503, 504),
)
async def query_dataset(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    user: CurrentUser,
    dataset: QueryableDataset,
    version: ChosenVersion,
    query_in: QueryIn,
) -> QueryRead | JSONResponse:
    """Run one SELECT over the dataset as the table `data`, with a data source's guards and caps."""
    # The object is copied from storage and queried on a worker thread; the audit row joins the session.
    outcome = await anyio.to_thread.run_sync(reads.run_query, runtime, version, query_in)
    return await session.run_sync(reads.answer_query, user, dataset, version, outcome)


@router.get(
    "/{dataset_id}/download",
    summary="Download a dataset's original file",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, **errors(401, 404, 422, 503)},
)
def download_dataset(
    request: Request, runtime: RuntimeDep, dataset: VisibleDataset, version: ChosenVersion
) -> Response:
    """Stream the uploaded bytes; `ETag`, `Digest` and `X-Checksum-SHA256` carry its SHA-256."""
    try:
        chunks = runtime.storage.read_chunks(version.storage_key)
    except StorageError:
        raise StorageUnavailable("The dataset could not be read from storage") from None
    digest = base64.b64encode(bytes.fromhex(version.sha256)).decode()
    filename = f"dataset-{dataset.id}-v{version.version}.{version.format}"
    filename = f"dataset-{dataset.id}-v{version.version}.{version.format}"
    headers = {
        "Content-Length": str(version.size_bytes),
        "Content-Disposition": f'attachment; filename="{filename}"',
        "ETag": f'"{version.sha256}"',
        "Digest": f"sha-256={digest}",
        "X-Checksum-SHA256": version.sha256,
    }
    return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)


@router.delete(
    "/{dataset_id}",
    summary="Delete a dataset",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 422),
)
async def delete_dataset(
    session: SessionDep,
    runtime: RuntimeDep,
    user: CurrentUser,
    dataset: VisibleDataset,
    tasks: BackgroundTasks,
) -> Response:
    """Delete a dataset and every version's object (the objects once the deletion is committed)."""

    def answer(db: Session) -> Response:
        keys = datasets.delete_dataset(db, user, dataset)
        # Background tasks run after the db dependency has committed; a crash before leaves
        # objects no row names, which `datalab storage gc` removes.
        tasks.add_task(_delete_objects, runtime.storage, keys)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return await session.run_sync(answer)


def _delete_objects(storage: Any, keys: list[str]) -> None:
    for key in keys:
        try:
            storage.delete(key)
        except StorageError:
            continue
