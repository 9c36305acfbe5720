"""The server span of each request, for the front layer (fastapi_app.edges.front) when tracing is on.

A client's `traceparent`/`tracestate` is continued only when the peer is one of
TRUSTED_PROXIES (the proxy or gateway in front of us vouches for it); anyone else starts a
new trace, so a client cannot force sampling or splice itself into another trace. The span
is named by the route template once the serving half has named it, never by the raw path,
and carries no query, header or body value.
"""

from __future__ import annotations

from contextvars import Token
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import Scope

from datalab.tracing import PROPAGATOR, bind_tracer
from fastapi_app.edges.client import ClientAddress

if TYPE_CHECKING:  # the SDK is imported only when tracing is on
    from datalab.tracing.setup import Tracing

TRACEPARENT = b"traceparent"


class ServerSpan:
    """One request's span, current from `RequestTracing.start` until `end`."""

    def __init__(
        self, tracing: Tracing, method: str, span: trace.Span, tokens: tuple[object, Token[Any]]
    ) -> None:
        self.tracing = tracing
        self.method = method
        self.span = span
        self.tokens = tokens
        context = span.get_span_context()
        flags = format(context.trace_flags, "02x")
        self.header = (TRACEPARENT, f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags}".encode())

    def finish(self, route: str, served_by: str, status: int) -> list[dict[str, object]]:
        """Name the span by its route and outcome; return the trace's slowest spans (for the slow log)."""
        span = self.span
        if span.is_recording():
            span.update_name(f"{self.method} {route}")
            span.set_attributes(
                {"http.route": route, "http.response.status_code": status, "datalab.served_by": served_by}
            )
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
        slow = self.tracing.slow
        return slow.pop(span.get_span_context().trace_id) if slow is not None else []

    def end(self) -> None:
        """End the span and make the previous context current again."""
        self.span.end()
        otel_token, tracer_token = self.tokens
        otel_context.detach(otel_token)  # type: ignore[arg-type]
        tracer_token.var.reset(tracer_token)


class RequestTracing:
    """Starts each request's server span, continuing a trusted peer's trace."""

    def __init__(self, tracing: Tracing, clients: ClientAddress) -> None:
        self.tracing = tracing
        self.clients = clients

    def start(self, scope: Scope) -> ServerSpan:
        """Start the request's span (before the client address is rewritten) and make it current."""
        peer = scope.get("client")
        parent = None
        if peer and self.clients.trusted and self.clients.is_trusted(peer[0]):
            sent = {
                name.decode("latin-1"): value.decode("latin-1")
                for name, value in scope["headers"]
                if name in (b"traceparent", b"tracestate")
            }
            if sent:
                parent = PROPAGATOR.extract(sent)
        span = self.tracing.tracer.start_span(
            scope["method"],
            context=parent or otel_context.Context(),  # an empty context: a new trace, whatever is current
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": scope["method"],
                "url.scheme": scope.get("scheme", "http"),
                "datalab.request_id": scope.get("state", {}).get("request_id", ""),
            },
        )
        otel_token = otel_context.attach(trace.set_span_in_context(span))
        return ServerSpan(self.tracing, scope["method"], span, (otel_token, bind_tracer(self.tracing.tracer)))
