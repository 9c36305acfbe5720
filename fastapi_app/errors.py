"""One error envelope for every /api/v1 answer that is not a success."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from datalab.errors import DomainError, InvalidInput, TokenError

log = logging.getLogger(__name__)
SERVICE = "datalab-api"
ERROR_TYPES = {
    400: "invalid_request",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_error",
    429: "rate_limited",
    500: "server_error",
    502: "upstream_error",
    503: "unavailable",
    504: "upstream_timeout",
}
HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE", 401: "UNAUTHENTICATED"}
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="datalab"'}


def envelope(
    status: int, code: str, message: str, *, details: Any = None, request_id: str | None = None
) -> dict[str, Any]:
    """Return the v1 error body."""
    return {
        "error": {
            "type": ERROR_TYPES.get(status, "error"),
            "code": code,
            "message": message,
            "details": details,
            "request_id": request_id,
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            "service": SERVICE,
        }
    }


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    *,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Return a v1 error response for `request`."""
    if status == 401:
        headers = {**BEARER_CHALLENGE, **(headers or {})}
    body = envelope(
        status, code, message, details=details, request_id=request.scope.get("state", {}).get("request_id")
    )
    return JSONResponse(body, status_code=status, headers=headers)


def init_app(app: FastAPI) -> None:
    """Register the handlers that put every error in the envelope."""
    app.add_exception_handler(TokenError, _token_error)  # type: ignore[arg-type]
    app.add_exception_handler(InvalidInput, _invalid_input)  # type: ignore[arg-type]
    app.add_exception_handler(DomainError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected_error)


async def _token_error(request: Request, exc: TokenError) -> JSONResponse:
    # RFC 6750: every token problem is a 401 here, whatever flask-jwt-extended answers on /api.
    return error_response(request, 401, exc.code, exc.message)


async def _invalid_input(request: Request, exc: InvalidInput) -> JSONResponse:
    # In v1 every field-level problem is a 422 with the field named in `details`.
    details = [{"field": exc.field, "message": exc.reason, "type": exc.code.lower()}]
    return error_response(request, 422, exc.code, exc.message, details=details)


async def _domain_error(request: Request, exc: DomainError) -> JSONResponse:
    return error_response(request, exc.status_code, exc.code, exc.message, details=exc.details)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    details = [
        {
            "field": ".".join(str(part) for part in error["loc"]),
            "message": error["msg"].removeprefix("Value error, "),
            "type": error["type"],
        }
        for error in exc.errors()
    ]
    return error_response(request, 422, "VALIDATION_FAILED", "The request is not valid", details=details)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    status = exc.status_code
    if status == 400:
        # FastAPI's answer to a body it cannot even decode; like any malformed JSON, a 422 here.
        return error_response(request, 422, "INVALID_BODY", "The request body is not valid JSON")
    if status == 405:
        allowed = request.app.state.methods_for(request.url.path)
        return error_response(
            request, 405, "METHOD_NOT_ALLOWED", "Method Not Allowed", headers={"Allow": allowed}
        )
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).phrase
    code = HTTP_CODES.get(status, HTTPStatus(status).name)
    return error_response(request, status, code, message, headers=dict(exc.headers or {}))


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error serving %s", request.url.path)
    if not request.url.path.startswith("/api/v1"):
        return JSONResponse({"msg": "Internal server error"}, status_code=500)
    return error_response(request, 500, "INTERNAL_ERROR", "Internal server error")
