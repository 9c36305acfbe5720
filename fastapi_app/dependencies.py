"""The vocabulary of the v1 routers: a session per request, the runtime, the current user.

Every dependency is `async def`: none hops to a thread. Database work runs the shared
sync services on the request's AsyncSession through `run_sync` (SQLAlchemy's greenlet
bridge); blocking work inside them (bcrypt, connectors) is handed to bounded thread
pools by `datalab.blocking`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from datalab import tokens
from datalab.errors import DomainError
from datalab.permissions import role_refusal
from datalab.rehearsal import rehearsing
from datalab.runtime import Runtime
from datalab.services import sessions
from fastapi_app.database import AsyncDatabase
from shared_models import AuthSession, Role, User

# Declares the bearer scheme in OpenAPI; the header itself is parsed by the shared token module
# so that both halves refuse the same malformed headers with the same words.
bearer_scheme = HTTPBearer(auto_error=False, description="An access token from /api/v1/auth/login")


async def get_runtime(request: Request) -> Runtime:
    """Return the app's settings, hasher and cipher."""
    return cast(Runtime, request.app.state.runtime)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield a session whose transaction commits when the route returns, before the response.

    In a rehearsal (a shadowed write, `datalab.rehearsal`) it is rolled back instead, always. Otherwise
    a domain error rolls the transaction back, unless it says `keep_changes` (a refused login's audit
    entry): then it is committed and the error answered all the same.
    """
    database = cast(AsyncDatabase, request.app.state.database)
    if rehearsing():
        async with database.rolled_back_session() as session:
            yield session
        return
    async with database.session() as session, session.begin() as transaction:
        try:
            yield session
        except DomainError as error:
            if error.keep_changes:
                await transaction.commit()
            raise


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
# scope="function": a failed commit becomes an error response, never a false 200.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def access_claims(
    request: Request,
    runtime: RuntimeDep,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> dict[str, Any]:
    """Return the verified claims of the request's access token."""
    token = tokens.bearer_token(request.headers.get("Authorization"))
    return tokens.decode_token(runtime.settings, token, expected="access")


AccessClaims = Annotated[dict[str, Any], Depends(access_claims)]


async def current_login(session: SessionDep, claims: AccessClaims) -> tuple[User, AuthSession]:
    """Return the user and login session behind the access token, read from the database."""
    return await session.run_sync(sessions.resolve_access, claims)


CurrentLogin = Annotated[tuple[User, AuthSession], Depends(current_login)]


async def current_user(login: CurrentLogin) -> User:
    """Return the user behind the access token."""
    return login[0]


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(role: Role) -> Any:
    """Return a dependency that lets only users ranking at least `role` through."""

    async def check(user: CurrentUser) -> User:
        if not user.has_role_at_least(role):
            raise role_refusal(role)
        return user

    return Depends(check)
