"""Spans for the work a request starts (queries, connectors, shadow calls, tasks), wherever it runs.

Tracing is on when OTEL_EXPORTER_OTLP_ENDPOINT is set (`datalab.tracing.setup` builds the
SDK then). The edges bind the app's tracer for each request; context copies carry it into
a2wsgi's, the connectors' and the local executor's threads and into shadow tasks, and a
Celery worker binds its own for the process. With no tracer bound every helper here is a
no-op costing one context-variable read, and the SDK is never imported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from datalab.settings.groups import TracingSettings
    from datalab.tracing.setup import Tracing

# W3C trace context only: baggage from a client is not ours to pass on.
PROPAGATOR = TraceContextTextMapPropagator()
TRACE_HEADERS = frozenset({"traceparent", "tracestate"})
# Set in the context of a shadow call: every span started under it says shadow=true.
SHADOW = otel_context.create_key("datalab.shadow")
_tracer: ContextVar[trace.Tracer | None] = ContextVar("datalab_tracer", default=None)
_process: list[trace.Tracer] = []  # a worker process's tracer, used where no request bound one


def start_tracing(settings: TracingSettings) -> Tracing | None:
    """Build the SDK when OTEL_EXPORTER_OTLP_ENDPOINT is set; None (and no SDK import) otherwise."""
    if not settings.enabled:
        return None
    from datalab.tracing.setup import build_tracing  # noqa: PLC0415 - the SDK loads only when on

    return build_tracing(settings)


def bind_tracer(tracer: trace.Tracer | None) -> Token[trace.Tracer | None]:
    """Make `tracer` the one spans of the current context are made with."""
    return _tracer.set(tracer)


def bind_process_tracer(tracer: trace.Tracer) -> None:
    """Make `tracer` the fallback of this whole process (a Celery worker's)."""
    _process[:] = [tracer]


def current_tracer() -> trace.Tracer | None:
    """Return the tracer bound here, the process's, or None when tracing is off."""
    return _tracer.get() or (_process[0] if _process else None)


def span(
    name: str, *, kind: SpanKind = SpanKind.INTERNAL, attributes: Mapping[str, Any] | None = None
) -> AbstractContextManager[trace.Span | None]:
    """Run the block in a child span of the current one; a no-op when tracing is off."""
    tracer = current_tracer()
    if tracer is None:
        return nullcontext()
    started = tracer.start_as_current_span(
        name, kind=kind, attributes=attributes, record_exception=False, set_status_on_exception=False
    )
    return _span(started)


@contextmanager
def _span(started: AbstractContextManager[trace.Span]) -> Iterator[trace.Span]:
    # The SDK would record an exception's message and stack; the type alone is recorded here.
    with started as current:
        try:
            yield current
        except BaseException as exc:
            # The type only: an exception's text may quote a value (a row, a parameter, a URL).
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def inject(carrier: dict[str, str]) -> dict[str, str]:
    """Add the current span's `traceparent` (and `tracestate`) to `carrier`; nothing when off."""
    if current_tracer() is not None:
        PROPAGATOR.inject(carrier)
    return carrier


@contextmanager
def continued(
    carrier: Mapping[str, str],
    name: str,
    *,
    kind: SpanKind = SpanKind.CONSUMER,
    attributes: Mapping[str, Any] | None = None,
) -> Iterator[trace.Span | None]:
    """Run the block in a span continuing the trace `carrier` names (a task's message); else a new one."""
    tracer = current_tracer()
    if tracer is None:
        yield None
        return
    parent = PROPAGATOR.extract({k: v for k, v in carrier.items() if k in TRACE_HEADERS})
    started = tracer.start_as_current_span(
        name,
        context=parent,
        kind=kind,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    )
    with _span(started) as current:
        yield current


@contextmanager
def shadowed() -> Iterator[None]:
    """Mark every span started in the block as made by a shadow call."""
    token = otel_context.attach(otel_context.set_value(SHADOW, True))
    try:
        yield
    finally:
        otel_context.detach(token)


def trace_ids() -> tuple[str, str] | None:
    """Return the current trace and span ids in hex, or None outside a span."""
    found = trace.get_current_span().get_span_context()
    if not found.is_valid:
        return None
    return format(found.trace_id, "032x"), format(found.span_id, "016x")
