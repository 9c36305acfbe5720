"""The rollback guard's judgement: each rule, the minimum sample, the window, and the migrated baseline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from datalab.settings.groups import MigrationSettings
from fastapi_app.migration.guard import RollbackGuard
from fastapi_app.migration.live import LiveRoute, LiveStates, Snapshot
from tests.fastapi_app.migration.conftest import migration_of

ME = "GET /api/users/me"
LEAST = 10


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """A hand-moved clock."""
    return Clock()


@pytest.fixture
def live(app: FastAPI) -> Iterator[LiveStates]:
    """The app's live states, restored after the test sets its own snapshot."""
    states = migration_of(app).live
    before = states.current
    yield states
    states.current = before


def guard_in(live: LiveStates, clock: Clock, state: str, percent: int | None = None) -> RollbackGuard:
    """A guard judging ME in `state` (a minimum sample of LEAST, a 60 s window)."""
    live.current = Snapshot({**live.current.routes, ME: LiveRoute(state, percent)})  # type: ignore[arg-type]
    settings = MigrationSettings(rollback_min_requests=LEAST, rollback_window_seconds=60.0)
    return RollbackGuard(live, settings, clock=clock)


def feed(guard: RollbackGuard, *, port: bool, count: int, failed: int = 0, seconds: float = 0.01) -> None:
    """Record `count` answers of one side, the first `failed` of them 5xx."""
    windows = guard._windows(ME)
    for i in range(count):
        (windows.port if port else windows.flask).add(guard.clock(), i < failed, seconds)


@pytest.mark.parametrize(
    ("port", "verdict"),
    [
        ({"count": LEAST - 1, "failed": LEAST - 1}, None),  # below the minimum sample: no judgement
        ({"count": 100, "failed": 3}, None),  # 3 % against Flask's 1 %: within 2 points
        ({"count": 100, "failed": 4}, {"rule": "5xx", "port_5xx_percent": 4.0, "flask_5xx_percent": 1.0}),
        ({"count": 100, "seconds": 0.019}, None),  # p99 under twice Flask's
        ({"count": 100, "seconds": 0.021}, {"rule": "latency", "port_p99_seconds": 0.021}),
    ],
)
def test_canary_compares_the_port_with_flask(
    live: LiveStates, clock: Clock, port: dict[str, Any], verdict: dict[str, Any] | None
) -> None:
    guard = guard_in(live, clock, "canary", 30)
    feed(guard, port=False, count=100, failed=1, seconds=0.01)
    feed(guard, port=True, **port)

    found = guard.verdict(ME)

    if verdict is None:
        assert found is None
    else:
        assert found is not None
        assert {k: found[k] for k in verdict} == verdict


def test_old_answers_leave_the_window(live: LiveStates, clock: Clock) -> None:
    guard = guard_in(live, clock, "canary", 30)
    feed(guard, port=True, count=LEAST, failed=LEAST)
    clock.now += 61

    assert guard.verdict(ME) is None


def test_migrated_keeps_flasks_last_window_as_the_baseline(live: LiveStates, clock: Clock) -> None:
    guard = guard_in(live, clock, "migrated")
    feed(guard, port=False, count=50, seconds=0.01)
    clock.now += 600  # long after Flask stopped serving the route
    feed(guard, port=True, count=50, seconds=0.05)

    found = guard.verdict(ME)

    assert found is not None
    assert (found["rule"], found["flask_p99_seconds"]) == ("latency", 0.01)


def test_migrated_without_a_flask_baseline_compares_errors_with_zero(live: LiveStates, clock: Clock) -> None:
    guard = guard_in(live, clock, "migrated")
    feed(guard, port=True, count=100, failed=2, seconds=5.0)
    assert guard.verdict(ME) is None  # 2 % is not more than 2 points; no latency rule without Flask

    feed(guard, port=True, count=1, failed=1)
    found = guard.verdict(ME)
    assert found is not None
    assert (found["rule"], found["flask_requests"]) == ("5xx", 0)


@pytest.mark.parametrize(("mismatches", "rolled_back"), [(1, False), (2, True)])
def test_shadow_mismatches_over_the_limit(
    live: LiveStates, clock: Clock, mismatches: int, rolled_back: bool
) -> None:
    guard = guard_in(live, clock, "shadow")
    shadow = guard._windows(ME).shadow
    for i in range(100):
        shadow.add(clock(), i < mismatches, 0.0)

    found = guard.verdict(ME)

    assert (found is not None) is rolled_back
    if found is not None:
        assert (found["rule"], found["mismatch_percent"], found["compared"]) == ("mismatches", 2.0, 100)


def test_the_guard_leaves_a_legacy_route_alone(live: LiveStates, clock: Clock) -> None:
    guard = guard_in(live, clock, "legacy")
    feed(guard, port=True, count=100, failed=100)

    assert guard.verdict(ME) is None
