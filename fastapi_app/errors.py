"""The main app's error handlers: every /api/v1 answer that is not a success is the envelope."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from datalab.error_shape import error_body
from datalab.errors import DomainError, InvalidInput, TokenError

log = logging.getLogger(__name__)
HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE", 401: "UNAUTHENTICATED"}
BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="datalab"'}


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    *,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Return an error response in the shape of the API `request` belongs to (`datalab.error_shape`)."""
    if status == 401:
        headers = {**BEARER_CHALLENGE, **(headers or {})}
    request_id = request.scope.get("state", {}).get("request_id")
    body = error_body(request.url.path, status, code, message, details=details, request_id=request_id)
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
    return error_response(request, 500, "INTERNAL_ERROR", "Internal server error")
