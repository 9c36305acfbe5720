"""The body limit's pieces, for the gate layer (`fastapi_app.edges.gate`) that wraps both halves."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from fastapi_app.edges.guard import send_error


async def read_chunked_body(
    scope: Scope, receive: Receive, send: Send, max_bytes: int
) -> tuple[Scope, Receive] | None:
    """Read a chunked body of at most `max_bytes`; return the scope and receive that replay it.

    Werkzeug ignores bodies that come without a Content-Length, so the body (small, by
    this very limit) is handed on with one. None when the answer is already given (413)
    or the client left.
    """
    body = bytearray()
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > max_bytes:
            await too_large(scope, send)
            return None
    scope = dict(scope)
    scope["headers"] = [
        *(h for h in scope["headers"] if h[0] != b"transfer-encoding"),
        (b"content-length", str(len(body)).encode()),
    ]
    return scope, _replay(bytes(body), receive)


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def too_large(scope: Scope, send: Send) -> None:
    """Answer 413 in the shape of the API the path belongs to."""
    await send_error(scope, send, 413, "PAYLOAD_TOO_LARGE", "Request body too large")
