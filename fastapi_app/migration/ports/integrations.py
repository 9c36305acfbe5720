"""FastAPI ports of /api/integrations: list, create, delete (legacy_flask/integrations.py).

Steps run in the Flask view's order (token, existence, role, body), in one `run_sync` call.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from datalab.inputs import IntegrationCreate, parse_input
from datalab.legacy_input import json_object, page_request
from datalab.legacy_json import integration_json, page_json
from datalab.services import integrations
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
from shared_models import Role

router = APIRouter()


@router.api_route(
    "/api/integrations",
    methods=["GET", "HEAD"],
    name="GET /api/integrations",
    responses=legacy_responses(400),
)
async def list_integrations(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """List the caller's own active integrations."""

    def answer(db: Session) -> dict[str, Any]:
        user, _, _ = signed_in(request, db, runtime)
        page = integrations.list_own(db, user, page_request(first_arg(request)))
        listed = partial(integration_json, cipher=runtime.cipher, listed=True)
        return page_json("integrations", page, listed)

    return LegacyJSONResponse(await session.run_sync(answer))


@router.post(
    "/api/integrations",
    name="POST /api/integrations",
    status_code=201,
    responses=legacy_responses(400, 403, 409, 413),
)
async def create_integration(
    request: Request, body: RawBody, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Create an integration (user and up)."""

    def answer(db: Session) -> dict[str, object]:
        user, _, _ = signed_in(request, db, runtime)
        owner = require_role(user, Role.USER)
        data = parse_input(IntegrationCreate, json_object(body), ignore_unknown=True)
        return integration_json(integrations.create(db, runtime.cipher, owner, data), runtime.cipher)

    return LegacyJSONResponse(await session.run_sync(answer), status_code=201)


@router.delete(
    "/api/integrations/{integration_id:int}",
    name="DELETE /api/integrations/<id>",
    responses=legacy_responses(403, 404),
)
async def delete_integration(
    request: Request, integration_id: int, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Soft-delete an integration (owner or admin)."""

    def answer(db: Session) -> None:
        user, _, _ = signed_in(request, db, runtime)
        integration = integrations.get_owned(db, user, integration_id)
        actor = require_role(user, Role.USER)
        integrations.soft_delete(db, actor, integration)

    await session.run_sync(answer)
    return LegacyJSONResponse({"msg": "Integration deleted"})
