"""Every error the legacy API answers is `{"msg": ...}` with the contract's status code."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from datalab.error_shape import legacy_body
from datalab.errors import DomainError
from legacy_flask.extensions import db

log = logging.getLogger(__name__)

HTTP_MESSAGES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
}


def init_app(app: Flask) -> None:
    """Register the JSON error handlers."""
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)


def error_response(message: str, status: int) -> tuple[Response, int]:
    """Return the legacy error body with `status`."""
    return jsonify(legacy_body(message)), status


def _domain_error(exc: DomainError) -> tuple[Response, int]:
    if exc.keep_changes:
        # A refusal that keeps what it wrote (an audit entry, a revocation); any other error's
        # changes are rolled back when Flask-SQLAlchemy removes the session at teardown.
        db.session.commit()
    return error_response(exc.message, exc.status_code)


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    status = exc.code or 500
    response, _ = error_response(HTTP_MESSAGES.get(status, exc.name), status)
    if status == 405 and exc.get_response().headers.get("Allow"):
        response.headers["Allow"] = exc.get_response().headers["Allow"]
    return response, status


def _unexpected_error(exc: Exception) -> tuple[Response, int]:
    log.exception("unhandled error in the legacy API")
    return error_response("Internal server error", 500)
