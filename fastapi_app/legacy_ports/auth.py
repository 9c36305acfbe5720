"""FastAPI ports of POST /api/auth/login, /refresh and /logout (legacy_flask/auth.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from datalab.errors import TokenError
from datalab.inputs import LoginIn, parse_input
from datalab.legacy_input import json_object
from datalab.legacy_json import user_json
from datalab.services import sessions
from fastapi_app.dependencies import SessionDep
from fastapi_app.legacy_ports.common import (
    LegacyJSONResponse,
    RawBody,
    RuntimeDep,
    msg,
    signed_in,
    token_claims,
)

router = APIRouter()
BAD_CREDENTIALS = "Bad email or password"


@router.post("/api/auth/login", name="POST /api/auth/login")
def login(request: Request, body: RawBody, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Exchange email and password for an access and a refresh token."""
    data = parse_input(LoginIn, json_object(body), ignore_unknown=True)
    user = sessions.authenticate(session, runtime.passwords, data.email, data.password)
    if user is None:
        return msg(BAD_CREDENTIALS, 401)  # returned, not raised: the user.login_failed entry is committed
    pair = sessions.sign_in(session, runtime.settings, user, user_agent=request.headers.get("user-agent"))
    answer = {"access_token": pair.access.token, "refresh_token": pair.refresh.token, "user": user_json(user)}
    return LegacyJSONResponse(answer)


@router.post("/api/auth/refresh", name="POST /api/auth/refresh")
def refresh(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Mint a new access token from a refresh token."""
    claims = token_claims(request, runtime, "refresh")
    outcome = sessions.resolve_refresh(session, claims)
    if isinstance(outcome, TokenError):
        return msg(outcome.message, outcome.status_code)  # returned: a reuse's revocation is committed
    access = sessions.issue_access(runtime.settings, *outcome)
    return LegacyJSONResponse({"access_token": access.token})


@router.post("/api/auth/logout", name="POST /api/auth/logout")
def logout(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Revoke the presented access token and end its login session."""
    user, auth_session, claims = signed_in(request, session, runtime)
    sessions.sign_out(session, user, auth_session, claims)
    return LegacyJSONResponse({"msg": "Successfully logged out"})
