"""The route migration in one package: registry, live state, ports, routing, shadow, guard, counts, report.

Public surface: `registry` (what routes exist and have ports), `live` (who serves each
route now, changed at run time), `routing` and `middleware` (serving by that state),
`shadow`, `guard` (automatic rollback), `report` and `router` (the admin API).
`build_migration` is called by the app factory. It reads and checks the registry
(refusing to start on a bad one), checks it against Flask's URL map, and gives the
factory the route to put ahead of the Flask mount and the middleware to add. Without
Flask (LEGACY_MOUNT=off) the registry alone is checked: every route must be migrated.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio
from fastapi import FastAPI
from sqlalchemy import Engine

from datalab.runtime import Runtime
from datalab.settings import Settings
from fastapi_app.database import AsyncDatabase
from fastapi_app.migration.guard import RollbackGuard
from fastapi_app.migration.live import LiveStates, Snapshot
from fastapi_app.migration.ports import PORTED, REACHES_OUTSIDE, build_ports_app, legacy_template, port_routes
from fastapi_app.migration.registry import Registry, RegistryError, check_url_map, load_registry
from fastapi_app.migration.report import flask_blockers
from fastapi_app.migration.routing import MigratedRoutes
from fastapi_app.migration.shadow import ShadowRunner
from fastapi_app.migration.stats import RouteCounter

if TYPE_CHECKING:
    from flask import Flask


@dataclass
class Migration:
    """Everything the app needs to serve legacy routes by their registry state."""

    registry: Registry
    ports_app: FastAPI
    counter: RouteCounter
    shadow: ShadowRunner
    route: MigratedRoutes
    live: LiveStates
    guard: RollbackGuard
    flush_seconds: float
    # One flusher and watcher per event loop: tests run several clients (each with its loop) over one app.
    _flushers: list[asyncio.Task[None]] = field(default_factory=list, repr=False)
    _announced: bool = field(default=False, repr=False)

    async def start(self) -> None:
        """Read the live states and start watching them and flushing counts in the background.

        The first start also seeds the live states and records every route's state.
        """
        if not self._announced:
            self._announced = True
            await anyio.to_thread.run_sync(self.live.catch_up)
            await anyio.to_thread.run_sync(lambda: self.counter.flush(every_route=True))
        else:
            await anyio.to_thread.run_sync(self.live.catch_up)
        self._flushers.append(asyncio.create_task(self._flush_forever()))
        self._flushers.append(asyncio.create_task(self.live.watch()))

    async def stop(self) -> None:
        """Let shadow calls and rollbacks finish, stop the background tasks and write what is left."""
        await self.shadow.drain()
        await self.guard.drain()
        loop = asyncio.get_running_loop()
        for flusher in [f for f in self._flushers if f.get_loop() is loop]:
            self._flushers.remove(flusher)
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
        await anyio.to_thread.run_sync(self.counter.flush)

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            await anyio.to_thread.run_sync(self.counter.flush)


def build_migration(
    settings: Settings, flask_app: Flask | None, runtime: Runtime, engine: Engine, database: AsyncDatabase
) -> Migration:
    """Read and check the registry against Flask's routes (or, with no Flask, that all are migrated)."""
    registry = load_registry(settings, ported=PORTED, reaches_outside=REACHES_OUTSIDE)
    routes = port_routes()
    templates = {name: legacy_template(route) for name, route in routes.items()}
    if flask_app is not None:
        from legacy_flask.app import legacy_route_path  # Flask is imported only when it is mounted

        rules = check_url_map(
            registry,
            (
                (method, rule.rule)
                for rule in flask_app.url_map.iter_rules()
                if rule.endpoint != "static"
                for method in sorted(rule.methods or ())
            ),
        )
        templates = {name: legacy_route_path(rule) for name, rule in rules.items()}
    ports_app = build_ports_app(runtime, database)
    ports = [(route, templates[name]) for name, route in routes.items()]
    live = LiveStates(registry, engine, poll_seconds=settings.migration.route_state_poll_seconds)
    if flask_app is None:
        # Without Flask every route must be served by its port, as the live states say now.
        states = {name: route.state for name, route in live.current.routes.items()}
        blockers = flask_blockers(states, PORTED)
        if blockers:
            raise RegistryError(
                "LEGACY_MOUNT=off needs every route migrated; still on Flask: " + "; ".join(blockers)
            )
    counter = RouteCounter(engine, _state_labels(live.current))
    live.listeners.append(lambda snapshot: counter.states.update(_state_labels(snapshot)))
    # Without Flask there is nothing to roll back to: the guard only watches.
    rollback = settings.migration.rollback_enabled and flask_app is not None
    guard = RollbackGuard(live, settings.migration.model_copy(update={"rollback_enabled": rollback}))
    shadow = ShadowRunner(
        ports_app,
        registry,
        counter,
        routes,
        guard,
        sample_rate=settings.migration.shadow_sample_rate,
        write_sample_rate=settings.migration.shadow_write_sample_rate,
        timeout=settings.migration.shadow_timeout,
        max_concurrent=settings.migration.shadow_max_concurrent,
    )
    return Migration(
        registry=registry,
        ports_app=ports_app,
        counter=counter,
        shadow=shadow,
        route=MigratedRoutes(ports_app, ports, live),
        live=live,
        guard=guard,
        flush_seconds=settings.migration.migration_flush_seconds,
    )


def _state_labels(snapshot: Snapshot) -> dict[str, str]:
    return {name: route.label() for name, route in snapshot.routes.items()}
