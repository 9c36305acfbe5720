"""OpenAPI descriptions of the error envelope, for each route's `responses=`."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel

AUTH_ERRORS = (401, 413, 422)


class ErrorBody(BaseModel):
    """What went wrong, for machines (`code`) and people (`message`)."""

    type: str
    code: str
    message: str
    details: Any = None
    request_id: str | None
    timestamp: str
    service: str


class ErrorEnvelope(BaseModel):
    """Every v1 error answer."""

    error: ErrorBody


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Describe the error answers a route may give."""
    return {code: {"model": ErrorEnvelope, "description": HTTPStatus(code).phrase} for code in statuses}
