"""The API gateway: services behind /api/v1 prefixes, and optionally the legacy app on another server.

`install_gateway` is called by the app factory: it reads the registry (refusing to start
on a bad entry), adds one forwarding route per service, and returns the `Gateway` whose
`start`/`stop` the lifespan calls (health checks, the upstream client of each loop).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from fastapi import FastAPI

from datalab.settings import Settings
from fastapi_app.gateway.clients import ClientPool
from fastapi_app.gateway.health import check_forever
from fastapi_app.gateway.legacy import RemoteLegacyApp
from fastapi_app.gateway.metrics import GatewayMetrics
from fastapi_app.gateway.proxy import Forwarder
from fastapi_app.gateway.registry import V1, GatewayConfigError, ServiceConfig, load_services
from fastapi_app.gateway.router import add_service_routes
from fastapi_app.gateway.upstream import Upstream, build_upstream
from fastapi_app.mount import LegacyMount

LEGACY = "legacy"


@dataclass
class Gateway:
    """The services, the optional remote legacy app, and their background health checks."""

    forwarder: Forwarder
    services: list[Upstream]
    legacy: Upstream | None
    interval: float
    _checkers: list[asyncio.Task[None]] = field(default_factory=list, repr=False)

    @property
    def upstreams(self) -> list[Upstream]:
        """Return every upstream, the legacy app included."""
        return [*self.services, *([self.legacy] if self.legacy else [])]

    async def start(self) -> None:
        """Start this event loop's health checks (none without upstreams)."""
        if self.upstreams:
            checks = check_forever(
                self.forwarder.clients, self.upstreams, self.forwarder.metrics, self.interval
            )
            self._checkers.append(asyncio.create_task(checks))

    async def stop(self) -> None:
        """Stop this loop's health checks and close its upstream client."""
        loop = asyncio.get_running_loop()
        for checker in [c for c in self._checkers if c.get_loop() is loop]:
            self._checkers.remove(checker)
            checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checker
        await self.forwarder.clients.close()

    def report(self) -> dict[str, object]:
        """Return each upstream's state, for /health/ready."""
        return {upstream.name: upstream.report() for upstream in self.upstreams}

    def legacy_route(self) -> LegacyMount:
        """Return the mount at "/" that forwards to LEGACY_UPSTREAM."""
        assert self.legacy is not None, "only called when LEGACY_UPSTREAM is set"
        return LegacyMount("/", app=RemoteLegacyApp(self.forwarder, self.legacy))


def install_gateway(app: FastAPI, settings: Settings) -> Gateway:
    """Read the registry, add each service's routes to `app`, and return the gateway."""
    # The documented paths: included routers are resolved lazily, so app.routes does not list them.
    v1_paths = [path for path in app.openapi()["paths"] if path.startswith(V1 + "/")]
    configs = load_services(settings, v1_paths)
    metrics = GatewayMetrics(app.state.metrics.registry)

    def upstream(config: ServiceConfig, prefix: str, timeout: float) -> Upstream:
        return build_upstream(
            config.name,
            prefix,
            config.urls,
            timeout=config.timeout or timeout,
            retries=settings.gateway.gateway_retries if config.retries is None else config.retries,
            health_path=config.health_path,
            threshold=settings.gateway.circuit_breaker_threshold,
            cooldown=settings.gateway.circuit_breaker_cooldown,
            metrics=metrics,
        )

    services = [upstream(c, c.full_prefix(), settings.gateway.gateway_timeout) for c in configs]
    legacy = None
    if settings.gateway.legacy_upstream:
        urls = tuple(url.strip() for url in settings.gateway.legacy_upstream.split(",") if url.strip())
        try:
            config = ServiceConfig(name=LEGACY, urls=urls, health_path="/api/health")
        except ValueError:
            raise GatewayConfigError(
                "LEGACY_UPSTREAM: not a list of http(s) URLs without credentials"
            ) from None
        legacy = upstream(config, "/api", settings.gateway.legacy_upstream_timeout)
    forwarder = Forwarder(
        ClientPool(settings.gateway.gateway_max_connections), metrics, settings.gateway.gateway_max_body_bytes
    )
    add_service_routes(app, forwarder, services)
    return Gateway(forwarder, services, legacy, settings.gateway.health_check_interval)
