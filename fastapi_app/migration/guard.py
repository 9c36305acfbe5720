"""The rollback guard: a route whose port misbehaves goes back to Flask by itself, on every worker.

Per route and per process it keeps a sliding window (the last `ROLLBACK_WINDOW_REQUESTS`
requests of each side, none older than `ROLLBACK_WINDOW_SECONDS`) of what Flask and the
port answered (5xx or not, and how long it took) and of the shadow comparisons. It judges
once the port has `ROLLBACK_MIN_REQUESTS` requests (or comparisons) in the window:

- 5xx: the port's rate exceeds Flask's by more than `ROLLBACK_MAX_ERROR_DELTA` points;
- latency: the port's p99 exceeds `ROLLBACK_MAX_LATENCY_RATIO` times Flask's;
- shadow: mismatches exceed `ROLLBACK_MAX_MISMATCHES` percent of comparisons.

In `canary` both sides serve, so the two windows are compared as they are. In `migrated`
Flask serves nothing: its window is kept as it was when Flask last served the route (it
stops ageing) and is the baseline; with no Flask sample at all in this process, the 5xx rule
compares with 0 % and the latency rule is skipped. Tripping moves the route to `legacy`
through the same write as a person's change (so every worker follows within the poll),
audited `route.rolled_back` with the numbers, logged at error level and counted in /metrics.
The guard never moves a route forward.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from sqlalchemy.orm import Session

from datalab.settings.groups import MigrationSettings
from fastapi_app.migration.live import LEGACY, LiveStates, change_states
from fastapi_app.migration.registry import State

log = logging.getLogger(__name__)
Clock = Callable[[], float]


@dataclass
class Window:
    """The latest observations of one side of one route: (time, a 5xx?, seconds)."""

    size: int
    items: deque[tuple[float, bool, float]] = field(default_factory=deque)

    def add(self, at: float, failed: bool, seconds: float) -> None:
        """Add one observation, dropping the oldest past the size."""
        self.items.append((at, failed, seconds))
        while len(self.items) > self.size:
            self.items.popleft()

    def trim(self, oldest: float) -> None:
        """Drop observations made before `oldest`."""
        while self.items and self.items[0][0] < oldest:
            self.items.popleft()

    def error_rate(self) -> float:
        """Return the share of 5xx answers, in percent."""
        return 100.0 * sum(1 for _, failed, _ in self.items if failed) / len(self.items)

    def p99(self) -> float:
        """Return the 99th percentile of the durations (nearest rank)."""
        ordered = sorted(seconds for _, _, seconds in self.items)
        return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


@dataclass
class RouteWindows:
    """Both sides' windows and the shadow comparisons of one route."""

    flask: Window
    port: Window
    shadow: Window  # (time, mismatched, 0.0)


class RollbackGuard:
    """Watches every ported route in this process and rolls a misbehaving one back."""

    def __init__(self, live: LiveStates, settings: MigrationSettings, clock: Clock = time.monotonic) -> None:
        self.live = live
        self.settings = settings
        self.clock = clock
        self.enabled = settings.rollback_enabled
        self.windows: dict[str, RouteWindows] = {}
        self.on_rollback: list[Callable[[str], None]] = []  # e.g. the /metrics counter
        self._rolling: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def observe(self, route: str, *, by_port: bool, status: int, seconds: float) -> None:
        """Record one answer to a client, and judge the route if the port served it."""
        if not self.enabled or route not in self.live.registry.ported:
            return
        windows = self._windows(route)
        (windows.port if by_port else windows.flask).add(self.clock(), status >= 500, seconds)
        if by_port:
            self._judge(route)

    def observe_shadow(self, route: str, *, mismatched: bool) -> None:
        """Record one shadow comparison and judge the route."""
        if not self.enabled:
            return
        self._windows(route).shadow.add(self.clock(), mismatched, 0.0)
        self._judge(route)

    def verdict(self, route: str) -> dict[str, Any] | None:
        """Return the numbers that condemn the route in its current state, or None if it may stay."""
        state = self.live.current.of(route).state
        windows = self.windows.get(route)
        if windows is None or state == "legacy":
            return None
        oldest = self.clock() - self.settings.rollback_window_seconds
        for window in (windows.port, windows.shadow):
            window.trim(oldest)
        if state != "migrated":  # in migrated, Flask's last window is the baseline: it stops ageing
            windows.flask.trim(oldest)
        if state == "shadow":
            return self._shadow_verdict(windows.shadow)
        return self._serving_verdict(windows.flask, windows.port)

    def _serving_verdict(self, flask: Window, port: Window) -> dict[str, Any] | None:
        least = self.settings.rollback_min_requests
        if len(port.items) < least:
            return None
        baseline = len(flask.items) >= least
        numbers: dict[str, Any] = {
            "port_requests": len(port.items),
            "flask_requests": len(flask.items),
            "port_5xx_percent": round(port.error_rate(), 2),
            "flask_5xx_percent": round(flask.error_rate(), 2) if baseline else 0.0,
            "port_p99_seconds": round(port.p99(), 4),
            "flask_p99_seconds": round(flask.p99(), 4) if baseline else None,
        }
        delta = numbers["port_5xx_percent"] - numbers["flask_5xx_percent"]
        if delta > self.settings.rollback_max_error_delta:
            return {"rule": "5xx", **numbers}
        if baseline and port.p99() > self.settings.rollback_max_latency_ratio * flask.p99():
            return {"rule": "latency", **numbers}
        return None

    def _shadow_verdict(self, shadow: Window) -> dict[str, Any] | None:
        if len(shadow.items) < self.settings.rollback_min_requests:
            return None
        rate = shadow.error_rate()  # the share of comparisons that differed
        if rate <= self.settings.rollback_max_mismatches:
            return None
        return {"rule": "mismatches", "compared": len(shadow.items), "mismatch_percent": round(rate, 2)}

    def _judge(self, route: str) -> None:
        if route in self._rolling:
            return
        numbers = self.verdict(route)
        if numbers is None:
            return
        state = self.live.current.of(route).state
        self._rolling.add(route)
        task = asyncio.get_running_loop().create_task(self._roll_back(route, state, numbers))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _roll_back(self, route: str, state: State, numbers: dict[str, Any]) -> None:
        try:
            changed = await anyio.to_thread.run_sync(self._write, route, state, numbers)
            if changed:
                log.error("rolled %s back from %s to legacy: %s", route, state, numbers)
                for hook in self.on_rollback:
                    hook(route)
            windows = self._windows(route)
            windows.port.items.clear()
            windows.shadow.items.clear()
        except Exception:  # the next bad answer tries again
            log.exception("could not roll %s back", route)
        finally:
            self._rolling.discard(route)

    def _write(self, route: str, state: State, numbers: dict[str, Any]) -> bool:
        with Session(self.live.engine) as session, session.begin():
            changes = change_states(
                session,
                registry=self.live.registry,
                wanted={route: LEGACY},
                actor="rollback guard",
                user_id=None,
                reason=f"the port failed the {numbers['rule']} rule",
                action="route.rolled_back",
                only_from={route: state},
                details=numbers,
            )
        self.live.refresh()  # this worker at once; the others within their poll
        return bool(changes)

    async def drain(self) -> None:
        """Wait for rollbacks under way (at shutdown, and in tests)."""
        loop = asyncio.get_running_loop()
        while ours := [task for task in self._tasks if task.get_loop() is loop]:
            await asyncio.gather(*ours, return_exceptions=True)

    def _windows(self, route: str) -> RouteWindows:
        windows = self.windows.get(route)
        if windows is None:
            size = self.settings.rollback_window_requests
            windows = self.windows[route] = RouteWindows(Window(size), Window(size), Window(size))
        return windows
