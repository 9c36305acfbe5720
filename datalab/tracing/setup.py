"""OpenTelemetry's SDK for one app or worker process, built from TracingSettings; imported only when on.

Spans go in batches to OTEL_EXPORTER_OTLP_ENDPOINT over OTLP/HTTP (the exporter reads the
other standard variables, OTEL_EXPORTER_OTLP_HEADERS and the like, itself). The provider is
the app's own, never the global one, so two apps in one process (tests, a gateway beside
its upstream) each keep their service name and exporter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry import metrics, trace
from opentelemetry.context import Context, get_current
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.util.types import Attributes
from sqlalchemy import Engine

from datalab.settings.groups import TracingSettings
from datalab.tracing import SHADOW
from datalab.tracing.slow import SlowSpans

TRACER_NAME = "datalab"


def sampler_of(settings: TracingSettings) -> sampling.Sampler:
    """Return the sampler OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG name."""
    name = settings.otel_traces_sampler
    root: sampling.Sampler
    if name.endswith("traceidratio"):
        root = sampling.TraceIdRatioBased(settings.otel_traces_sampler_arg)
    else:
        root = sampling.ALWAYS_ON if name.endswith("always_on") else sampling.ALWAYS_OFF
    # parentbased_*: a continued trace keeps its caller's decision; the root sampler decides new ones.
    return InsideWork(sampling.ParentBased(root) if name.startswith("parentbased_") else root)


class InsideWork(sampling.Sampler):
    """Drop client spans (statements) started outside any request or task; ask `inner` for the rest.

    Route counters, pool pings and metrics scrapes run statements on their own; each would be
    a trace of one span, every few seconds, in every process.
    """

    def __init__(self, inner: sampling.Sampler) -> None:
        self.inner = inner

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: trace.SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[trace.Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> sampling.SamplingResult:
        """Decide for one span about to start."""
        orphan = not trace.get_current_span(parent_context).get_span_context().is_valid
        if kind is trace.SpanKind.CLIENT and orphan:
            return sampling.SamplingResult(sampling.Decision.DROP)
        return self.inner.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        """Name the sampler (the SDK logs it)."""
        return f"InsideWork{{{self.inner.get_description()}}}"


class MarkShadow(SpanProcessor):
    """Say shadow=true on every span started inside a shadow call (`datalab.tracing.shadowed`)."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Mark the span when its context is a shadow call's."""
        # SQLAlchemy's spans pass no context: theirs is the current one.
        if (parent_context if parent_context is not None else get_current()).get(SHADOW):
            span.set_attribute("shadow", True)


@dataclass
class Tracing:
    """One process's (or app's) tracer provider and the parts the edges read."""

    provider: TracerProvider
    tracer: trace.Tracer
    slow: SlowSpans | None

    def instrument(self, engine: Engine) -> None:
        """Make a client span of every statement `engine` runs (its text, never its parameters)."""
        # The instrumentor patches create_engine for the whole process; one engine at a time is ours.
        meter = metrics.NoOpMeterProvider().get_meter(TRACER_NAME)
        usage = meter.create_up_down_counter("db.client.connections.usage")
        EngineTracer(self.tracer, engine, usage)  # type: ignore[no-untyped-call]

    def flush(self) -> None:
        """Export every span ended so far (tests, shutdown)."""
        self.provider.force_flush()

    def close(self) -> None:
        """Export what is left and stop the exporter."""
        self.provider.shutdown()


def build_tracing(settings: TracingSettings, *, exporters: Sequence[SpanExporter] = ()) -> Tracing | None:
    """Build the SDK for `settings`, or None when tracing is off; `exporters` replace OTLP (tests)."""
    if not settings.enabled:
        return None
    assert settings.otel_exporter_otlp_endpoint is not None
    provider = TracerProvider(
        sampler=sampler_of(settings),
        resource=Resource.create({SERVICE_NAME: settings.otel_service_name}),
    )
    provider.add_span_processor(MarkShadow())
    slow = SlowSpans() if settings.slow_request_ms is not None else None
    if slow is not None:
        provider.add_span_processor(slow)
    endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    for exporter in exporters or (OTLPSpanExporter(endpoint=endpoint),):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider, provider.get_tracer(TRACER_NAME), slow)
