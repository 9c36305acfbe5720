"""The last word on an unexpected error: a 500 in the caller's API shape that the outer layers still see.

Starlette answers unhandled errors in its outermost ServerErrorMiddleware, outside every
middleware we add, so that answer would lack the request id and the security headers.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from starlette.types import Scope, Send

from fastapi_app.errors import envelope

log = structlog.get_logger("datalab.errors")


def is_v1(path: str) -> bool:
    """Tell whether `path` belongs to the v1 API (its errors use the envelope)."""
    return path == "/api/v1" or path.startswith("/api/v1/")


async def send_error(
    scope: Scope, send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    """Send a JSON error in the shape of the API `scope` belongs to: v1 envelope or legacy `{"msg"}`."""
    payload: dict[str, Any]
    if is_v1(scope["path"]):
        payload = envelope(status, code, message, request_id=scope.get("state", {}).get("request_id"))
    else:
        payload = {"msg": message}
    body = json.dumps(payload).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
