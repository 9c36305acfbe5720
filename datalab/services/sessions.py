"""Login sessions: sign-in, token checks, refresh, logout and revocation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from datalab import audit, tokens
from datalab.context import current_request
from datalab.errors import LoginRefused
from datalab.passwords import PasswordHasher
from datalab.services.pages import valid_id
from datalab.settings import Settings
from shared_models import AuthSession, RevokedToken, User


@dataclass(frozen=True)
class TokenPair:
    """The tokens handed out at sign-in or refresh."""

    access: tokens.IssuedToken
    refresh: tokens.IssuedToken
    session_id: str


def authenticate(session: Session, passwords: PasswordHasher, email: str, password: str) -> User:
    """Return the active user these credentials name, else raise LoginRefused (bcrypt runs either way)."""
    user = session.scalars(select(User).where(User.email == email)).one_or_none()
    matches = passwords.verify(password, user.password_hash if user else None)
    if user is None or not matches or not user.is_active:
        audit.record(
            session,
            "user.login_failed",
            user_id=user.id if user else None,
            details={"email": email},
        )
        raise LoginRefused()
    return user


def sign_in(session: Session, settings: Settings, user: User, *, user_agent: str | None = None) -> TokenPair:
    """Open a login session for an authenticated user and mint its first tokens."""
    now = datetime.now(UTC)
    session_id = str(uuid.uuid4())
    access = tokens.issue_token(
        settings, user_id=user.id, kind="access", session_id=session_id, fresh=True, now=now
    )
    refresh = tokens.issue_token(settings, user_id=user.id, kind="refresh", session_id=session_id, now=now)
    session.add(
        AuthSession(
            id=session_id,
            user_id=user.id,
            refresh_jti=refresh.jti,
            created_at=now,
            last_used_at=now,
            expires_at=refresh.expires_at,
            ip_address=current_request().client_ip,
            user_agent=(user_agent or "")[:255] or None,
        )
    )
    user.last_login = now
    audit.record(session, "user.login", user_id=user.id, resource_type="user", resource_id=user.id)
    session.flush()
    return TokenPair(access=access, refresh=refresh, session_id=session_id)


def resolve_access(session: Session, claims: dict[str, Any]) -> tuple[User, AuthSession]:
    """Return the user and session behind valid access-token claims, or raise the revoked error.

    Role and `is_active` come from this read, never from the token.
    """
    user_id = int(claims["sub"])
    if not valid_id(user_id):
        # No row has such an id; asyncpg would refuse the parameter itself (int32) with a 500.
        raise tokens.revoked_error()
    # One round trip: the user, the login session and whether this very token was revoked.
    token_revoked = exists().where(RevokedToken.jti == claims["jti"])
    row = session.execute(
        select(User, AuthSession, token_revoked)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(User.id == user_id, AuthSession.id == claims["sid"])
    ).one_or_none()
    if row is None:
        raise tokens.revoked_error()
    user, auth_session, revoked = row
    if not user.is_active or auth_session.revoked_at is not None or revoked:
        raise tokens.revoked_error()
    return user, auth_session


def resolve_refresh(session: Session, claims: dict[str, Any]) -> tuple[User, AuthSession]:
    """Check a refresh token against its session; a retired one ends the whole session.

    The reuse case raises a revoked error that keeps its changes: the revocation and its
    audit entry are committed before the 401.
    """
    user, auth_session = resolve_access(session, claims)
    if auth_session.refresh_jti != claims["jti"]:
        _reused(session, user, auth_session)
    auth_session.last_used_at = datetime.now(UTC)
    return user, auth_session


def issue_access(settings: Settings, user: User, auth_session: AuthSession) -> tokens.IssuedToken:
    """Mint a new (not fresh) access token within an existing session."""
    return tokens.issue_token(settings, user_id=user.id, kind="access", session_id=auth_session.id)


def rotate(
    session: Session, settings: Settings, user: User, auth_session: AuthSession, *, presented_jti: str
) -> TokenPair:
    """Retire the presented refresh token and mint a new pair; a token already retired is a reuse.

    The swap is one conditional UPDATE, so of two requests racing with the same
    token only one can win; the other is treated as the reuse it is.
    """
    access = issue_access(settings, user, auth_session)
    refresh = tokens.issue_token(settings, user_id=user.id, kind="refresh", session_id=auth_session.id)
    swapped = session.execute(
        update(AuthSession)
        .where(
            AuthSession.id == auth_session.id,
            AuthSession.refresh_jti == presented_jti,
            AuthSession.revoked_at.is_(None),
        )
        .values(refresh_jti=refresh.jti, expires_at=refresh.expires_at),
        execution_options={"synchronize_session": "fetch"},
    )
    if swapped.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(auth_session)
        _reused(session, user, auth_session)
    return TokenPair(access=access, refresh=refresh, session_id=auth_session.id)


def sign_out(session: Session, user: User, auth_session: AuthSession, claims: dict[str, Any]) -> None:
    """Revoke the presented token and end its session, so its refresh token dies too."""
    revoked = RevokedToken(
        jti=claims["jti"],
        user_id=user.id,
        token_type=claims["type"],
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )
    try:
        # Two logouts racing with one token: the second finds it revoked already, which is fine.
        with session.begin_nested():
            session.add(revoked)
    except IntegrityError:
        pass
    _revoke(session, auth_session, reason="logout")
    audit.record(
        session, "user.logout", user_id=user.id, resource_type="session", resource_id=auth_session.id
    )
    session.flush()


def revoke_all(session: Session, user_id: int, *, reason: str, keep: str | None = None) -> None:
    """End every open session of a user, except `keep`."""
    statement = (
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC), revoked_reason=reason)
    )
    if keep is not None:
        statement = statement.where(AuthSession.id != keep)
    session.execute(statement, execution_options={"synchronize_session": "fetch"})


def purge_expired(session: Session, *, now: datetime | None = None) -> int:
    """Delete revoked-token rows and sessions past their expiry; return how many went."""
    now = now or datetime.now(UTC)
    grace = now - timedelta(days=1)
    tokens_gone = session.execute(delete(RevokedToken).where(RevokedToken.expires_at < grace))
    sessions_gone = session.execute(delete(AuthSession).where(AuthSession.expires_at < grace))
    return int(tokens_gone.rowcount) + int(sessions_gone.rowcount)  # type: ignore[attr-defined]


def _reused(session: Session, user: User, auth_session: AuthSession) -> NoReturn:
    _revoke(session, auth_session, reason="refresh_reuse")
    audit.record(
        session,
        "user.token_reuse",
        user_id=user.id,
        resource_type="session",
        resource_id=auth_session.id,
    )
    session.flush()
    error = tokens.revoked_error()
    error.keep_changes = True
    raise error


def _revoke(session: Session, auth_session: AuthSession, *, reason: str) -> None:
    if auth_session.revoked_at is None:
        auth_session.revoked_at = datetime.now(UTC)
        auth_session.revoked_reason = reason
