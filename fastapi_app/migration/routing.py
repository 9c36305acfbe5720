"""The route that hands legacy paths in state `migrated` to their FastAPI ports, ahead of the Flask mount."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import ASGIApp, Receive, Scope, Send

from datalab.context import current_route

SCOPE_KEY = "datalab.port_template"


class MigratedRoutes(BaseRoute):
    """Claims exactly the requests a migrated port serves (same method and path rule); the rest reach Flask.

    Each port's template is Flask's spelling of its rule, so logs and metrics name the
    route the same whichever implementation serves it.
    """

    def __init__(self, ports_app: ASGIApp, routes: list[tuple[APIRoute, str]]) -> None:
        self.ports_app = ports_app
        self.routes = routes

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Match fully only a request a migrated port serves, for its method too."""
        if scope["type"] != "http":
            return Match.NONE, {}
        for route, template in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return Match.FULL, {SCOPE_KEY: template}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Name the route and the implementation, then let the ports app answer."""
        info = current_route()
        if info is not None:
            info.served_by = "fastapi"
            info.template = scope[SCOPE_KEY]
        await self.ports_app(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        """Ports are never linked to by name."""
        raise NoMatchFound(name, path_params)
