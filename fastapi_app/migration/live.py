"""Live route states: who serves each legacy route now, shared by every server process through the database.

The `route_states` table is the truth. It is seeded from the registry (routes.toml and
`ROUTE_STATES`) at first start and changed at run time by the admin API, the CLI and the
rollback guard, all through `change_states`. Each process holds one immutable `Snapshot`
and replaces it whole when the table's stamp (`max(version)`, row count) moves; it reads
the stamp every `ROUTE_STATE_POLL_SECONDS`. A request reads the snapshot once, so no
request is ever served by half of a change.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
from sqlalchemy import Engine, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from datalab import audit
from datalab.errors import InvalidInput
from fastapi_app.migration.registry import PORT_STATES, STATES, Registry, State
from shared_models import RouteState

log = logging.getLogger(__name__)
Stamp = tuple[int, int]


@dataclass(frozen=True)
class LiveRoute:
    """A route's state, with the port's share of requests when it is a canary."""

    state: State
    percent: int | None = None

    def label(self) -> str:
        """Return the state as people write it: `canary:30`, `migrated`."""
        return f"canary:{self.percent}" if self.state == "canary" else self.state


LEGACY = LiveRoute("legacy")


@dataclass(frozen=True)
class Snapshot:
    """Every route's state at one moment, never changed once made."""

    routes: Mapping[str, LiveRoute]
    stamp: Stamp = (0, 0)
    # Routes a port answers clients for (migrated or canary), and whether any route is shadowed.
    port_served: frozenset[str] = field(init=False)
    shadowing: bool = field(init=False)

    def __post_init__(self) -> None:
        served = frozenset(n for n, r in self.routes.items() if r.state in ("migrated", "canary"))
        object.__setattr__(self, "port_served", served)
        object.__setattr__(self, "shadowing", any(r.state == "shadow" for r in self.routes.values()))

    def of(self, name: str) -> LiveRoute:
        """Return the state of route `name` (legacy for a name it does not know)."""
        return self.routes.get(name, LEGACY)


@dataclass(frozen=True)
class Change:
    """One route moved from one state to another."""

    route: str
    before: LiveRoute
    after: LiveRoute


def configured(registry: Registry) -> Snapshot:
    """Return the states the registry configures (routes.toml and ROUTE_STATES), before any live change."""
    return Snapshot({e.name: LiveRoute(e.state, e.percent) for e in registry.routes.values()})


def check_wanted(registry: Registry, wanted: Mapping[str, LiveRoute]) -> None:
    """Refuse, naming the route, an unknown route or state, a missing port or a bad percent."""
    for name, route in wanted.items():
        where = f"routes.{name}"
        if name not in registry.routes:
            raise InvalidInput(where, "unknown route; use a name `datalab routes` lists")
        if route.state not in STATES:
            raise InvalidInput(where, f"unknown state {route.state!r}; use one of {', '.join(STATES)}")
        if route.state != "migrated" and not registry.flask_mounted:
            raise InvalidInput(where, "Flask is not loaded (LEGACY_MOUNT=off): every route stays migrated")
        if route.state in PORT_STATES and name not in registry.ported:
            raise InvalidInput(where, f"cannot be {route.state}: the route has no FastAPI port")
        if route.state == "canary" and (route.percent is None or not 1 <= route.percent <= 99):
            raise InvalidInput(where, "a canary needs a percent from 1 to 99")
        if route.state != "canary" and route.percent is not None:
            raise InvalidInput(where, "percent is for state canary only")


def change_states(
    session: Session,
    *,
    registry: Registry,
    wanted: Mapping[str, LiveRoute],
    actor: str,
    user_id: int | None,
    reason: str | None,
    action: str = "route.state_changed",
    only_from: Mapping[str, State] | None = None,
    details: Mapping[str, Any] | None = None,
) -> list[Change]:
    """Check every change, then apply them all and audit each; a refused one changes nothing.

    `only_from` applies a route's change only if it is still in that state (the guard's
    compare-and-set, so it never undoes a person's newer move).
    """
    check_wanted(registry, wanted)
    if not wanted:
        return []
    version = _lock_next_version(session)
    current = read_snapshot(session, registry)
    changes: list[Change] = []
    now = datetime.now(UTC)
    for name, after in wanted.items():
        before = current.of(name)
        if before == after or (only_from is not None and before.state != only_from.get(name)):
            continue
        row = session.get(RouteState, name) or RouteState(name=name)
        row.state, row.percent, row.version = after.state, after.percent, version
        row.changed_at, row.changed_by, row.reason = now, actor, reason
        session.add(row)
        changes.append(Change(name, before, after))
        entry = {"route": name, "from": before.label(), "to": after.label(), "by": actor, "reason": reason}
        audit.record(
            session,
            action,
            user_id=user_id,
            resource_type="route",
            resource_id=name,
            details={**entry, **(details or {})},
        )
    session.flush()
    return changes


def seed_states(session: Session, registry: Registry) -> list[Change]:
    """Add a row for every route that has none; let `ROUTE_STATES` win over the stored state.

    Each process runs this at first start, at the same time as its siblings: the insert
    ignores rows another one wrote first.
    """
    now = datetime.now(UTC)
    # Lock first: siblings inserting the same rows while one waits for the lock would deadlock.
    _lock_next_version(session)
    dialect: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    rows = [
        {"name": e.name, "state": e.state, "percent": e.percent, "version": 0, "changed_at": now}
        | {"changed_by": "registry", "reason": "first start"}
        for e in registry.routes.values()
    ]
    session.execute(dialect.insert(RouteState).values(rows).on_conflict_do_nothing(index_elements=["name"]))
    start = configured(registry)
    wanted = {name: start.of(name) for name in registry.from_environment}
    reason = "ROUTE_STATES is set at start-up"
    return change_states(
        session, registry=registry, wanted=wanted, actor="ROUTE_STATES", user_id=None, reason=reason
    )


def read_stamp(session: Session) -> Stamp:
    """Return what moves whenever a state changes: the highest version and the number of rows."""
    row = session.execute(select(func.max(RouteState.version), func.count()).select_from(RouteState)).one()
    return int(row[0] or 0), int(row[1])


def read_snapshot(session: Session, registry: Registry) -> Snapshot:
    """Return the stored states over the configured ones (a route without a row keeps its own)."""
    stamp = read_stamp(session)
    routes = dict(configured(registry).routes)
    for row in session.scalars(select(RouteState)):
        if row.name not in routes:
            continue  # a route this code no longer has
        if row.state not in STATES or (row.state in PORT_STATES and row.name not in registry.ported):
            # Written by a server with other code (a port this one lacks): Flask is the safe side.
            log.warning("route %s is %s in the database, which this server cannot serve", row.name, row.state)
            routes[row.name] = LEGACY
            continue
        routes[row.name] = LiveRoute(row.state, row.percent)
    return Snapshot(routes, stamp)


def _lock_next_version(session: Session) -> int:
    # Two writers at once must not share a version, or a poller could miss the second.
    # SQLite lets one writer at a time anyway; PostgreSQL needs the lock.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE route_states IN SHARE ROW EXCLUSIVE MODE"))
    return read_stamp(session)[0] + 1


class LiveStates:
    """This process's current snapshot, replaced whole when the table changes."""

    def __init__(self, registry: Registry, engine: Engine, *, poll_seconds: float) -> None:
        self.registry = registry
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.current = configured(registry)
        self._swap = threading.Lock()  # the watcher and a PATCH may refresh at once; never swap back
        self.listeners: list[Any] = []  # called with each new snapshot (the counters' state labels)
        self.seeded = False

    def seed(self) -> None:
        """Seed the table (first start of this process) and read it."""
        with Session(self.engine) as session, session.begin():
            for change in seed_states(session, self.registry):
                before, after = change.before.label(), change.after.label()
                log.warning("ROUTE_STATES moved %s from %s to %s", change.route, before, after)
        self.seeded = True
        self.refresh()

    def catch_up(self) -> None:
        """Seed (or refresh, once seeded); while the database does not answer, keep the snapshot."""
        try:
            if self.seeded:
                self.refresh()
            else:
                self.seed()
        except DBAPIError as exc:
            # The process must start and answer 503 on a dead database; the watcher seeds later.
            log.warning("live route states not read (%s); serving the configured ones", type(exc).__name__)

    def refresh(self) -> bool:
        """Read the table if its stamp moved and swap the snapshot; tell whether it changed."""
        with self._swap, Session(self.engine) as session:
            if read_stamp(session) == self.current.stamp:
                return False
            snapshot = read_snapshot(session, self.registry)
            changed = snapshot.routes != self.current.routes
            self.current = snapshot  # one reference assignment: a request sees the old or the new, whole
            if changed:
                for listener in self.listeners:
                    listener(snapshot)
            return changed

    async def watch(self) -> None:
        """Poll the stamp forever, every `poll_seconds`; a failed read is logged and retried."""
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await anyio.to_thread.run_sync(self.refresh if self.seeded else self.seed)
            except Exception:  # a database restarting must not stop the watcher for good
                log.exception("could not read the live route states; retrying")
