"""Shadow mode: after Flask has answered a GET or HEAD, run the FastAPI port on the same request and compare.

The client always gets Flask's answer, complete, before the port even starts: the port
runs in a background task, at most `SHADOW_MAX_CONCURRENT` at once per process (more are
skipped and counted), each given `SHADOW_TIMEOUT` seconds. A port that raises or times
out is a recorded mismatch, never a failed request.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from starlette.types import ASGIApp, Message, Scope

from datalab.context import bind_route
from fastapi_app.migration.diff import Answer, compare
from fastapi_app.migration.guard import RollbackGuard
from fastapi_app.migration.registry import Registry, RouteEntry
from fastapi_app.migration.stats import RouteCounter

log = logging.getLogger(__name__)
# What a replayed request keeps of the original scope: the request itself, not routing leftovers.
_KEPT = ("type", "asgi", "http_version", "method", "scheme", "server", "client", "root_path", "path")
_KEPT_TOO = ("raw_path", "query_string", "headers", "extensions")


class ShadowRunner:
    """Runs ports in the shadow of Flask and records what differs."""

    def __init__(
        self,
        ports_app: ASGIApp,
        registry: Registry,
        counter: RouteCounter,
        guard: RollbackGuard,
        *,
        sample_rate: float,
        timeout: float,
        max_concurrent: int,
    ) -> None:
        self.ports_app = ports_app
        self.registry = registry
        self.counter = counter
        self.guard = guard
        self.sample_rate = sample_rate
        self.timeout = timeout
        self.max_concurrent = max_concurrent
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def sampled(self) -> bool:
        """Decide whether this request is shadowed (`SHADOW_SAMPLE_RATE`)."""
        return self.sample_rate >= 1.0 or random.random() < self.sample_rate  # noqa: S311 (sampling, not security)

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
            bind_route()  # the port names itself in a RouteInfo of its own, not the client's
            diff = await self._compare(entry, scope, flask)
        finally:
            self._running -= 1
        self.counter.count(entry.name, "shadow_compared")
        if diff is not None:
            self.counter.record_mismatch(entry.name, request_id, diff)
            log.warning("shadow mismatch on %s (request %s):\n%s", entry.name, request_id, diff)
        self.guard.observe_shadow(entry.name, mismatched=diff is not None)

    async def _compare(self, entry: RouteEntry, scope: Scope, flask: Answer) -> str | None:
        try:
            port = await asyncio.wait_for(_call(self.ports_app, scope), self.timeout)
        except TimeoutError:
            return f"the port did not answer within {self.timeout:g}s"
        except Exception as exc:  # any failure of the port is evidence, never the client's problem
            log.warning("the FastAPI port of %s raised %s in shadow mode", entry.name, type(exc).__name__)
            return f"the port raised {type(exc).__name__}"
        return compare(
            flask, port, headers=self.registry.compared_headers, ignore=(*self.registry.ignore, *entry.ignore)
        )


def _replayable(scope: Scope) -> Scope:
    copied: dict[str, Any] = {key: scope[key] for key in (*_KEPT, *_KEPT_TOO) if key in scope}
    copied["state"] = dict(scope.get("state", {}))
    return copied


async def _call(app: ASGIApp, scope: Scope) -> Answer:
    """Call `app` with `scope` and an empty body; return its answer."""
    answer = Answer()
    chunks: list[bytes] = []
    done = asyncio.Event()
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": b"", "more_body": False}
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
