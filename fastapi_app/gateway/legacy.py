"""The legacy app over HTTP: with LEGACY_UPSTREAM set, the mount at "/" forwards to a Flask server elsewhere.

The remote server (`datalab legacy-serve`) names the Flask route it matched in a
response header, so logs, metrics, route counts, deprecation headers and shadow mode
work as they do in process; the answer says `X-Served-By: legacy_remote`.
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from datalab.context import current_route
from fastapi_app.gateway.proxy import Forwarder
from fastapi_app.gateway.upstream import Upstream

SERVED_BY = "legacy_remote"


class RemoteLegacyApp:
    """An ASGI app that forwards every request it gets to the legacy upstream, path and all."""

    def __init__(self, forwarder: Forwarder, upstream: Upstream) -> None:
        self.forwarder = forwarder
        self.upstream = upstream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward the request; the legacy app checks tokens itself, as it does in process."""
        if scope["type"] != "http":
            return
        info = current_route()
        if info is not None:
            info.served_by = SERVED_BY

        def name_route(template: str) -> None:
            if info is not None:
                info.template = template

        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        await self.forwarder.forward(
            scope, receive, send, upstream=self.upstream, path=raw.decode("latin-1"), on_route=name_route
        )
