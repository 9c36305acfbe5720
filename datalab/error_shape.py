"""The one place that decides what an error looks like for a path: v1 envelope or legacy `{"msg"}`.

Framework-free (plain dicts), so the FastAPI handlers, the ASGI edges and the Flask app
share it; each writer keeps its own encoding, because each answer's bytes are frozen.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

V1_PREFIX = "/api/v1"
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


def is_v1(path: str) -> bool:
    """Tell whether `path` belongs to the v1 API: `/api/v1` itself or below it, never `/api/v1x`."""
    return path == V1_PREFIX or path.startswith(V1_PREFIX + "/")


def legacy_body(message: str) -> dict[str, Any]:
    """Return the legacy API's error body."""
    return {"msg": message}


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


def error_body(
    path: str, status: int, code: str, message: str, *, details: Any = None, request_id: str | None = None
) -> dict[str, Any]:
    """Return the error body for `path`: the v1 envelope under /api/v1, `{"msg"}` everywhere else."""
    if is_v1(path):
        return envelope(status, code, message, details=details, request_id=request_id)
    return legacy_body(message)
