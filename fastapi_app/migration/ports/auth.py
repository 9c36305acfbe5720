"""FastAPI ports of POST /api/auth/register, /login, /refresh and /logout (legacy_flask/auth.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from datalab.errors import TokenError
from datalab.inputs import LoginIn, RegisterIn, parse_input
from datalab.legacy_input import json_object
from datalab.legacy_json import user_json
from datalab.services import sessions, users
from fastapi_app.dependencies import SessionDep
from fastapi_app.migration.ports.common import (
    LegacyJSONResponse,
    RawBody,
    RuntimeDep,
    legacy_responses,
    msg,
    signed_in,
    token_claims,
)

router = APIRouter()
BAD_CREDENTIALS = "Bad email or password"


@router.post(
    "/api/auth/register",
    name="POST /api/auth/register",
    status_code=201,
    responses=legacy_responses(400, 409, 413, token=False),
)
async def register(body: RawBody, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Create an account with the `user` role."""

    def answer(db: Session) -> dict[str, object]:
        data = parse_input(RegisterIn, json_object(body), ignore_unknown=True)
        return user_json(users.register(db, runtime.passwords, **data.model_dump()))

    return LegacyJSONResponse(await session.run_sync(answer), status_code=201)


@router.post(
    "/api/auth/login", name="POST /api/auth/login", responses=legacy_responses(400, 401, 413, token=False)
)
async def login(request: Request, body: RawBody, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Exchange email and password for an access and a refresh token."""

    def answer(db: Session) -> Response:
        data = parse_input(LoginIn, json_object(body), ignore_unknown=True)
        user = sessions.authenticate(db, runtime.passwords, data.email, data.password)
        if user is None:
            return msg(BAD_CREDENTIALS, 401)  # returned, not raised: the user.login_failed entry is committed
        pair = sessions.sign_in(db, runtime.settings, user, user_agent=request.headers.get("user-agent"))
        tokens = {"access_token": pair.access.token, "refresh_token": pair.refresh.token}
        return LegacyJSONResponse({**tokens, "user": user_json(user)})

    return await session.run_sync(answer)


@router.post("/api/auth/refresh", name="POST /api/auth/refresh", responses=legacy_responses())
async def refresh(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Mint a new access token from a refresh token."""
    claims = token_claims(request, runtime, "refresh")
    outcome = await session.run_sync(sessions.resolve_refresh, claims)
    if isinstance(outcome, TokenError):
        return msg(outcome.message, outcome.status_code)  # returned: a reuse's revocation is committed
    access = sessions.issue_access(runtime.settings, *outcome)
    return LegacyJSONResponse({"access_token": access.token})


@router.post("/api/auth/logout", name="POST /api/auth/logout", responses=legacy_responses())
async def logout(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Revoke the presented access token and end its login session."""

    def answer(db: Session) -> None:
        user, auth_session, claims = signed_in(request, db, runtime)
        sessions.sign_out(db, user, auth_session, claims)

    await session.run_sync(answer)
    return LegacyJSONResponse({"msg": "Successfully logged out"})
