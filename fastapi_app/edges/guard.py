"""The error writer of the ASGI layers (gate, body limit, rate limit, gateway): raw JSON in the path's shape.

The shape comes from `datalab.error_shape`; the encoding (`json.dumps` defaults) is these
layers' own and stays as it is, since the bytes of every answer are part of the contract.
"""

from __future__ import annotations

import json

from starlette.types import Scope, Send

from datalab.error_shape import error_body


async def send_error(
    scope: Scope, send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    """Send a JSON error in the shape of the API `scope` belongs to: v1 envelope or legacy `{"msg"}`."""
    request_id = scope.get("state", {}).get("request_id")
    body = json.dumps(error_body(scope["path"], status, code, message, request_id=request_id)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
