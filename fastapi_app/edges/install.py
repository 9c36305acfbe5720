"""Put the edges in place around an app; `fastapi_app.main` calls these at fixed points of its factory."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from datalab.settings import Settings
from fastapi_app.api import route_templates
from fastapi_app.edges import database, health
from fastapi_app.edges.front import FrontMiddleware
from fastapi_app.edges.gate import GateMiddleware, StreamedBodies
from fastapi_app.edges.metrics import HttpMetrics, MetricsAccess, metrics_endpoint
from fastapi_app.edges.ratelimit import RateLimiter, RateLimitMiddleware
from fastapi_app.migration import Migration
from fastapi_app.migration.middleware import MigrationMiddleware

if TYPE_CHECKING:
    from flask import Flask

log = structlog.get_logger("datalab.edges")


def add_edge_routes(app: FastAPI, settings: Settings, flask_app: Flask | None) -> None:
    """Add the /health routes and /metrics (before the legacy mount), and the 503 handlers."""
    app.state.started_at = time.monotonic()
    # Two engines per worker: the sync one (Flask, health checks) and the async one (FastAPI's routes).
    app.state.metrics = HttpMetrics(
        {"sync": lambda: [app.state.engine], "async": lambda: app.state.database.pooled_engines()},
        multiprocess=settings.edges.prometheus_multiproc_dir is not None,
    )
    app.include_router(health.router)
    app.add_route(
        "/metrics", metrics_endpoint(app.state.metrics, MetricsAccess(settings)), include_in_schema=False
    )
    database.init_app(app, flask_app)


def add_middleware(app: FastAPI, settings: Settings, migration: Migration, streamed: StreamedBodies) -> None:
    """Declare the whole middleware stack, outermost first; each layer covers both halves.

    front: request id, client address, security headers, metrics and the access log;
    CORS (when configured) inside it, so its answers carry those too; the gate: the 500
    of last resort, the Host check and the body limit (`streamed` names the routes that
    count their own large bodies); the rate limits inside it (they may read a login body,
    already capped); the migration counters and shadow calls innermost.
    """
    edges = settings.edges
    docs: tuple[str, ...] = getattr(app.state, "docs_paths", ())
    layers: list[tuple[Any, dict[str, Any]]] = [
        (
            FrontMiddleware,
            {
                "metrics": app.state.metrics,
                "trusted_proxies": edges.trusted_proxies,
                "hsts_seconds": edges.hsts_seconds,
                "docs_paths": docs,
                "page_csp": getattr(app.state, "page_csp", {}),
                "template_for": route_templates(app),
                "tracing": app.state.tracing,
                "slow_request_ms": settings.tracing.slow_request_ms,
            },
        ),
    ]
    if edges.cors_origins:
        layers.append((CORSMiddleware, _cors_options(settings)))
    gate = {"allowed_hosts": edges.allowed_hosts, "max_bytes": edges.max_body_bytes, "streamed": streamed}
    layers.append((GateMiddleware, gate))
    if edges.rate_limit_enabled:
        layers.append((RateLimitMiddleware, {"limiter": RateLimiter(settings)}))
    layers.append((MigrationMiddleware, {"migration": migration}))
    for layer, options in reversed(layers):  # Starlette runs the last added first
        app.add_middleware(layer, **options)
    if settings.env == "production" and "*" in edges.allowed_hosts:
        log.warning("ALLOWED_HOSTS is '*': any Host header is accepted; list the served names")


def _cors_options(settings: Settings) -> dict[str, Any]:
    return {
        "allow_origins": settings.edges.cors_origins,
        "allow_credentials": settings.edges.cors_allow_credentials,
        "allow_methods": ["GET", "POST", "PUT", "PATCH", "DELETE"],
        "allow_headers": ["Authorization", "Content-Type", "X-Request-ID"],
        "expose_headers": ["X-Request-ID", "Retry-After"],
        "max_age": 600,
    }
