"""The slowest spans of each request under way, for the slow-request log (SLOW_REQUEST_MS)."""

from __future__ import annotations

import threading
from collections import OrderedDict

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import SpanKind

KEPT = 3
# Traces whose server span never ends here (a task's, a shadow call finishing late) age out.
MAX_TRACES = 2_048


class SlowSpans(SpanProcessor):
    """Keeps the three slowest ended spans of each trace until its request asks for them."""

    def __init__(self, kept: int = KEPT, max_traces: int = MAX_TRACES) -> None:
        self.kept = kept
        self.max_traces = max_traces
        self._traces: OrderedDict[int, list[tuple[float, str]]] = OrderedDict()
        self._lock = threading.Lock()

    def on_end(self, span: ReadableSpan) -> None:
        """Remember the span's duration if it is among its trace's slowest so far."""
        if span.kind is SpanKind.SERVER or span.context is None or span.end_time is None:
            return
        ms = (span.end_time - (span.start_time or span.end_time)) / 1e6
        with self._lock:
            slowest = self._traces.setdefault(span.context.trace_id, [])
            slowest.append((ms, span.name))
            slowest.sort(reverse=True)
            del slowest[self.kept :]
            if len(self._traces) > self.max_traces:
                self._traces.popitem(last=False)

    def pop(self, trace_id: int) -> list[dict[str, object]]:
        """Return (and forget) the slowest spans of `trace_id`, slowest first."""
        with self._lock:
            slowest = self._traces.pop(trace_id, [])
        return [{"name": name, "ms": round(ms, 2)} for ms, name in slowest]
