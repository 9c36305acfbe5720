"""The legacy app as its own server behind the gateway (`datalab legacy-serve`, LEGACY_UPSTREAM).

In process, the outer ASGI middleware hands Flask the request id and client address and
reads back the route Flask matched. Over HTTP the gateway sends the first two as
`X-Request-ID` and `X-Forwarded-For` (believed only from a peer in TRUSTED_PROXIES), and
this wrapper answers the third in `X-Datalab-Route`, which the gateway strips.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from ipaddress import ip_address, ip_network
from typing import Any

from flask import Flask

from datalab.context import bind_request, bind_route
from datalab.settings import Settings
from legacy_flask.app import create_app

ROUTE_HEADER = "X-Datalab-Route"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class GatewayContext:
    """WSGI middleware binding the gateway's request id and client address, and naming the route."""

    def __init__(self, app: Any, trusted: Iterable[str]) -> None:
        self.app = app
        self.trusted = [ip_network(network, strict=False) for network in trusted]

    def _from_gateway(self, peer: str) -> bool:
        try:
            address = ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Serve one request with the context the gateway forwarded."""
        peer = environ.get("REMOTE_ADDR", "")
        request_id, client = None, peer or None
        if self._from_gateway(peer):
            sent = environ.get("HTTP_X_REQUEST_ID", "")
            request_id = sent if _VALID_REQUEST_ID.fullmatch(sent) else None
            # The gateway sends the one address it decided on; the last hop is what a trusted peer said.
            hops = [hop.strip() for hop in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
            client = hops[-1] if hops else client
        bind_request(request_id, client)
        info = bind_route()

        def named(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if info.template is not None:
                headers = [*headers, (ROUTE_HEADER, info.template)]
            return start_response(status, headers, exc_info)

        return self.app(environ, named)  # type: ignore[no-any-return]


def create_remote_app(settings: Settings) -> tuple[Flask, GatewayContext]:
    """Build the Flask app and its WSGI entry for serving behind the gateway."""
    flask_app = create_app(settings)
    return flask_app, GatewayContext(flask_app.wsgi_app, settings.edges.trusted_proxies)


def serve(settings: Settings, *, host: str, port: int, workers: int, threads: int) -> None:
    """Serve the legacy app with gunicorn (gthread workers) until stopped."""
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]  # noqa: PLC0415

    class LegacyServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread",
                "accesslog": None,  # the gateway writes the access line, with the route template
                "graceful_timeout": 30,
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> GatewayContext:
            # Built in each worker after the fork, so no database pool crosses a fork.
            return create_remote_app(settings)[1]

    LegacyServer().run()
