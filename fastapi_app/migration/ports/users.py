"""FastAPI ports of /api/users/me, the user list and role changes (legacy_flask/users.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from datalab.inputs import ProfileUpdate, RoleChange, parse_input
from datalab.legacy_input import json_object, page_request
from datalab.legacy_json import page_json, user_json
from datalab.services import users
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
    "/api/users/me", methods=["GET", "HEAD"], name="GET /api/users/me", responses=legacy_responses()
)
async def read_me(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Return the caller's profile."""

    def answer(db: Session) -> dict[str, object]:
        user, _, _ = signed_in(request, db, runtime)
        return user_json(user)

    return LegacyJSONResponse(await session.run_sync(answer))


@router.put("/api/users/me", name="PUT /api/users/me", responses=legacy_responses(400, 413))
async def update_me(request: Request, body: RawBody, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Change the caller's own profile fields; any other key is refused."""

    def answer(db: Session) -> dict[str, object]:
        user, _, _ = signed_in(request, db, runtime)
        data = parse_input(ProfileUpdate, json_object(body))
        return user_json(users.update_profile(db, user, data.model_dump(exclude_unset=True)))

    return LegacyJSONResponse(await session.run_sync(answer))


@router.api_route(
    "/api/users", methods=["GET", "HEAD"], name="GET /api/users", responses=legacy_responses(400, 403)
)
async def list_users(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """List every user (admin)."""

    def answer(db: Session) -> dict[str, Any]:
        user, _, _ = signed_in(request, db, runtime)
        require_role(user, Role.ADMIN)
        return page_json("users", users.list_users(db, page_request(first_arg(request))), user_json)

    return LegacyJSONResponse(await session.run_sync(answer))


@router.put(
    "/api/users/{user_id:int}/role",
    name="PUT /api/users/<id>/role",
    responses=legacy_responses(400, 403, 404, 413),
)
async def change_role(
    request: Request, user_id: int, body: RawBody, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Give a user another role (admin); their tokens stop working."""

    def answer(db: Session) -> dict[str, object]:
        user, _, _ = signed_in(request, db, runtime)
        actor = require_role(user, Role.ADMIN)
        data = parse_input(RoleChange, json_object(body), ignore_unknown=True)
        return user_json(users.change_role(db, actor=actor, user_id=user_id, role=data.role))

    return LegacyJSONResponse(await session.run_sync(answer))
