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
from opentelemetry.trace import SpanKind

from datalab.context import bind_request, bind_route, current_route
from datalab.settings import Settings
from datalab.tracing import TRACE_HEADERS, bind_process_tracer, continued, start_tracing
from legacy_flask.app import create_app
from legacy_flask.extensions import ENGINE_KEY

ROUTE_HEADER = "X-Datalab-Route"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class GatewayContext:
    """WSGI middleware binding the gateway's request id and client address, and naming the route."""

    def __init__(self, app: Any, trusted: Iterable[str], *, traced: bool = False) -> None:
        self.app = app
        self.trusted = [ip_network(network, strict=False) for network in trusted]
        self.traced = traced

    def _from_gateway(self, peer: str) -> bool:
        try:
            address = ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        """Serve one request with the context the gateway forwarded."""
        trusted = self._from_gateway(environ.get("REMOTE_ADDR", ""))
        if self.traced:
            return self._traced(environ, start_response, trusted)
        return self._serve(environ, start_response, trusted)

    def _traced(self, environ: dict[str, Any], start_response: Any, trusted: bool) -> Iterable[bytes]:
        # The gateway's traceparent is believed only from the gateway, as its other headers are.
        sent = {name: environ.get(f"HTTP_{name.upper()}", "") for name in TRACE_HEADERS}
        carrier = {k: v for k, v in sent.items() if v} if trusted else {}
        method = environ.get("REQUEST_METHOD", "GET")
        with continued(carrier, method, kind=SpanKind.SERVER) as span:
            status: list[str] = []

            def recorded(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                status.append(code)
                return start_response(code, headers, exc_info)

            # Consumed (and closed: Flask's teardown commits) inside the span: legacy answers are small JSON.
            served = self._serve(environ, recorded, trusted)
            try:
                body = list(served)
            finally:
                if hasattr(served, "close"):
                    served.close()
            info = current_route()
            if span is not None and span.is_recording():
                route = info.template if info is not None and info.template else "unmatched"
                span.update_name(f"{method} {route}")
                span.set_attributes({"http.route": route, "datalab.served_by": "legacy_flask"})
                if status:
                    span.set_attribute("http.response.status_code", int(status[0].split(" ", 1)[0]))
            return body

    def _serve(self, environ: dict[str, Any], start_response: Any, trusted: bool) -> Iterable[bytes]:
        peer = environ.get("REMOTE_ADDR", "")
        request_id, client = None, peer or None
        if trusted:
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
    tracing = start_tracing(settings.tracing)
    if tracing is not None:  # one app per process here: its tracer is the process's
        tracing.instrument(flask_app.extensions[ENGINE_KEY])
        bind_process_tracer(tracing.tracer)
    traced = tracing is not None
    return flask_app, GatewayContext(flask_app.wsgi_app, settings.edges.trusted_proxies, traced=traced)


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
