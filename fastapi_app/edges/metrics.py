"""Prometheus metrics: requests by route template and status, latency, requests in flight, pool use.

Labels use the route template (`/api/data-sources/<source_id>`), never the raw path, so
ids cannot blow up the series count. With several worker processes set
PROMETHEUS_MULTIPROC_DIR (an empty folder, wiped before start): every worker writes its
values there and `/metrics` sums them.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Callable
from ipaddress import ip_address, ip_network
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response

from datalab.context import current_route
from datalab.settings import Settings

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    """The metrics of one app, in a registry of its own."""

    def __init__(self, engines: dict[str, Callable[[], list[Engine]]], *, multiprocess: bool = False) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess = multiprocess
        self.engines = engines
        self._series: dict[tuple[str, str, int, str], tuple[Any, Any]] = {}
        self.requests = Counter(
            "datalab_http_requests",
            "HTTP requests answered, by method, route template, status and serving half.",
            ["method", "route", "status", "served_by"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "datalab_http_request_duration_seconds",
            "Time from receiving a request to the end of its answer.",
            ["method", "route", "served_by"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "datalab_http_requests_in_flight",
            "Requests being served now.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.rollbacks = Counter(
            "datalab_route_rollbacks",
            "Legacy routes the rollback guard moved back to Flask, by route.",
            ["route"],
            registry=self.registry,
        )
        # Collectors that read shared state (the database) answer the same in every worker process.
        self.shared = CollectorRegistry()
        self.pool = Gauge(
            "datalab_db_pool_connections",
            "Database pool connections per engine: checked_out (in use) and size (configured).",
            ["engine", "state"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )

    def observe(self, method: str, route: str, status: int, served_by: str, seconds: float) -> None:
        """Record one answered request."""
        named = method if method in METHODS else "OTHER"
        key = (named, route, status, served_by)
        series = self._series.get(key)
        if series is None:
            # Label lookups lock and build tuples; the series are few (templates, not paths): keep them.
            series = self._series[key] = (
                self.requests.labels(named, route, str(status), served_by),
                self.latency.labels(named, route, served_by),
            )
        series[0].inc()
        series[1].observe(seconds)

    def count_rollback(self, route: str) -> None:
        """Record one automatic rollback of `route` (the migration guard calls it)."""
        self.rollbacks.labels(route).inc()

    def sample_pools(self) -> None:
        """Record how many connections each engine's pool has checked out, and its size."""
        for name, engines_of in self.engines.items():
            pools = [engine.pool for engine in engines_of()]
            checked_out = [getattr(pool, "checkedout", None) for pool in pools]
            sizes = [getattr(pool, "size", None) for pool in pools]
            self.pool.labels(name, "checked_out").set(sum(f() for f in checked_out if callable(f)))
            self.pool.labels(name, "size").set(sum(f() for f in sizes if callable(f)))

    def exposition(self) -> bytes:
        """Return the text exposition: this process's registry, or every worker's in multiprocess mode."""
        self.sample_pools()
        if self.multiprocess:
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry) + generate_latest(self.shared)
        return generate_latest(self.registry) + generate_latest(self.shared)

    def process_exited(self) -> None:
        """Drop this worker's live gauges from the multiprocess folder (at shutdown)."""
        if self.multiprocess:
            mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


class MetricsAccess:
    """Who may read /metrics: a bearer `METRICS_TOKEN`, or a client in `METRICS_ALLOW`."""

    def __init__(self, settings: Settings) -> None:
        token = settings.edges.metrics_token.get_secret_value() if settings.edges.metrics_token else ""
        self.token = token.encode()
        self.networks = [ip_network(n, strict=False) for n in settings.edges.metrics_allow]

    def allows(self, request: Request) -> bool:
        """Tell whether `request` may read the metrics."""
        sent = request.headers.get("authorization", "")
        if self.token and sent.lower().startswith("bearer "):
            if hmac.compare_digest(sent[7:].strip().encode(), self.token):
                return True
        host = request.client.host if request.client else ""
        try:
            address = ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


REFUSED = json.dumps(
    {
        "msg": "Forbidden: /metrics needs Authorization: Bearer <the METRICS_TOKEN setting>, "
        "or a client address in the METRICS_ALLOW setting"
    }
).encode()


def metrics_endpoint(metrics: HttpMetrics, access: MetricsAccess) -> Callable[[Request], Response]:
    """Return the /metrics view: the exposition for allowed callers, 403 naming the settings otherwise."""

    def view(request: Request) -> Response:
        info = current_route()
        if info is not None:
            info.template = "/metrics"  # plain Starlette routes are not named in the scope
        # 403 naming the settings (never their values): a newcomer's scraper learns what to set.
        if not access.allows(request):
            return Response(REFUSED, status_code=403, media_type="application/json")
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return view
