"""What answers a legacy request no port claims when Flask is not loaded (LEGACY_MOUNT=off).

Flask answered those itself: `404 {"msg": "Not found"}`, `405 {"msg": "Method not allowed"}`
with `Allow`, and an automatic empty `OPTIONS` answer. This answers them the same way,
from the ports' own routes, so retiring Flask changes nothing a client sees.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from fastapi_app.migration.ports.common import HTTP_MESSAGES, msg


class LegacyFallback:
    """ASGI app answering, as Flask did, every request to a path or method no port serves."""

    def __init__(self, routes: Iterable[APIRoute]) -> None:
        self.routes = list(routes)

    def allowed(self, scope: Scope) -> set[str]:
        """Return the methods the ports serve at this path (with OPTIONS, as Flask adds it), or none."""
        methods: set[str] = set()
        for route in self.routes:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                methods |= route.methods or set()
        return methods | {"OPTIONS"} if methods else methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 404, 405 or OPTIONS with Flask's bodies and headers."""
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1000})  # what a2wsgi answered
            return
        methods = self.allowed(scope)
        response: Response
        if not methods:
            response = msg(HTTP_MESSAGES[404], 404)
        elif scope["method"] == "OPTIONS":
            response = Response(b"", media_type="text/html")  # Flask's default OPTIONS answer
        else:
            response = msg(HTTP_MESSAGES[405], 405)
        if methods:
            response.headers["Allow"] = ", ".join(sorted(methods))  # Flask's order is a set's: any
        await response(scope, receive, send)
