"""All /api/v1 routers, composed under one prefix."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, FastAPI
from starlette.routing import compile_path

from fastapi_app.audit_logs.router import router as audit_logs_router
from fastapi_app.auth.router import router as auth_router
from fastapi_app.data_sources.router import router as data_sources_router
from fastapi_app.datasets.router import router as datasets_router
from fastapi_app.dependencies import current_user
from fastapi_app.health.router import router as health_router
from fastapi_app.integrations.router import router as integrations_router
from fastapi_app.migration.router import router as admin_router
from fastapi_app.projects.router import router as projects_router
from fastapi_app.tasks.router import router as tasks_router
from fastapi_app.users.router import router as users_router

PREFIX = "/api/v1"


def allowed_methods(app: FastAPI) -> Callable[[str], str]:
    """Return a function giving the `Allow` header for a v1 path: every method any route serves there.

    Starlette answers 405 with the methods of the first route that matched the path only,
    while several routes (GET and PATCH of one resource, say) may share it.
    """
    table = [(compile_path(path)[0], {method.upper() for method in item}) for path, item in _paths(app)]

    def methods_for(path: str) -> str:
        methods = set().union(*(m for regex, m in table if regex.match(path)))
        if "GET" in methods:
            methods.add("HEAD")
        return ", ".join(sorted(methods))

    return methods_for


def include_routers(app: FastAPI) -> None:
    """Add every v1 router to `app`."""
    # Each router is included in the app itself, not in routers nested under /api/v1: FastAPI
    # matches an included router by matching its whole subtree, and again to handle it, at
    # every level of nesting (three levels cost ~10% of a list request).
    app.include_router(health_router, prefix=PREFIX)
    app.include_router(auth_router, prefix=PREFIX)  # public and authenticated routes, each declared
    # Everything else is authenticated as a whole; a public route there would be a mistake.
    signed_in = [Depends(current_user)]
    routers = (
        users_router,
        projects_router,
        data_sources_router,
        datasets_router,
        integrations_router,
        audit_logs_router,
        admin_router,
        tasks_router,
    )
    for router in routers:
        app.include_router(router, prefix=PREFIX, dependencies=signed_in)


def route_templates(app: FastAPI) -> Callable[[str], str | None]:
    """Return a function naming the documented path template (`/api/v1/users/{user_id}`) a path matches.

    Literal templates are tried first, as the router does for `/users/me` before `/users/{id}`.
    """
    paths = sorted((path for path, _ in _paths(app)), key=lambda path: path.count("{"))
    table = [(compile_path(path)[0], path) for path in paths]

    def template_for(path: str) -> str | None:
        return next((template for regex, template in table if regex.match(path)), None)

    return template_for


def _paths(app: FastAPI) -> list[tuple[str, dict[str, object]]]:
    return list(app.openapi()["paths"].items())
