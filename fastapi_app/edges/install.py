"""Put the edges in place around an app; `fastapi_app.main` calls these at fixed points of its factory."""

from __future__ import annotations

import time

import structlog
from fastapi import FastAPI
from flask import Flask
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from datalab.settings import Settings
from fastapi_app.edges import database, health
from fastapi_app.edges.client import ClientAddressMiddleware
from fastapi_app.edges.guard import ErrorGuardMiddleware
from fastapi_app.edges.headers import SecurityHeadersMiddleware
from fastapi_app.edges.metrics import HttpMetrics, MetricsAccess, metrics_endpoint
from fastapi_app.edges.observe import ObserveMiddleware
from fastapi_app.edges.ratelimit import RateLimiter, RateLimitMiddleware
from legacy_flask.extensions import db as flask_db

log = structlog.get_logger("datalab.edges")


def add_edge_routes(app: FastAPI, settings: Settings, flask_app: Flask) -> None:
    """Add the /health routes and /metrics (before the Flask mount), and the 503 handlers."""
    app.state.started_at = time.monotonic()
    with flask_app.app_context():
        flask_engine = flask_db.engine
    engines = {"fastapi": lambda: app.state.engine, "legacy_flask": lambda: flask_engine}
    app.state.metrics = HttpMetrics(engines)
    app.include_router(health.router)
    app.add_route(
        "/metrics", metrics_endpoint(app.state.metrics, MetricsAccess(settings)), include_in_schema=False
    )
    database.init_app(app, flask_app)


def add_inner_middleware(app: FastAPI, settings: Settings) -> None:
    """Add the rate limits, inside the body limit (they may read a login body, already capped)."""
    if settings.rate_limit_enabled:
        app.add_middleware(RateLimitMiddleware, limiter=RateLimiter(settings))


def add_outer_middleware(app: FastAPI, settings: Settings) -> None:
    """Add, from inside out: hosts, error guard, CORS, security headers, access log and metrics, client IP."""
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts, www_redirect=False)
    app.add_middleware(ErrorGuardMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=settings.cors_allow_credentials,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    docs: tuple[str, ...] = getattr(app.state, "docs_paths", ())
    app.add_middleware(SecurityHeadersMiddleware, hsts_seconds=settings.hsts_seconds, docs_paths=docs)
    app.add_middleware(ObserveMiddleware, metrics=app.state.metrics)
    app.add_middleware(ClientAddressMiddleware, trusted=settings.trusted_proxies)
    if settings.env == "production" and "*" in settings.allowed_hosts:
        log.warning("ALLOWED_HOSTS is '*': any Host header is accepted; list the served names")
