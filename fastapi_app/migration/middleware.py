"""Pure ASGI middleware for legacy routes: pin the live states, count who served them, add deprecation
headers, feed shadow mode and the rollback guard.

It runs inside the front layer (fastapi_app.edges.front), so the RouteInfo the serving half filled in
(route template, implementation) is there when the response starts.
"""

from __future__ import annotations

import time
from datetime import UTC
from email.utils import format_datetime
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from datalab.context import current_route
from datalab.error_shape import is_v1
from fastapi_app.migration import Migration
from fastapi_app.migration.diff import Answer
from fastapi_app.migration.registry import SAFE_METHODS, WRITE_METHODS, RouteEntry
from fastapi_app.migration.routing import SNAPSHOT_KEY
from fastapi_app.migration.shadow import Rehearsed
from fastapi_app.migration.stats import Counted, Implementation

MAX_SHADOW_BODY = 1_048_576  # a bigger Flask answer is not held in memory to be compared


class MigrationMiddleware:
    """Counts each legacy request per implementation, sends Deprecation/Sunset/Link, starts shadow calls."""

    def __init__(self, app: ASGIApp, migration: Migration) -> None:
        self.app = app
        self.registry = migration.registry
        self.counter = migration.counter
        self.shadow = migration.shadow
        self.live = migration.live
        self.guard = migration.guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or is_v1(path):
            await self.app(scope, receive, send)
            return
        # The one snapshot of the live states this whole request is served by (routing reads it too).
        snapshot = scope[SNAPSHOT_KEY] = self.live.current
        info = current_route()
        # A write of a `shadow_writes` route in shadow: the port answers it first, rolled back (shadow.py).
        rehearsed: Rehearsed | None = None
        if snapshot.shadowing and scope["method"] in WRITE_METHODS:
            rehearsed, receive = await self.shadow.rehearse(scope, receive)
        wants_shadow = snapshot.shadowing and (
            (scope["method"] in SAFE_METHODS and self.shadow.sampled()) or rehearsed is not None
        )
        entry: RouteEntry | None = None
        flask: Answer | None = None
        status = 0
        size = 0
        started = time.perf_counter()

        async def send_counted(message: Message) -> None:
            nonlocal entry, flask, size, status
            if message["type"] == "http.response.start" and info is not None:
                status = message["status"]
                entry = self.registry.entry_for(scope["method"], info.template)
                if entry is not None:
                    served: Counted = (
                        "served_fastapi" if info.served_by == "fastapi" else "served_legacy_flask"
                    )
                    self.counter.count(entry.name, served)
                    message["headers"] = [*message.get("headers", []), *deprecation_headers(entry, path)]
                    legacy = info.served_by in ("legacy_flask", "legacy_remote")
                    if wants_shadow and snapshot.of(entry.name).state == "shadow" and legacy:
                        flask = Answer(message["status"], _headers(message))
            elif message["type"] == "http.response.body" and flask is not None:
                size += len(message.get("body", b""))
                if size > MAX_SHADOW_BODY:
                    flask = None
                else:
                    flask.body += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:  # a half that raised after its 500 was sent is the guard's business most of all
            if entry is not None and info is not None:
                seconds = time.perf_counter() - started
                by_port = info.served_by == "fastapi"
                implementation: Implementation = "fastapi" if by_port else "legacy_flask"
                self.counter.time(entry.name, implementation, seconds)
                self.guard.observe(entry.name, by_port=by_port, status=status, seconds=seconds)
        if entry is not None and flask is not None:
            request_id = scope.get("state", {}).get("request_id")
            if rehearsed is not None:
                self.shadow.finish(rehearsed, entry, flask, request_id)
            else:
                self.shadow.start(entry, scope, flask, request_id)


def deprecation_headers(entry: RouteEntry, path: str) -> list[tuple[bytes, bytes]]:
    """Return `Deprecation` (RFC 9745), `Sunset` (RFC 8594) and `Link` (successor) for a deprecated route."""
    successor = entry.successor_for(path)
    if successor is None or entry.deprecation is None:
        return []
    headers = [
        (b"deprecation", f"@{int(entry.deprecation.timestamp())}".encode()),
        (b"link", f'<{quote(successor, safe="/")}>; rel="successor-version"'.encode()),
    ]
    if entry.sunset is not None:
        headers.append((b"sunset", format_datetime(entry.sunset.astimezone(UTC), usegmt=True).encode()))
    return headers


def _headers(message: Message) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])}
