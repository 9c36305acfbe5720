"""FastAPI ports of GET and PUT /api/users/me (legacy_flask/users.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from datalab.inputs import ProfileUpdate, parse_input
from datalab.legacy_input import json_object
from datalab.legacy_json import user_json
from datalab.services import users
from fastapi_app.dependencies import SessionDep
from fastapi_app.migration.ports.common import LegacyJSONResponse, RawBody, RuntimeDep, signed_in
from fastapi_app.migration.ports.contract import USER, legacy_body, legacy_responses

router = APIRouter()


@router.api_route(
    "/api/users/me",
    methods=["GET", "HEAD"],
    name="GET /api/users/me",
    responses=legacy_responses(200, USER, needs="access"),
)
async def read_me(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Return the caller's profile."""

    def answer(db: Session) -> dict[str, object]:
        user, _, _ = signed_in(request, db, runtime)
        return user_json(user)

    return LegacyJSONResponse(await session.run_sync(answer))


@router.put(
    "/api/users/me",
    name="PUT /api/users/me",
    responses=legacy_responses(200, USER, needs="access", body=True),
    openapi_extra=legacy_body(ProfileUpdate),
)
async def update_me(request: Request, body: RawBody, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Change the caller's own profile fields; any other key is refused."""

    def answer(db: Session) -> dict[str, object]:
        user, _, _ = signed_in(request, db, runtime)
        data = parse_input(ProfileUpdate, json_object(body))
        return user_json(users.update_profile(db, user, data.model_dump(exclude_unset=True)))

    return LegacyJSONResponse(await session.run_sync(answer))
