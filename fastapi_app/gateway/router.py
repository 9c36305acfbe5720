"""The routes that forward each service's prefix, after the same token checks as every v1 route."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from starlette.background import BackgroundTasks
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from datalab.context import current_route
from datalab.errors import NotFound
from fastapi_app.dependencies import CurrentUser
from fastapi_app.gateway.proxy import Forwarder
from fastapi_app.gateway.upstream import Upstream

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class ForwardedResponse(Response):
    """A response that is the upstream's answer, streamed when the route's work is done."""

    def __init__(
        self, forwarder: Forwarder, upstream: Upstream, path: str, identity: tuple[str, str]
    ) -> None:
        self.forwarder = forwarder
        self.upstream = upstream
        self.path = path
        self.identity = identity
        self.background: BackgroundTasks | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward the request and relay the answer."""
        await self.forwarder.forward(
            scope, receive, send, upstream=self.upstream, path=self.path, identity=self.identity
        )


def add_service_routes(app: FastAPI, forwarder: Forwarder, upstreams: list[Upstream]) -> None:
    """Add, for each service, a route taking its prefix and everything below it, any method."""
    for upstream in upstreams:
        template = f"{upstream.prefix}/{{path:path}}"

        def make(upstream: Upstream, template: str):  # type: ignore[no-untyped-def]
            async def forward(request: Request, user: CurrentUser) -> Response:
                info = current_route()
                if info is not None:
                    info.template, info.served_by = template, f"gateway:{upstream.name}"
                remainder = _remainder(request, upstream.prefix)
                if remainder is None:
                    raise NotFound("Not found")
                role = str(getattr(user.role, "value", user.role))
                return ForwardedResponse(forwarder, upstream, remainder, (str(user.id), role))

            return forward

        endpoint = make(upstream, template)
        for path in (upstream.prefix, template):
            app.add_api_route(path, endpoint, methods=METHODS, include_in_schema=False)
            # First in line: prefixes are checked not to overlap any v1 route, and a forwarded
            # request then skips matching against every router of the app.
            app.router.routes.insert(0, app.router.routes.pop())


def _remainder(request: Request, prefix: str) -> str | None:
    """Return the path below `prefix`, encoded as the client sent it; None for dot segments."""
    decoded = request.url.path[len(prefix) :]
    if any(segment in (".", "..") for segment in decoded.split("/")):
        return None  # they would climb out of the service's base path once normalised
    raw: bytes = request.scope.get("raw_path") or b""
    if raw.startswith(prefix.encode()):
        return raw[len(prefix) :].decode("latin-1")
    return quote(decoded)
