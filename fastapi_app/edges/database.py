"""A database that does not answer is a 503 on both halves, never a 500 or a half-written row.

Each request is one transaction, so a failure anywhere rolls all of it back; the pools
ping connections before use (`pool_pre_ping`), so service resumes by itself once the
database is back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from fastapi_app.errors import error_response

if TYPE_CHECKING:
    from flask import Flask, Response

log = structlog.get_logger("datalab.database")
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)
LEGACY_MESSAGE = "Service unavailable: the database does not answer"


def describe(exc: Exception) -> str:
    """Name a database failure by its class only: driver texts can carry SQL and parameters."""
    original = exc.orig if isinstance(exc, DBAPIError) else None
    return type(original or exc).__name__


async def _v1_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable", error=describe(exc))
    return error_response(
        request, 503, "DATABASE_UNAVAILABLE", "The database does not answer", headers={"Retry-After": "5"}
    )


def _legacy_unavailable(exc: Exception) -> tuple[Response, int]:
    from flask import jsonify  # Flask is imported only when it is mounted

    log.warning("database unavailable", error=describe(exc))
    response = jsonify(msg=LEGACY_MESSAGE)
    response.headers["Retry-After"] = "5"
    return response, 503


def init_app(app: FastAPI, flask_app: Flask | None) -> None:
    """Answer 503 on both halves (Flask's too, when it is loaded) when the database cannot be reached."""
    for error in UNAVAILABLE:
        app.add_exception_handler(error, _v1_unavailable)
        if flask_app is not None:
            flask_app.register_error_handler(error, _legacy_unavailable)
