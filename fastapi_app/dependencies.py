"""The vocabulary of the v1 routers: a session per request, the runtime, the current user.

FastAPI runs every sync dependency on a worker thread, one hop each. Those that only
read memory or check a signature are `async def` to skip that hop; those that touch
the database stay sync, so no blocking call ever runs on the event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from datalab import tokens
from datalab.errors import Forbidden
from datalab.runtime import Runtime
from datalab.services import sessions
from shared_models import ROLE_RANK, AuthSession, Role, User

# Declares the bearer scheme in OpenAPI; the header itself is parsed by the shared token module
# so that both halves refuse the same malformed headers with the same words.
bearer_scheme = HTTPBearer(auto_error=False, description="An access token from /api/v1/auth/login")


async def get_runtime(request: Request) -> Runtime:
    """Return the app's settings, hasher and cipher."""
    return cast(Runtime, request.app.state.runtime)


def get_session(request: Request) -> Iterator[Session]:
    """Yield a session whose transaction commits when the route returns, before the response."""
    factory = cast(sessionmaker[Session], request.app.state.sessionmaker)
    with factory() as session, session.begin():
        yield session


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
# scope="function": a failed commit becomes an error response, never a false 200.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def access_claims(
    request: Request,
    runtime: RuntimeDep,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> dict[str, Any]:
    """Return the verified claims of the request's access token."""
    token = tokens.bearer_token(request.headers.get("Authorization"))
    return tokens.decode_token(runtime.settings, token, expected="access")


AccessClaims = Annotated[dict[str, Any], Depends(access_claims)]


def current_login(session: SessionDep, claims: AccessClaims) -> tuple[User, AuthSession]:
    """Return the user and login session behind the access token, read from the database."""
    return sessions.resolve_access(session, claims)


CurrentLogin = Annotated[tuple[User, AuthSession], Depends(current_login)]


async def current_user(login: CurrentLogin) -> User:
    """Return the user behind the access token."""
    return login[0]


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(role: Role) -> Any:
    """Return a dependency that lets only users ranking at least `role` through."""

    allowed = [r.value for r in Role if ROLE_RANK[r] >= ROLE_RANK[role]]
    message = f"Insufficient permissions: this needs the {role.value} role or higher ({', '.join(allowed)})"

    async def check(user: CurrentUser) -> User:
        if not user.has_role_at_least(role):
            raise Forbidden(message, details={"required_role": role.value, "allowed_roles": allowed})
        return user

    return Depends(check)
