"""The outer edge of every request, in one ASGI layer: id, client address, security headers, metrics, log.

These were four layers (request context, client address, observe, security headers),
each wrapping `send` again; as one they read the headers once and touch the response
start once. What each does is unchanged: a sane `X-Request-ID` from the client is kept
(else a new one), the client IP is the peer's unless a trusted proxy forwarded the
request, the security headers replace any a half set, `X-Served-By` names the half that
answered, and every request is counted by route template and logged once, after its
answer is sent. With tracing on, the request runs in its server span (fastapi_app.edges.tracing),
the answer carries `traceparent`, and a request slower than SLOW_REQUEST_MS is logged once more
at warning level with its three slowest spans.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import structlog
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from datalab.context import RouteInfo, bind_request, bind_route
from fastapi_app.edges.client import ClientAddress
from fastapi_app.edges.headers import API_CSP, DOCS_CSP, security_headers
from fastapi_app.edges.metrics import HttpMetrics
from fastapi_app.edges.tracing import TRACEPARENT, RequestTracing, ServerSpan

if TYPE_CHECKING:  # the SDK is imported only when tracing is on
    from datalab.tracing.setup import Tracing

access_log = structlog.get_logger("datalab.access")
_access_level = logging.getLogger("datalab.access")
slow_log = structlog.get_logger("datalab.slow")
REQUEST_ID_HEADER = b"x-request-id"
SERVED_BY_HEADER = b"x-served-by"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class FrontMiddleware:
    """Bind the request's id, client and route; answer with our headers; count and log the request."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: HttpMetrics,
        trusted_proxies: Sequence[str] = (),
        hsts_seconds: int = 0,
        docs_paths: tuple[str, ...] = (),
        page_csp: Mapping[str, str] | None = None,
        template_for: Callable[[str], str | None] = lambda _: None,
        tracing: Tracing | None = None,
        slow_request_ms: float | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.clients = ClientAddress(trusted_proxies)
        self.api_headers = security_headers(csp=API_CSP, hsts_seconds=hsts_seconds)
        self.docs_headers = security_headers(csp=DOCS_CSP, hsts_seconds=hsts_seconds)
        self.docs_paths = docs_paths
        # Pages with a policy of their own (path to CSP), e.g. the migration dashboard.
        self.page_headers = {
            path: security_headers(csp=csp, hsts_seconds=hsts_seconds)
            for path, csp in (page_csp or {}).items()
        }
        self.template_for = template_for
        # A matched route's template never changes: look it up once per route, not per request.
        self.templates: dict[int, str | None] = {}
        # Headers a half may have set that we own: dropped from its answer, then set once.
        self.ours = frozenset({name for name, _ in self.api_headers} | {REQUEST_ID_HEADER, SERVED_BY_HEADER})
        self.tracing = RequestTracing(tracing, self.clients) if tracing is not None else None
        if self.tracing is not None:  # an upstream's traceparent names its span, not ours
            self.ours |= {TRACEPARENT}
        self.slow_seconds = slow_request_ms / 1000 if slow_request_ms is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        sent_id, forwarded = _read_headers(scope["headers"])
        request_id = sent_id if sent_id and _VALID_REQUEST_ID.fullmatch(sent_id) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        # Before the client address is rewritten: the peer decides whether its traceparent is believed.
        span: ServerSpan | None = self.tracing.start(scope) if self.tracing is not None else None
        client_ip = self._client(scope, forwarded)
        bind_request(request_id, client_ip)
        info = bind_route()
        ours = self.page_headers.get(scope["path"]) or (
            self.docs_headers if scope["path"] in self.docs_paths else self.api_headers
        )
        id_header = (REQUEST_ID_HEADER, request_id.encode())
        status = 500

        async def send_front(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                self._name_fastapi_route(scope, info)
                served = (SERVED_BY_HEADER, (info.served_by or "fastapi").encode())
                kept = [h for h in message.get("headers", ()) if h[0].lower() not in self.ours]
                message["headers"] = [*kept, *ours, id_header, served]
                if span is not None:
                    message["headers"].append(span.header)
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_front)
        finally:
            self.metrics.in_flight.dec()
            seconds = time.perf_counter() - start
            route, served_by = _route_of(scope, info)
            self.metrics.observe(scope["method"], route, status, served_by, seconds)
            slowest = span.finish(route, served_by, status) if span is not None else []
            if _access_level.isEnabledFor(logging.INFO):  # skip building the line when it is dropped
                access_log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    route=route,
                    status=status,
                    duration_ms=round(seconds * 1000, 2),
                    served_by=served_by,
                    client_ip=client_ip,
                )
            if self.slow_seconds is not None and seconds > self.slow_seconds:
                slow_log.warning(
                    "slow request",
                    method=scope["method"],
                    route=route,
                    duration_ms=round(seconds * 1000, 2),
                    slowest=slowest,
                )
            if span is not None:
                span.end()

    def _name_fastapi_route(self, scope: Scope, info: RouteInfo) -> None:
        # Flask names its own routes (legacy_flask.app); anything else was answered by FastAPI.
        # Its router leaves the matched route in the scope, but an included route's path there
        # lacks the prefixes, so the full template comes from the documented paths.
        if info.served_by is not None:
            return
        info.served_by = "fastapi"
        route = scope.get("route")
        if info.template is None and isinstance(route, Route):
            key = id(route)  # routes live as long as the app, so their ids stay theirs
            if key not in self.templates:
                self.templates[key] = self.template_for(scope["path"])
            info.template = self.templates[key]

    def _client(self, scope: Scope, forwarded: str | None) -> str | None:
        peer = scope.get("client")
        if not self.clients.trusted:
            return peer[0] if peer else None
        host = self.clients.of(peer[0] if peer else None, forwarded)
        if peer and host != peer[0]:
            scope["client"] = (host, 0)
        return host


def _read_headers(headers: Sequence[tuple[bytes, bytes]]) -> tuple[str | None, str | None]:
    # One pass: the client's (last) request id, and every X-Forwarded-For joined as one list, in order.
    request_id: str | None = None
    forwarded: list[str] = []
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            request_id = value.decode("latin-1")
        elif name == b"x-forwarded-for":
            forwarded.append(value.decode("latin-1"))
    return request_id, ",".join(forwarded) or None


def _route_of(scope: Scope, info: RouteInfo) -> tuple[str, str]:
    # Routes of our own (health, metrics) are top-level, so their path in the scope is the template.
    template = info.template
    served_by = info.served_by or "fastapi"
    if template is None and isinstance(scope.get("route"), Route):
        template = scope["route"].path
    return template or "unmatched", served_by
