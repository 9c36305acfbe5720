"""What every FastAPI port of a legacy route needs: Flask's JSON bytes, `{"msg"}` errors and token checks.

Ports answer the frozen /api contract, not the v1 one: no envelope, no FastAPI body
validation (bodies are read raw and parsed by `datalab.legacy_input`, as Flask does),
and flask-jwt-extended's token texts and codes.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from datalab import tokens
from datalab.errors import DomainError, Forbidden
from datalab.runtime import Runtime
from datalab.services import sessions
from fastapi_app.edges.database import LEGACY_MESSAGE, UNAVAILABLE, describe
from shared_models import AuthSession, Role, User

log = logging.getLogger(__name__)
# The texts legacy_flask.errors answers for HTTP errors; a port should never produce them, but alike.
HTTP_MESSAGES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
}


class LegacyError(BaseModel):
    """Every legacy error body: `{"msg": "<text>"}`."""

    msg: str = Field(description="What went wrong, e.g. `Insufficient permissions`")


# What each error status means on /api (docs/legacy-api.md, Conventions).
ERROR_MEANINGS = {
    400: "Invalid input: not a JSON object, or `msg` names the field and why",
    401: "Missing Authorization Header, expired or revoked token, or bad credentials",
    403: "Insufficient permissions",
    404: "Not found (also another user's resource)",
    409: "Conflict",
    413: "Request body too large",
    422: "Bad token: signature, format or type (flask-jwt-extended's texts)",
    503: "The database does not answer",
}
TOKEN_ERRORS = (401, 422)


def legacy_responses(
    *codes: int, token: bool = True, database: bool = True
) -> dict[int | str, dict[str, Any]]:
    """Describe a port's legacy error answers (`{"msg"}` bodies) for OpenAPI: `codes`, token errors, 503."""
    declared = sorted({*codes, *(TOKEN_ERRORS if token else ()), *((503,) if database else ())})
    return {code: {"model": LegacyError, "description": ERROR_MEANINGS[code]} for code in declared}


class LegacyJSONResponse(Response):
    """JSON byte for byte as Flask's `jsonify` writes it here: ASCII, compact, key order kept, a newline."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode `content` as Flask would."""
        return (json.dumps(content, ensure_ascii=True, separators=(",", ":")) + "\n").encode()


def msg(message: str, status: int, headers: dict[str, str] | None = None) -> LegacyJSONResponse:
    """Return the legacy error body `{"msg": message}` with `status`."""
    return LegacyJSONResponse({"msg": message}, status_code=status, headers=headers)


def init_errors(app: FastAPI) -> None:
    """Register the handlers that answer errors as the legacy API does."""
    for error in UNAVAILABLE:
        app.add_exception_handler(error, _database_unavailable)
    app.add_exception_handler(DomainError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _bad_request)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)


async def _database_unavailable(_: Request, exc: Exception) -> Response:
    log.warning("database unavailable: %s", describe(exc))
    return msg(LEGACY_MESSAGE, 503, headers={"Retry-After": "5"})


async def _domain_error(_: Request, exc: DomainError) -> Response:
    return msg(exc.message, exc.status_code)


async def _bad_request(_: Request, exc: RequestValidationError) -> Response:
    return msg(HTTP_MESSAGES[400], 400)


async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
    return msg(HTTP_MESSAGES.get(exc.status_code, str(exc.detail)), exc.status_code)


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error in a FastAPI port of %s %s", request.method, request.url.path)
    return msg("Internal server error", 500)


async def raw_body(request: Request) -> bytes:
    """Return the request body unparsed; the route parses it after its token check, as Flask does."""
    return await request.body()


async def get_runtime(request: Request) -> Runtime:
    """Return the settings, hasher and cipher shared with the main app."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RawBody = Annotated[bytes, Depends(raw_body)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def authorization(request: Request) -> str | None:
    """Return the Authorization header as Flask sees it: repeated headers joined with commas."""
    values = request.headers.getlist("authorization")
    return ",".join(values) if values else None


def token_claims(request: Request, runtime: Runtime, kind: tokens.TokenType) -> dict[str, Any]:
    """Return the verified claims of the bearer token of `kind`, or raise flask-jwt-extended's error."""
    return tokens.decode_token(runtime.settings, tokens.bearer_token(authorization(request)), expected=kind)


def signed_in(
    request: Request, session: Session, runtime: Runtime
) -> tuple[User, AuthSession, dict[str, Any]]:
    """Check the access token and read its user and login session, as `token_required()` does."""
    claims = token_claims(request, runtime, "access")
    user, auth_session = sessions.resolve_access(session, claims)
    return user, auth_session, claims


def require_role(user: User, role: Role) -> User:
    """Return `user` if their role ranks at least `role`, else raise Forbidden."""
    if not user.has_role_at_least(role):
        raise Forbidden("Insufficient permissions")
    return user


def first_arg(request: Request) -> Any:
    """Return a lookup giving a query argument's first value, as Werkzeug's `args.get` does."""

    def arg(name: str) -> str | None:
        values = request.query_params.getlist(name)
        return values[0] if values else None

    return arg
