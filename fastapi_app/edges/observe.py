"""One access log line and the request metrics for every request, after the answer is sent."""

from __future__ import annotations

import time

import structlog
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from datalab.context import current_request, current_route
from fastapi_app.edges.metrics import HttpMetrics

access_log = structlog.get_logger("datalab.access")


class ObserveMiddleware:
    """Time each request, count it in the metrics by route template, and log it once."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        self.metrics.in_flight.inc()

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self.metrics.in_flight.dec()
            seconds = time.perf_counter() - start
            route, served_by = _route_of(scope)
            self.metrics.observe(scope["method"], route, status, served_by, seconds)
            access_log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                route=route,
                status=status,
                duration_ms=round(seconds * 1000, 2),
                served_by=served_by,
                client_ip=current_request().client_ip,
            )


def _route_of(scope: Scope) -> tuple[str, str]:
    # The halves fill the RouteInfo the request-context middleware bound; routes of our
    # own (health, metrics) are top-level, so their path in the scope is the template.
    info = current_route()
    template = info.template if info else None
    served_by = (info.served_by if info else None) or "fastapi"
    if template is None and isinstance(scope.get("route"), Route):
        template = scope["route"].path
    return template or "unmatched", served_by
