"""Reading one dataset version with DuckDB: preview, profile and query, on the connector pool.

The version's object is copied (hard-linked for the file store) into a private folder that is
DuckDB's whole sandbox, and the work runs on the same bounded pool, with the same timeouts,
guards and row caps as a data-source query. A refused or failed query answers like one too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from datalab import audit
from datalab.connectors.base import ConnectorError, QueryResult
from datalab.connectors.service import STATUS_OF_CODE, UPSTREAM_STATUS, SourceFailed
from datalab.datasets.ingest import xlsx_limits
from datalab.datasets.local_copy import local_copy
from datalab.datasets.reading import DatasetConnector
from datalab.runtime import Runtime
from fastapi_app.data_sources.schemas import QueryIn, QueryRead
from fastapi_app.datasets.schemas import ColumnProfile, ProfileRead
from fastapi_app.errors import error_response
from shared_models import Dataset, DatasetFormat, DatasetVersion, User

T = TypeVar("T")


def _run(runtime: Runtime, version: DatasetVersion, work: Callable[[DatasetConnector], T]) -> T:
    settings = runtime.settings
    fmt = DatasetFormat(version.format)
    limits = runtime.connectors.limits
    with local_copy(runtime.storage, version, settings.upload_spool_dir, xlsx_limits(settings)) as path:

        def opener() -> DatasetConnector:
            return DatasetConnector(fmt, path, limits)

        return runtime.connectors.run_with(opener, work)  # type: ignore[arg-type]


def _failed(request: Request, exc: ConnectorError) -> JSONResponse:
    return error_response(request, STATUS_OF_CODE.get(exc.code, UPSTREAM_STATUS), exc.code, exc.message)


def preview(
    request: Request, runtime: Runtime, version: DatasetVersion, limit: int
) -> QueryRead | JSONResponse:
    """Return the first `limit` rows."""
    try:
        result = _run(runtime, version, lambda c: c.query(f"SELECT * FROM data LIMIT {int(limit)}", limit))  # noqa: S608
    except ConnectorError as exc:
        return _failed(request, exc)
    return QueryRead.of(result)


def profile(
    request: Request, runtime: Runtime, dataset: Dataset, version: DatasetVersion
) -> ProfileRead | JSONResponse:
    """Return per-column statistics."""
    try:
        columns = _run(runtime, version, lambda c: c.profile())
    except ConnectorError as exc:
        return _failed(request, exc)
    return ProfileRead(
        dataset_id=dataset.id,
        version=version.version,
        row_count=version.row_count,
        columns=[ColumnProfile(**c) for c in columns],
    )


@dataclass(frozen=True)
class QueryOutcome:
    """A dataset query's rows or failure, and what the audit records of it."""

    result: QueryResult | None
    failure: ConnectorError | None
    details: dict[str, object]


def run_query(runtime: Runtime, version: DatasetVersion, query_in: QueryIn) -> QueryOutcome:
    """Run the caller's read-only SQL (blocking: storage copy and connector)."""
    limit = min(
        query_in.limit or runtime.settings.connectors.query_max_rows, runtime.connectors.limits.max_rows
    )
    details: dict[str, object] = {"query": query_in.query[:4000], "limit": limit, "version": version.version}
    try:
        result = _run(runtime, version, lambda c: c.query(query_in.query, limit))
    except ConnectorError as exc:
        details.update(success=False, error_code=exc.code)
        return QueryOutcome(None, exc, details)
    details.update(success=True, error_code=None)
    return QueryOutcome(result, None, details)


def answer_query(
    session: Session, user: User, dataset: Dataset, version: DatasetVersion, outcome: QueryOutcome
) -> QueryRead:
    """Audit the query's text and outcome, never the rows, and answer it."""
    audit.record(
        session,
        "dataset.query",
        user_id=user.id,
        resource_type="dataset",
        resource_id=dataset.id,
        details=outcome.details,
    )
    if outcome.failure is not None:
        # keep_changes: the audit entry is committed with the refusal.
        raise SourceFailed(outcome.failure, keep_changes=True)
    assert outcome.result is not None
    return QueryRead.of(outcome.result)
