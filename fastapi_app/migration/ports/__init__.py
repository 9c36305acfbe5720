"""FastAPI ports of legacy /api routes, answering exactly the legacy contract.

They form their own small FastAPI app (own `{"msg"}` error handlers, no OpenAPI),
which the migration layer calls for routes in state `migrated`, and runs beside
Flask for routes in state `shadow`. Each route's `name` is its registry name.
"""

from __future__ import annotations

import re
from functools import cache

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Match

from datalab.runtime import Runtime
from fastapi_app.database import AsyncDatabase
from fastapi_app.migration.ports import audit_logs, auth, data_sources, health, integrations, users
from fastapi_app.migration.ports.common import init_errors

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    auth.router,
    users.router,
    data_sources.router,
    integrations.router,
    audit_logs.router,
)
PORTED: frozenset[str] = frozenset(
    route.name for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)
)


def build_ports_app(runtime: Runtime, database: AsyncDatabase) -> FastAPI:
    """Build the app of every port, sharing the main app's runtime and async engine."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    app.state.database = database
    init_errors(app)
    for router in ROUTERS:
        app.include_router(router)
    return app


_PARAMETER = re.compile(r"\{([^{}:]+)(?::[^{}]+)?\}")


def legacy_template(route: APIRoute) -> str:
    """Spell a port's path as the Flask rule's template is spelt: `{source_id:int}` becomes `<source_id>`."""
    return _PARAMETER.sub(r"<\1>", route.path)


def port_routes() -> dict[str, APIRoute]:
    """Return every port's route by registry name (their paths are the full legacy paths: no prefix)."""
    return {route.name: route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)}


def ported_name_for(method: str, path: str) -> str | None:
    """Return the registry name of the port that would serve `method path` (HEAD as GET), or None.

    The same match the router makes, so tests ask the ports themselves which requests they serve.
    """
    scope = {"type": "http", "method": "GET" if method == "HEAD" else method, "path": path}
    for name, route in _routes().items():
        if route.matches(scope)[0] is Match.FULL:
            return name
    return None


@cache
def _routes() -> dict[str, APIRoute]:
    return port_routes()
