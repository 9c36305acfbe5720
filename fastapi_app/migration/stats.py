"""Request and shadow counts per legacy route, buffered per process and added to the database in batches.

Counting happens on every legacy request, so nothing is written per request: the
increments wait in memory and `flush()` adds them with one upsert per route (every
`MIGRATION_FLUSH_SECONDS` and at shutdown). Increments, not totals, so any number of
worker processes can flush into the same rows.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from shared_models import RouteStats, ShadowMismatch

log = logging.getLogger(__name__)
Counted = Literal[
    "served_legacy_flask", "served_fastapi", "shadow_compared", "shadow_mismatches", "shadow_skipped"
]
COUNTERS: tuple[Counted, ...] = (
    "served_legacy_flask",
    "served_fastapi",
    "shadow_compared",
    "shadow_mismatches",
    "shadow_skipped",
)
MAX_PENDING_MISMATCHES = 1_000
LATENCY_WINDOW = 1_000  # the latest requests per route and implementation the percentiles come from
Implementation = Literal["legacy_flask", "fastapi"]


@dataclass(frozen=True)
class Latency:
    """Percentiles of one route's latest requests served by one implementation."""

    samples: int
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Mismatch:
    """A shadow comparison that differed, waiting to be written."""

    route: str
    request_id: str | None
    diff: str
    at: datetime


class RouteCounter:
    """This process's unflushed counts and mismatches; safe to use from any thread."""

    def __init__(self, engine: Engine, states: Mapping[str, str]) -> None:
        self.engine = engine
        self.states = dict(states)
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, Counted]] = Counter()
        self._mismatches: list[Mismatch] = []
        self._durations: dict[tuple[str, Implementation], deque[float]] = {}

    def count(self, route: str, counter: Counted) -> None:
        """Add one to `counter` of `route`."""
        with self._lock:
            self._counts[(route, counter)] += 1

    def time(self, route: str, implementation: Implementation, seconds: float) -> None:
        """Keep how long `implementation` took to answer one request to `route` (the latest ones only)."""
        with self._lock:
            durations = self._durations.get((route, implementation))
            if durations is None:
                durations = self._durations[(route, implementation)] = deque(maxlen=LATENCY_WINDOW)
            durations.append(seconds)

    def latencies(self) -> dict[str, dict[Implementation, Latency]]:
        """Return p50 and p99 of each route's latest requests, by implementation (this process only)."""
        with self._lock:
            copies = {key: sorted(durations) for key, durations in self._durations.items()}
        found: dict[str, dict[Implementation, Latency]] = {}
        for (route, implementation), durations in copies.items():
            found.setdefault(route, {})[implementation] = Latency(
                samples=len(durations), p50_ms=_percentile(durations, 50), p99_ms=_percentile(durations, 99)
            )
        return found

    def record_mismatch(self, route: str, request_id: str | None, diff: str) -> None:
        """Count a mismatch and keep its diff (the oldest are dropped past a bound, never the count)."""
        with self._lock:
            self._counts[(route, "shadow_mismatches")] += 1
            if len(self._mismatches) < MAX_PENDING_MISMATCHES:
                self._mismatches.append(Mismatch(route, request_id, diff, datetime.now(UTC)))

    def pending(self) -> tuple[dict[tuple[str, Counted], int], list[Mismatch]]:
        """Return copies of the unflushed counts and mismatches."""
        with self._lock:
            return dict(self._counts), list(self._mismatches)

    def flush(self, *, every_route: bool = False) -> None:
        """Add the buffered counts and mismatches to the database; keep them if that fails.

        `every_route` also writes a row for routes without traffic, so the report shows
        the state this process serves each route in from the start.
        """
        with self._lock:
            counts, self._counts = self._counts, Counter()
            mismatches, self._mismatches = self._mismatches, []
        routes = set(self.states) if every_route else {route for route, _ in counts}
        if not routes and not mismatches:
            return
        try:
            with Session(self.engine) as session, session.begin():
                for route in sorted(routes):
                    increments: dict[str, int] = {name: counts.get((route, name), 0) for name in COUNTERS}
                    session.execute(self._upsert(route, increments))
                session.add_all(
                    ShadowMismatch(route=m.route, request_id=m.request_id, diff=m.diff, created_at=m.at)
                    for m in mismatches
                )
        except SQLAlchemyError:
            log.exception("could not write route migration counts; keeping them for the next flush")
            with self._lock:
                self._counts.update(counts)
                self._mismatches[:0] = mismatches[: MAX_PENDING_MISMATCHES - len(self._mismatches)]

    def _upsert(self, route: str, increments: Mapping[str, int]) -> Executable:
        dialect: Any = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        now = datetime.now(UTC)
        insert = dialect.insert(RouteStats).values(
            route=route, live_state=self.states.get(route), updated_at=now, **increments
        )
        added: dict[str, Any] = {name: getattr(RouteStats, name) + insert.excluded[name] for name in COUNTERS}
        upsert: Executable = insert.on_conflict_do_update(
            index_elements=["route"],
            set_={
                **added,
                "live_state": insert.excluded.live_state,
                "updated_at": insert.excluded.updated_at,
            },
        )
        return upsert


def read_stats(session: Session) -> dict[str, RouteStats]:
    """Return the stored counts by route."""
    return {row.route: row for row in session.scalars(select(RouteStats))}


def recent_mismatches(session: Session, route: str, limit: int = 5) -> list[ShadowMismatch]:
    """Return the latest recorded mismatches of `route`, newest first."""
    query = (
        select(ShadowMismatch)
        .where(ShadowMismatch.route == route)
        .order_by(ShadowMismatch.created_at.desc(), ShadowMismatch.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def _percentile(ordered: list[float], rank: int) -> float:
    # Nearest rank: the smallest duration at least `rank` % of the requests did not exceed, in ms.
    index = max(0, math.ceil(rank / 100 * len(ordered)) - 1)
    return round(ordered[index] * 1000, 2)
