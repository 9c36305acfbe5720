"""
The ASGI application: FastAPI serving /api/v1, with the legacy Flask app mounted last.

Order matters. Starlette gives a request to the first route that fully matches, and
the mount at "/" matches every path outside /api/v1, so every FastAPI route is added
first and Flask last. Flask sees the whole `/api/...` path with an empty SCRIPT_NAME
and needs no change; /api/v1 paths never reach it (see `fastapi_app.mount`).

Flask runs on a2wsgi's own thread pool (`WSGI_WORKERS` threads) on the one sync engine
of the worker, which Flask-SQLAlchemy is handed rather than building its own. FastAPI's
routes are `async def` on the async engine (`fastapi_app.database`), started and closed
by the lifespan: two pools per worker, one per engine.

With LEGACY_MOUNT=off (every route migrated) Flask is never imported: the ports serve
/api and `fastapi_app.migration.fallback` answers what Flask answered for the rest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import structlog
from fastapi import FastAPI

from datalab.db import make_engine, make_sessionmaker
from datalab.mail import build_mailer
from datalab.runtime import build_runtime
from datalab.settings import Settings, get_settings
from datalab.settings_env import environment, startup_warnings
from datalab.tasks.executors import build_tasks
from datalab.tasks.observe import TaskCollector
from datalab.tracing import start_tracing
from fastapi_app import errors
from fastapi_app.api import PREFIX, allowed_methods, include_routers
from fastapi_app.database import AsyncDatabase
from fastapi_app.datasets.upload import ENVELOPE_BYTES, UPLOAD_PATHS
from fastapi_app.edges.gate import StreamedBodies
from fastapi_app.edges.index import add_front_routes
from fastapi_app.edges.install import add_edge_routes, add_middleware
from fastapi_app.edges.logs import configure_logging
from fastapi_app.gateway import Gateway, install_gateway
from fastapi_app.migration import build_migration
from fastapi_app.migration.fallback import LegacyFallback
from fastapi_app.migration.pages import add_migration_pages
from fastapi_app.migration.ports import port_routes
from fastapi_app.mount import LegacyMount, legacy_mount

if TYPE_CHECKING:
    from flask import Flask

log = structlog.get_logger("datalab.settings")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the whole service from `settings` (read from the environment when omitted)."""
    from_environment = settings is None
    settings = settings or get_settings()
    configure_logging(settings)
    if from_environment:
        for line in startup_warnings(environment()):
            log.warning(line)
    tracing = start_tracing(settings.tracing)
    runtime = build_runtime(settings)
    engine = make_engine(settings)
    flask_app: Flask | None = None
    if settings.migration.legacy_mount == "on":
        from legacy_flask import create_app as create_flask_app  # LEGACY_MOUNT=off never loads Flask

        flask_app = create_flask_app(settings, runtime, engine)
    sessions = make_sessionmaker(engine)
    database = AsyncDatabase(settings, on_engine=tracing.instrument if tracing is not None else None)
    if tracing is not None:
        tracing.instrument(engine)
    migration = build_migration(settings, flask_app, runtime, engine, database)
    tasks = build_tasks(settings, sessions, runtime.storage)
    gateway: Gateway | None = None  # set below, once the app's routes and metrics exist

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await database.start()
        await migration.start()
        tasks.executor.start()
        if gateway is not None:
            await gateway.start()
        yield
        if gateway is not None:
            await gateway.stop()
        tasks.executor.close()
        await migration.stop()
        await database.stop()
        engine.dispose()  # Flask's too: both halves share this one sync engine
        if tracing is not None:
            tracing.flush()
        app.state.metrics.process_exited()

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
    app.state.database = database
    app.state.flask_app = flask_app
    app.state.migration = migration
    app.state.tasks = tasks
    app.state.tracing = tracing
    errors.init_app(app)
    include_routers(app)
    add_edge_routes(app, settings, flask_app)
    migration.guard.on_rollback.append(app.state.metrics.count_rollback)
    app.state.metrics.shared.register(TaskCollector(settings, sessions))
    app.state.gateway = gateway = install_gateway(app, settings)
    app.state.docs_paths = add_front_routes(app, docs=settings.env != "production")
    app.state.page_csp = add_migration_pages(app, migration)  # /api/openapi.json and /admin/migration
    app.state.methods_for = allowed_methods(app)
    app.router.routes.append(migration.route)  # legacy routes in state `migrated`, ahead of Flask
    if flask_app is None:  # LEGACY_MOUNT=off: what no port serves gets Flask's 404/405/OPTIONS answers
        app.router.routes.append(LegacyMount("/", app=LegacyFallback(port_routes().values())))
    elif gateway.legacy is not None:  # LEGACY_UPSTREAM: Flask runs elsewhere, reached over HTTP
        app.router.routes.append(gateway.legacy_route())
    else:
        app.router.routes.append(legacy_mount(flask_app, workers=settings.edges.wsgi_workers))
    streamed = StreamedBodies(
        uploads=UPLOAD_PATHS,
        # The multipart envelope around the file is allowed on top; the route counts the file itself.
        upload_max_bytes=settings.storage.dataset_max_bytes + ENVELOPE_BYTES,
        # Service prefixes stream their bodies under GATEWAY_MAX_BODY_BYTES, enforced by the proxy.
        prefixes=tuple(service.prefix for service in gateway.services),
    )
    add_middleware(app, settings, migration, streamed)  # outside both halves, in the order declared there
    return app
