"""Shadow mode: run the FastAPI port on the same request as Flask and compare the answers.

GET and HEAD: the client gets Flask's answer, complete, before the port even starts: the
port runs in a background task. Writes of a route with `shadow_writes`: the port first
answers the request in a transaction that is always rolled back, with mail and connectors
withheld (`datalab.rehearsal`), and only then does Flask serve it for real, so both start
from the same rows; the client waits for that rehearsal. Either way at most
`SHADOW_MAX_CONCURRENT` run at once per process (more are skipped and counted), each given
`SHADOW_TIMEOUT` seconds. A port that raises or times out is a recorded mismatch, never a
failed request.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope

from datalab.context import bind_route
from datalab.rehearsal import OutsideEffectRefused, rehearsal
from datalab.tracing import shadowed, span
from fastapi_app.migration.diff import Answer, compare
from fastapi_app.migration.guard import RollbackGuard
from fastapi_app.migration.registry import WRITE_METHODS, Registry, RouteEntry
from fastapi_app.migration.routing import SNAPSHOT_KEY
from fastapi_app.migration.stats import RouteCounter

log = logging.getLogger(__name__)
# What a replayed request keeps of the original scope: the request itself, not routing leftovers.
_KEPT = ("type", "asgi", "http_version", "method", "scheme", "server", "client", "root_path", "path")
_KEPT_TOO = ("raw_path", "query_string", "headers", "extensions")
MAX_REHEARSED_BODY = 1_048_576  # a bigger request body is not held in memory: Flask alone serves it


@dataclass
class Rehearsed:
    """A write the port answered (rolled back) before Flask serves it: the port's answer, or what failed."""

    entry: RouteEntry
    outcome: Answer | str


class ShadowRunner:
    """Runs ports in the shadow of Flask and records what differs."""

    def __init__(
        self,
        ports_app: ASGIApp,
        registry: Registry,
        counter: RouteCounter,
        ports: Mapping[str, APIRoute],
        guard: RollbackGuard,
        *,
        sample_rate: float,
        write_sample_rate: float,
        timeout: float,
        max_concurrent: int,
    ) -> None:
        self.ports_app = ports_app
        self.registry = registry
        self.counter = counter
        self.ports = ports
        self.guard = guard
        self.sample_rate = sample_rate
        self.write_sample_rate = write_sample_rate
        self.timeout = timeout
        self.max_concurrent = max_concurrent
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def sampled(self, rate: float | None = None) -> bool:
        """Decide whether this request is shadowed (`SHADOW_SAMPLE_RATE`, or `rate`)."""
        rate = self.sample_rate if rate is None else rate
        return rate >= 1.0 or random.random() < rate  # noqa: S311 (sampling, not security)

    async def rehearse(self, scope: Scope, receive: Receive) -> tuple[Rehearsed | None, Receive]:
        """Rehearse a write of a `shadow_writes` route on the port; return it and a `receive` for Flask.

        The request body is read here and replayed to Flask by the returned `receive`.
        Nothing is rehearsed (None) for other requests, unsampled ones, when too many
        shadow calls run, or for a body over MAX_REHEARSED_BODY.
        """
        entry = self._write_entry(scope)
        if entry is None or not self.sampled(self.write_sample_rate):
            return None, receive
        if self._running >= self.max_concurrent:
            self.counter.count(entry.name, "shadow_skipped")
            return None, receive
        body, read = await _read_body(receive)
        replay = _replaying(read, receive)
        if body is None:
            return None, replay
        self._running += 1
        try:
            outcome = await self._answer(entry, _replayable(scope), body, rehearsed=True)
        finally:
            self._running -= 1
        return Rehearsed(entry, outcome), replay

    def finish(self, rehearsed: Rehearsed, served: RouteEntry, flask: Answer, request_id: str | None) -> None:
        """Compare a rehearsal with Flask's real answer to the same request, and record it."""
        if served != rehearsed.entry:  # Flask routed it elsewhere (a path only the port matched)
            return
        self._record(rehearsed.entry, self._diff(rehearsed.entry, rehearsed.outcome, flask), request_id)

    def _write_entry(self, scope: Scope) -> RouteEntry | None:
        if scope["method"] not in WRITE_METHODS:
            return None
        live = scope[SNAPSHOT_KEY]  # the request's one snapshot of the live states (middleware.py)
        for entry in self.registry.routes.values():
            if not entry.shadow_writes or live.of(entry.name).state != "shadow":
                continue
            port = self.ports.get(entry.name)
            if port is not None and port.matches(scope)[0] is Match.FULL:
                return entry
        return None

    def start(self, entry: RouteEntry, scope: Scope, flask: Answer, request_id: str | None) -> None:
        """Run the port for this request in the background, or count it skipped when too many run."""
        if self._running >= self.max_concurrent:
            self.counter.count(entry.name, "shadow_skipped")
            return
        self._running += 1
        task = asyncio.create_task(self._run(entry, _replayable(scope), flask, request_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for every shadow call under way (at shutdown, and in tests)."""
        loop = asyncio.get_running_loop()
        while ours := [task for task in self._tasks if task.get_loop() is loop]:
            await asyncio.gather(*ours, return_exceptions=True)

    async def _run(self, entry: RouteEntry, scope: Scope, flask: Answer, request_id: str | None) -> None:
        try:
            outcome = await self._answer(entry, scope, b"", rehearsed=False)
        finally:
            self._running -= 1
        self._record(entry, self._diff(entry, outcome, flask), request_id)

    async def _answer(self, entry: RouteEntry, scope: Scope, body: bytes, *, rehearsed: bool) -> Answer | str:
        """Return the port's answer, or what went wrong, in words."""

        async def run() -> Answer:
            # In its own task: the port names itself in a RouteInfo of its own, not the client's,
            # and the rehearsal flag never reaches the client's context (Flask's).
            bind_route()
            # A child of the request's span (the task copied its context), marked as shadow with its children.
            with shadowed(), span(f"shadow {entry.name}", attributes={"datalab.route": entry.name}):
                if not rehearsed:
                    return await _call(self.ports_app, scope, body)
                with rehearsal():
                    return await _call(self.ports_app, scope, body)

        try:
            return await asyncio.wait_for(run(), self.timeout)
        except TimeoutError:
            return f"the port did not answer within {self.timeout:g}s"
        except OutsideEffectRefused:
            log.error("the FastAPI port of %s reached beyond the database in a shadowed write", entry.name)
            return "the port reached beyond the database: turn shadow_writes off for this route"
        except Exception as exc:  # any failure of the port is evidence, never the client's problem
            log.warning("the FastAPI port of %s raised %s in shadow mode", entry.name, type(exc).__name__)
            return f"the port raised {type(exc).__name__}"

    def _diff(self, entry: RouteEntry, outcome: Answer | str, flask: Answer) -> str | None:
        if isinstance(outcome, str):
            return outcome
        ignore = (*self.registry.ignore, *entry.ignore)
        return compare(flask, outcome, headers=self.registry.compared_headers, ignore=ignore)

    def _record(self, entry: RouteEntry, diff: str | None, request_id: str | None) -> None:
        self.counter.count(entry.name, "shadow_compared")
        if diff is not None:
            self.counter.record_mismatch(entry.name, request_id, diff)
            log.warning("shadow mismatch on %s (request %s):\n%s", entry.name, request_id, diff)
        self.guard.observe_shadow(entry.name, mismatched=diff is not None)


def _replayable(scope: Scope) -> Scope:
    copied: dict[str, Any] = {key: scope[key] for key in (*_KEPT, *_KEPT_TOO) if key in scope}
    copied["state"] = dict(scope.get("state", {}))
    return copied


async def _read_body(receive: Receive) -> tuple[bytes | None, list[Message]]:
    """Read the body; return it (None if too big or on a disconnect) and the messages read."""
    read: list[Message] = []
    size = 0
    while True:
        message = await receive()
        read.append(message)
        if message["type"] != "http.request":
            return None, read
        size += len(message.get("body", b""))
        if size > MAX_REHEARSED_BODY:
            return None, read
        if not message.get("more_body", False):
            return b"".join(m.get("body", b"") for m in read), read


def _replaying(read: list[Message], receive: Receive) -> Receive:
    """Return a `receive` giving the messages already read, then the rest from `receive`."""
    pending = list(read)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


async def _call(app: ASGIApp, scope: Scope, body: bytes = b"") -> Answer:
    """Call `app` with `scope` and `body`; return its answer."""
    answer = Answer()
    chunks: list[bytes] = []
    done = asyncio.Event()
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
            answer.headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                done.set()

    await app(scope, receive, send)
    # Servers drop the body of an answer to HEAD (uvicorn does); so does this comparison.
    answer.body = b"" if scope["method"] == "HEAD" else b"".join(chunks)
    return answer
