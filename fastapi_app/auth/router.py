"""Accounts and tokens under /api/v1/auth: sign-up, sign-in, refresh, sign-out, profile, passwords."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request, Response, status
from sqlalchemy.orm import Session

from datalab import tokens
from datalab.errors import Forbidden, TokenError
from datalab.inputs import LoginIn, RegisterIn
from datalab.mail import Mailer
from datalab.services import password_resets, sessions, users
from fastapi_app.auth.schemas import (
    ChangePasswordIn,
    MessageRead,
    ProfileChange,
    RefreshIn,
    ResetConfirmIn,
    ResetRequestIn,
    TokenPairRead,
)
from fastapi_app.dependencies import AccessClaims, CurrentLogin, CurrentUser, RuntimeDep, SessionDep
from fastapi_app.responses import AUTH_ERRORS, errors
from fastapi_app.users.schemas import ProfileRead, UserRead

router = APIRouter(prefix="/auth", tags=["auth"])
PUBLIC: dict[str, Any] = {"security": []}
# The refresh token may come as a bearer token instead of in the body: either, or none declared.
REFRESH_SECURITY: dict[str, Any] = {"security": [{}, {"HTTPBearer": []}]}
RESET_REQUESTED = "If that email belongs to an account, a reset link is on its way."


def _pair(runtime: RuntimeDep, pair: sessions.TokenPair) -> TokenPairRead:
    return TokenPairRead(
        access_token=pair.access.token,
        refresh_token=pair.refresh.token,
        expires_in=runtime.settings.security.access_ttl,
    )


@router.post(
    "/register",
    summary="Create an account",
    status_code=status.HTTP_201_CREATED,
    responses=errors(409, 413, 422),
    openapi_extra=PUBLIC,
)
async def register(account: RegisterIn, session: SessionDep, runtime: RuntimeDep) -> UserRead:
    """Sign up with the `user` role; emails are unique whatever their case."""

    def answer(db: Session) -> UserRead:
        return UserRead.model_validate(users.register(db, runtime.passwords, **account.model_dump()))

    return await session.run_sync(answer)


@router.post(
    "/login",
    summary="Exchange email and password for tokens",
    response_model=TokenPairRead,
    responses=errors(401, 413, 422),
    openapi_extra=PUBLIC,
)
async def login(
    credentials: LoginIn, request: Request, session: SessionDep, runtime: RuntimeDep
) -> TokenPairRead:
    """Sign in; unknown emails, wrong passwords and inactive accounts get the same 401."""

    def answer(db: Session) -> sessions.TokenPair:
        # A refusal raises LoginRefused, which keeps its user.login_failed entry (keep_changes).
        user = sessions.authenticate(db, runtime.passwords, credentials.email, credentials.password)
        return sessions.sign_in(db, runtime.settings, user, user_agent=request.headers.get("user-agent"))

    return _pair(runtime, await session.run_sync(answer))


@router.post(
    "/refresh",
    summary="Exchange a refresh token for a new token pair",
    response_model=TokenPairRead,
    responses=errors(401, 413, 422),
    openapi_extra=REFRESH_SECURITY,
)
async def refresh(
    request: Request, session: SessionDep, runtime: RuntimeDep, body: RefreshIn | None = None
) -> TokenPairRead:
    """Rotate: the presented refresh token is retired; presenting it again ends its session.

    Send the refresh token in the body (`refresh_token`) or as `Authorization: Bearer <refresh
    token>`. Sent both ways, the two must be the same token, or the answer is 401 TOKEN_MISMATCH.
    """
    claims = tokens.decode_token(runtime.settings, _refresh_token(request, body), expected="refresh")

    def answer(db: Session) -> sessions.TokenPair:
        # A reuse raises a revoked error that keeps the revocation and its audit entry.
        found = sessions.resolve_refresh(db, claims)
        return sessions.rotate(db, runtime.settings, *found, presented_jti=claims["jti"])

    return _pair(runtime, await session.run_sync(answer))


def _raw(token: str) -> bytes:
    return token.encode("utf-8", "surrogatepass")


def _refresh_token(request: Request, body: RefreshIn | None) -> str:
    header = request.headers.get("authorization")
    from_header = tokens.bearer_token(header) if header else None
    from_body = body.refresh_token if body else None
    # Compared as bytes: compare_digest refuses str with non-ASCII characters (a lone surrogate too).
    if from_header and from_body and not hmac.compare_digest(_raw(from_header), _raw(from_body)):
        raise TokenError(
            "The refresh tokens in the Authorization header and the body differ",
            status_code=401,
            code="TOKEN_MISMATCH",
        )
    token = from_header or from_body
    if not token:
        raise TokenError(
            "Missing refresh token: send it in the body or as 'Authorization: Bearer <token>'",
            status_code=401,
            code="TOKEN_MISSING",
        )
    return token


@router.post(
    "/logout",
    summary="Revoke the access token and end its session",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(*AUTH_ERRORS),
)
async def logout(session: SessionDep, login: CurrentLogin, claims: AccessClaims) -> Response:
    """Sign out: the token, and every token of its login session, stop working on both APIs."""
    user, auth_session = login
    await session.run_sync(sessions.sign_out, user, auth_session, claims)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/profile", summary="Return the caller's profile", responses=errors(*AUTH_ERRORS))
async def profile(user: CurrentUser) -> ProfileRead:
    """Return the signed-in user's profile, read from the database."""
    return ProfileRead.model_validate(user)


@router.get(
    "/me", summary="Return the caller's profile (the same as GET /profile)", responses=errors(*AUTH_ERRORS)
)
async def me(user: CurrentUser) -> ProfileRead:
    """Return the signed-in user's profile, read from the database; the platform's name for GET /profile."""
    return ProfileRead.model_validate(user)


@router.put("/profile", summary="Change the caller's profile", responses=errors(*AUTH_ERRORS))
async def update_profile(session: SessionDep, user: CurrentUser, changes: ProfileChange) -> ProfileRead:
    """Change name, department, organization, time zone, language, avatar or preferences; nothing else."""

    def answer(db: Session) -> ProfileRead:
        return ProfileRead.model_validate(
            users.update_profile(db, user, changes.model_dump(exclude_unset=True))
        )

    return await session.run_sync(answer)


@router.post(
    "/change-password",
    summary="Change the caller's password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(*AUTH_ERRORS, 403),
)
async def change_password(
    session: SessionDep, runtime: RuntimeDep, login: CurrentLogin, body: ChangePasswordIn
) -> Response:
    """Check the current password, set the new one and end every other session of the user."""
    user, auth_session = login

    def change(db: Session) -> None:
        if not runtime.passwords.verify(body.current_password, user.password_hash):
            raise Forbidden("The current password is wrong", code="WRONG_PASSWORD")
        users.change_password(db, runtime.passwords, user, body.new_password, keep_session=auth_session.id)

    await session.run_sync(change)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/reset-password",
    summary="Ask for a password-reset mail",
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors(413, 422),
    openapi_extra=PUBLIC,
)
async def request_password_reset(
    body: ResetRequestIn, request: Request, session: SessionDep, runtime: RuntimeDep, tasks: BackgroundTasks
) -> MessageRead:
    """Mail a single-use reset link valid 30 minutes; the same answer whether or not the email exists."""
    mail = await session.run_sync(password_resets.request_reset, runtime.settings, body.email)
    if mail is not None:
        # Sent after the answer, so an existing email costs the caller no extra time.
        mailer: Mailer = request.app.state.mailer
        tasks.add_task(mailer.send, mail)
    return MessageRead(message=RESET_REQUESTED)


@router.post(
    "/reset-password/confirm",
    summary="Set a new password with a reset token",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 413, 422),
    openapi_extra=PUBLIC,
)
async def confirm_password_reset(body: ResetConfirmIn, session: SessionDep, runtime: RuntimeDep) -> Response:
    """Use a reset token once: the password changes and every session of the user ends."""
    await session.run_sync(password_resets.confirm_reset, runtime.passwords, body.token, body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
