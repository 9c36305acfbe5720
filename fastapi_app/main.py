"""
The ASGI application: FastAPI serving /api/v1, with the legacy Flask app mounted last.

Order matters. Starlette gives a request to the first route that fully matches, and
the mount at "/" matches every path outside /api/v1, so every FastAPI route is added
first and Flask last. Flask sees the whole `/api/...` path with an empty SCRIPT_NAME
and needs no change; /api/v1 paths never reach it (see `fastapi_app.mount`).

Flask runs on a2wsgi's own thread pool (`WSGI_WORKERS` threads); FastAPI's sync
routes run on AnyIO's. Each side has its own engine, sized in the settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from datalab.db import make_engine, make_sessionmaker
from datalab.mail import build_mailer
from datalab.runtime import build_runtime
from datalab.settings import Settings, get_settings
from datalab.settings_env import environment, startup_warnings
from fastapi_app import errors
from fastapi_app.api import PREFIX, allowed_methods, include_routers, route_templates
from fastapi_app.edges.front import add_front_routes
from fastapi_app.edges.install import add_edge_routes, add_inner_middleware, add_outer_middleware
from fastapi_app.edges.logs import configure_logging
from fastapi_app.edges.metrics import HttpMetrics
from fastapi_app.middleware import BodyLimitMiddleware, RequestContextMiddleware
from fastapi_app.migration import build_migration
from fastapi_app.migration.middleware import MigrationMiddleware
from fastapi_app.mount import legacy_mount
from legacy_flask import create_app as create_flask_app
from legacy_flask.extensions import db as flask_db

log = structlog.get_logger("datalab.settings")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the whole service from `settings` (read from the environment when omitted)."""
    from_environment = settings is None
    settings = settings or get_settings()
    configure_logging(settings)
    if from_environment:
        for line in startup_warnings(environment()):
            log.warning(line)
    runtime = build_runtime(settings)
    engine = make_engine(settings)
    flask_app = create_flask_app(settings, runtime)
    sessions = make_sessionmaker(engine)
    migration = build_migration(settings, flask_app, runtime, engine, sessions)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await migration.start()
        yield
        await migration.stop()
        # Mounted apps get no lifespan of their own: close Flask's pool here too.
        engine.dispose()
        with flask_app.app_context():
            flask_db.engine.dispose()
        HttpMetrics.process_exited()

    app = FastAPI(
        title="Datalab API",
        version="1.0.0",
        description="The v1 API. The legacy /api is served by the mounted Flask app.",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,  # served from this process by fastapi_app.edges.front, never from a CDN
        redoc_url=None,
        # A JSON body without Content-Type is read as JSON, as /api does. The CSRF this guards
        # against needs ambient credentials; v1 takes only bearer tokens, which force a preflight.
        strict_content_type=False,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.mailer = build_mailer(settings)
    app.state.engine = engine
    app.state.sessionmaker = sessions
    app.state.flask_app = flask_app
    app.state.migration = migration
    errors.init_app(app)
    include_routers(app)
    add_edge_routes(app, settings, flask_app)
    app.state.docs_paths = add_front_routes(app, docs=settings.env != "production")
    app.state.methods_for = allowed_methods(app)
    app.router.routes.append(migration.route)  # legacy routes in state `migrated`, ahead of Flask
    app.router.routes.append(legacy_mount(flask_app, workers=settings.wsgi_workers))
    # Added last, so they run first: outside both halves.
    app.add_middleware(MigrationMiddleware, migration=migration)
    add_inner_middleware(app, settings)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    add_outer_middleware(app, settings)
    app.add_middleware(RequestContextMiddleware, template_for=route_templates(app))
    return app
