"""Sign-in, token refresh, sign-out and the caller's profile under /api/v1/auth."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from datalab import tokens
from datalab.errors import TokenError
from datalab.inputs import LoginIn
from datalab.services import sessions
from fastapi_app.auth.schemas import RefreshIn, TokenPairRead, UserRead
from fastapi_app.dependencies import AccessClaims, CurrentLogin, CurrentUser, RuntimeDep, SessionDep
from fastapi_app.errors import error_response
from fastapi_app.responses import AUTH_ERRORS, errors

router = APIRouter(prefix="/auth", tags=["auth"])


def _pair(runtime: RuntimeDep, pair: sessions.TokenPair) -> TokenPairRead:
    return TokenPairRead(
        access_token=pair.access.token,
        refresh_token=pair.refresh.token,
        expires_in=runtime.settings.access_ttl,
    )


@router.post(
    "/login",
    summary="Exchange email and password for tokens",
    response_model=TokenPairRead,
    responses=errors(401, 413, 422),
    openapi_extra={"security": []},
)
def login(
    credentials: LoginIn, request: Request, session: SessionDep, runtime: RuntimeDep
) -> TokenPairRead | JSONResponse:
    """Sign in; unknown emails, wrong passwords and inactive accounts get the same 401."""
    user = sessions.authenticate(session, runtime.passwords, credentials.email, credentials.password)
    if user is None:
        # Returned, not raised, so the user.login_failed entry is committed.
        return error_response(request, 401, "BAD_CREDENTIALS", "Bad email or password")
    pair = sessions.sign_in(session, runtime.settings, user, user_agent=request.headers.get("user-agent"))
    return _pair(runtime, pair)


@router.post(
    "/refresh",
    summary="Exchange a refresh token for a new token pair",
    response_model=TokenPairRead,
    responses=errors(401, 413, 422),
    openapi_extra={"security": []},
)
def refresh(
    body: RefreshIn, request: Request, session: SessionDep, runtime: RuntimeDep
) -> TokenPairRead | JSONResponse:
    """Rotate: the presented refresh token is retired; presenting it again ends its session."""
    claims = tokens.decode_token(runtime.settings, body.refresh_token, expected="refresh")
    found = sessions.resolve_refresh(session, claims)
    outcome = (
        found
        if isinstance(found, TokenError)
        else sessions.rotate(session, runtime.settings, *found, presented_jti=claims["jti"])
    )
    if isinstance(outcome, TokenError):
        # Returned, not raised, so a reuse's revocation and audit entry are committed.
        return error_response(request, 401, outcome.code, outcome.message)
    return _pair(runtime, outcome)


@router.post(
    "/logout",
    summary="Revoke the access token and end its session",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(*AUTH_ERRORS),
)
def logout(session: SessionDep, login: CurrentLogin, claims: AccessClaims) -> Response:
    """Sign out: the token, and every token of its login session, stop working on both APIs."""
    user, auth_session = login
    sessions.sign_out(session, user, auth_session, claims)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/profile", summary="Return the caller's profile", responses=errors(*AUTH_ERRORS))
def profile(user: CurrentUser) -> UserRead:
    """Return the signed-in user's profile, read from the database."""
    return UserRead.model_validate(user)
