"""Pure ASGI middleware that wraps both halves: request context and body size.

They sit outside the Flask mount, so legacy and v1 requests get them alike.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from datalab.context import RouteInfo, bind_request, bind_route
from fastapi_app.errors import envelope

REQUEST_ID_HEADER = b"x-request-id"
SERVED_BY_HEADER = b"x-served-by"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestContextMiddleware:
    """Give every request an id (a sane `X-Request-ID` from the client, else a new one) and echo it.

    It also binds a `RouteInfo` for the request and names, in `X-Served-By`, the
    implementation that answered (`legacy_flask` or `fastapi`).
    """

    def __init__(self, app: ASGIApp, template_for: Callable[[str], str | None] = lambda _: None) -> None:
        self.app = app
        self.template_for = template_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(REQUEST_ID_HEADER, b"").decode("latin-1")
        request_id = sent if _VALID_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        client = scope.get("client")
        bind_request(request_id, client[0] if client else None)
        scope.setdefault("state", {})["request_id"] = request_id
        info = bind_route()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                _name_fastapi_route(scope, info, self.template_for)
                ours = (REQUEST_ID_HEADER, SERVED_BY_HEADER)
                headers = [h for h in message.get("headers", []) if h[0].lower() not in ours]
                message["headers"] = [
                    *headers,
                    (REQUEST_ID_HEADER, request_id.encode()),
                    (SERVED_BY_HEADER, (info.served_by or "fastapi").encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_id)


def _name_fastapi_route(scope: Scope, info: RouteInfo, template_for: Callable[[str], str | None]) -> None:
    # Flask names its own routes (legacy_flask.app); anything else was answered by FastAPI.
    # Its router leaves the matched route in the scope, but an included route's path there
    # lacks the prefixes, so the full template comes from the documented paths.
    if info.served_by is not None:
        return
    info.served_by = "fastapi"
    if info.template is None and isinstance(scope.get("route"), Route):
        info.template = template_for(scope["path"])


class BodyLimitMiddleware:
    """Answer 413 to bodies over `max_bytes`, declared or streamed, before either half reads them.

    A chunked body is read here (it is small, by this very limit) and handed on with
    a Content-Length, because Werkzeug ignores bodies that come without one.

    `streamed` names the POST paths (regexes) that stream large bodies themselves, the dataset
    uploads: they get `streamed_max_bytes` instead, checked here on Content-Length only and
    counted by the route as the body arrives, never buffered here. `streamed_prefixes` are the
    gateway's service prefixes, whose bodies the proxy streams under its own limit.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        streamed: tuple[re.Pattern[str], ...] = (),
        streamed_max_bytes: int = 0,
        streamed_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streamed = streamed
        self.streamed_max_bytes = streamed_max_bytes
        self.streamed_prefixes = streamed_prefixes  # the gateway's: their own limit, never buffered

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or any(
            path == p or path.startswith(p + "/") for p in self.streamed_prefixes
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if scope["method"] == "POST" and any(p.fullmatch(scope["path"]) for p in self.streamed):
            if declared is not None and (not declared.isdigit() or int(declared) > self.streamed_max_bytes):
                await _too_large(scope, send)
                return
            await self.app(scope, receive, send)
            return
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await _too_large(scope, send)
                return
            await self.app(scope, receive, send)
            return
        if b"chunked" not in headers.get(b"transfer-encoding", b"").lower():
            await self.app(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await _too_large(scope, send)
                return
        scope = dict(scope)
        scope["headers"] = [
            *(h for h in scope["headers"] if h[0] != b"transfer-encoding"),
            (b"content-length", str(len(body)).encode()),
        ]
        await self.app(scope, _replay(bytes(body), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replayed() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _too_large(scope: Scope, send: Send) -> None:
    message = "Request body too large"
    payload: dict[str, Any]
    if scope["path"].startswith("/api/v1"):
        payload = envelope(413, "PAYLOAD_TOO_LARGE", message, request_id=scope["state"].get("request_id"))
    else:
        payload = {"msg": message}
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
