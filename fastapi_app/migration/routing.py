"""The route that hands legacy requests to their FastAPI ports by live state, ahead of the Flask mount.

A route in state `migrated` goes to its port; one in `canary` goes to its port for
`percent` of the callers, chosen by a stable hash of who is calling (the token's subject,
else the client address), so one caller always lands on the same side and a bigger
percent only adds callers. Everything else falls through to Flask.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import ASGIApp, Receive, Scope, Send

from datalab.context import current_request, current_route
from fastapi_app.migration.live import LiveStates, Snapshot

SCOPE_KEY = "datalab.port_template"
SNAPSHOT_KEY = "datalab.route_states"  # the one snapshot a request is served by (set by the middleware)


class MigratedRoutes(BaseRoute):
    """Claims exactly the requests a port serves now (same method and path rule); the rest reach Flask.

    Each port's template is Flask's spelling of its rule, so logs and metrics name the
    route the same whichever implementation serves it.
    """

    def __init__(self, ports_app: ASGIApp, routes: list[tuple[APIRoute, str]], live: LiveStates) -> None:
        self.ports_app = ports_app
        self.routes = routes
        self.live = live

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Match fully only a request a port serves in the request's snapshot, for its method too."""
        if scope["type"] != "http":
            return Match.NONE, {}
        snapshot: Snapshot = scope.get(SNAPSHOT_KEY) or self.live.current
        if not snapshot.port_served:
            return Match.NONE, {}
        for route, template in self.routes:
            if route.name not in snapshot.port_served:
                continue
            match, _ = route.matches(scope)
            if match is Match.FULL:
                live = snapshot.of(route.name)
                if live.state == "canary" and canary_bucket(scope) >= (live.percent or 0):
                    return Match.NONE, {}
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


def canary_bucket(scope: Scope) -> int:
    """Return the caller's bucket, 0 to 99: the same for every request of one caller."""
    caller = token_subject(scope) or _client_address(scope)
    digest = hashlib.blake2b(caller.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100


def token_subject(scope: Scope) -> str | None:
    """Return the `sub` of the request's bearer token, read without checking it.

    Only for choosing a side: whichever side serves the request verifies the token.
    """
    for key, value in scope.get("headers", []):
        if key == b"authorization" and value[:7].lower() == b"bearer ":
            parts = value[7:].strip().split(b".")
            if len(parts) != 3:
                return None
            try:
                claims = json.loads(base64.urlsafe_b64decode(parts[1] + b"=" * (-len(parts[1]) % 4)))
            except ValueError:
                return None
            subject = claims.get("sub") if isinstance(claims, dict) else None
            return f"sub:{subject}" if isinstance(subject, str | int) else None
    return None


def _client_address(scope: Scope) -> str:
    # The front middleware resolved the address through the trusted proxies; fall back to the socket.
    address = current_request().client_ip or (scope.get("client") or ("unknown",))[0]
    return f"ip:{address}"
