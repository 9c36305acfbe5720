"""Reading requests: JSON bodies, pages, the current user and the runtime."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import current_app, g, request
from sqlalchemy.orm import Session

from datalab import legacy_input, tokens
from datalab.errors import Forbidden
from datalab.runtime import Runtime
from datalab.services import sessions
from datalab.services.pages import PageRequest
from legacy_flask.extensions import db
from shared_models import AuthSession, Role, User

F = TypeVar("F", bound=Callable[..., Any])
NOT_AN_OBJECT = legacy_input.NOT_AN_OBJECT


def db_session() -> Session:
    """Return this request's database session (one transaction, committed by the view)."""
    return db.session()


def runtime() -> Runtime:
    """Return the settings, hasher and cipher of this app."""
    return cast(Runtime, current_app.extensions["datalab"])


def json_body() -> dict[str, Any]:
    """Return the request body as a JSON object, or raise the contract's 400."""
    return legacy_input.json_object(request.get_data(cache=True))


def page_request() -> PageRequest:
    """Read `page` and `per_page` from the query string."""
    return legacy_input.page_request(request.args.get)


def token_required(kind: tokens.TokenType = "access") -> Callable[[F], F]:
    """Require a valid bearer token of `kind`; access tokens also load `g.user`."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = tokens.bearer_token(request.headers.get("Authorization"))
            g.claims = tokens.decode_token(runtime().settings, token, expected=kind)
            if kind == "access":
                g.user, g.auth_session = sessions.resolve_access(db_session(), g.claims)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def current_user() -> User:
    """Return the user the access token names, as read from the database."""
    return cast(User, g.user)


def current_session() -> AuthSession:
    """Return the login session of the access token."""
    return cast(AuthSession, g.auth_session)


def require_role(role: Role) -> User:
    """Return the current user if their role ranks at least `role`, else raise Forbidden."""
    user = current_user()
    if not user.has_role_at_least(role):
        raise Forbidden("Insufficient permissions")
    return user
