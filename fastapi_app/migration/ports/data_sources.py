"""FastAPI ports of /api/data-sources: list, create, get, update, delete, test (legacy_flask/data_sources.py).

Each step runs in the order the Flask view runs it (token, then existence, then role,
then body), so a request with several problems gets the same first error. Each route
is `async def` and runs its steps in one `run_sync` call on the request's AsyncSession.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from datalab.connectors import service as connections
from datalab.inputs import parse_input
from datalab.legacy_input import (
    LegacyDataSourceCreate,
    LegacyDataSourceUpdate,
    json_object,
    page_request,
    source_type_filter,
)
from datalab.legacy_json import data_source_json, page_json
from datalab.runtime import Runtime
from datalab.services import data_sources
from fastapi_app.dependencies import SessionDep
from fastapi_app.migration.ports.common import (
    LegacyJSONResponse,
    RawBody,
    RuntimeDep,
    first_arg,
    legacy_responses,
    require_role,
    signed_in,
)
from shared_models import DataSource, Role

router = APIRouter()
ONE = "/api/data-sources/{source_id:int}"


def _json(runtime: Runtime, source: DataSource) -> dict[str, object]:
    return data_source_json(source, runtime.cipher)


@router.api_route(
    "/api/data-sources",
    methods=["GET", "HEAD"],
    name="GET /api/data-sources",
    responses=legacy_responses(400),
)
async def list_sources(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """List the caller's own active data sources, optionally of one `type`."""

    def answer(db: Session) -> dict[str, Any]:
        user, _, _ = signed_in(request, db, runtime)
        arg = first_arg(request)
        source_type = source_type_filter(arg)
        page = data_sources.list_own(db, user, page_request(arg), source_type=source_type)
        # A config no key opens reads null in a list, as Flask answers (datalab.legacy_json).
        listed = partial(data_source_json, cipher=runtime.cipher, listed=True)
        return page_json("data_sources", page, listed)

    return LegacyJSONResponse(await session.run_sync(answer))


@router.post(
    "/api/data-sources",
    name="POST /api/data-sources",
    status_code=201,
    responses=legacy_responses(400, 403, 409, 413),
)
async def create_source(
    request: Request, body: RawBody, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Create a data source (user and up)."""

    def answer(db: Session) -> dict[str, object]:
        user, _, _ = signed_in(request, db, runtime)
        owner = require_role(user, Role.USER)
        data = parse_input(LegacyDataSourceCreate, json_object(body), ignore_unknown=True)
        return _json(
            runtime, data_sources.create(db, runtime.cipher, owner, data, quota=runtime.source_quota)
        )

    return LegacyJSONResponse(await session.run_sync(answer), status_code=201)


@router.api_route(
    ONE, methods=["GET", "HEAD"], name="GET /api/data-sources/<id>", responses=legacy_responses(404, 409)
)
async def read_source(request: Request, source_id: int, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Return one data source (owner or admin)."""

    def answer(db: Session) -> dict[str, object]:
        user, _, _ = signed_in(request, db, runtime)
        return _json(runtime, data_sources.get_owned(db, user, source_id))

    return LegacyJSONResponse(await session.run_sync(answer))


@router.put(ONE, name="PUT /api/data-sources/<id>", responses=legacy_responses(400, 403, 404, 409, 413))
async def update_source(
    request: Request, source_id: int, body: RawBody, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Change a data source (owner or admin); a masked secret keeps its stored value."""

    def answer(db: Session) -> dict[str, object]:
        user, _, _ = signed_in(request, db, runtime)
        source = data_sources.get_owned(db, user, source_id)
        actor = require_role(user, Role.USER)
        data = parse_input(LegacyDataSourceUpdate, json_object(body), ignore_unknown=True)
        return _json(
            runtime, data_sources.update(db, runtime.cipher, actor, source, data, quota=runtime.source_quota)
        )

    return LegacyJSONResponse(await session.run_sync(answer))


@router.delete(ONE, name="DELETE /api/data-sources/<id>", responses=legacy_responses(403, 404))
async def delete_source(
    request: Request, source_id: int, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Soft-delete a data source (owner or admin)."""

    def answer(db: Session) -> None:
        user, _, _ = signed_in(request, db, runtime)
        source = data_sources.get_owned(db, user, source_id)
        actor = require_role(user, Role.USER)
        data_sources.soft_delete(db, actor, source)

    await session.run_sync(answer)
    return LegacyJSONResponse({"msg": "Data source deleted"})


@router.post(
    f"{ONE}/test", name="POST /api/data-sources/<id>/test", responses=legacy_responses(403, 404, 409)
)
async def test_source(request: Request, source_id: int, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Connect to a data source (owner or admin); 200 whether or not it answers, as the contract says."""

    def answer(db: Session) -> dict[str, object]:
        user, _, _ = signed_in(request, db, runtime)
        source = data_sources.get_owned(db, user, source_id)
        actor = require_role(user, Role.USER)
        result = connections.test_source(db, runtime.cipher, runtime.connectors, actor, source)
        latency_ms = round(result.latency_ms, 1)
        return {"success": result.success, "message": result.message, "latency_ms": latency_ms}

    return LegacyJSONResponse(await session.run_sync(answer))
