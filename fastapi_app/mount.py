"""The Flask mount: everything FastAPI does not serve, except anything under /api/v1.

Starlette hands a request to the first route that fully matches, and a plain mount
at "/" fully matches every path and method. It would answer unknown v1 paths and
wrong methods on v1 routes with Flask's 404. This mount declines /api/v1 paths, so
FastAPI's router answers them itself: 405 for a wrong method, 404 for the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import Match, Mount
from starlette.types import Scope

from fastapi_app.api import PREFIX

if TYPE_CHECKING:
    from flask import Flask


class LegacyMount(Mount):
    """A mount at "/" for the legacy app (Flask, or its fallback without Flask) that never claims /api/v1."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Match every path except /api/v1 and below."""
        path: str = scope.get("path", "")
        if path == PREFIX or path.startswith(PREFIX + "/"):
            return Match.NONE, {}
        return super().matches(scope)


def legacy_mount(flask_app: Flask, *, workers: int) -> LegacyMount:
    """Wrap `flask_app` for ASGI on a pool of `workers` threads, mounted at "/"."""
    from a2wsgi import WSGIMiddleware  # imported only when Flask is mounted (LEGACY_MOUNT=off never does)

    return LegacyMount("/", app=WSGIMiddleware(flask_app.wsgi_app, workers=workers))  # type: ignore[arg-type]
