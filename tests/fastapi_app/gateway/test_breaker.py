"""The circuit breaker's rules, on a clock the test moves (the proxy tests run it against real upstreams)."""

from __future__ import annotations

from fastapi_app.gateway.breaker import CircuitBreaker, State


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        """Return the time."""
        return self.now


def state_of(breaker: CircuitBreaker) -> State:
    """Return the breaker's state (read through a call, so each check reads it afresh)."""
    return breaker.state


def _breaker(clock: Clock, moves: list[tuple[State, State]]) -> CircuitBreaker:
    return CircuitBreaker(threshold=3, cooldown=10, clock=clock, on_change=lambda a, b: moves.append((a, b)))


def test_opens_after_threshold_consecutive_failures_only() -> None:
    clock, moves = Clock(), list[tuple[State, State]]()
    breaker = _breaker(clock, moves)
    breaker.failure()
    breaker.failure()
    breaker.success()  # a success in between starts the count again
    breaker.failure()
    breaker.failure()
    assert breaker.allow()
    assert state_of(breaker) == "closed"
    breaker.failure()
    assert state_of(breaker) == "open"
    assert not breaker.allow()
    assert breaker.retry_after() == 10
    assert moves == [("closed", "open")]


def test_one_probe_after_the_cool_down_then_closed_on_success() -> None:
    clock, moves = Clock(), list[tuple[State, State]]()
    breaker = _breaker(clock, moves)
    for _ in range(3):
        breaker.failure()
    clock.now += 10
    assert breaker.available()
    assert breaker.allow()  # the probe
    assert state_of(breaker) == "half_open"
    assert not breaker.allow()  # everyone else waits for the probe
    breaker.success()
    assert state_of(breaker) == "closed"
    assert breaker.allow()
    assert moves == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]


def test_failed_probe_opens_again_and_a_hung_probe_gets_a_successor() -> None:
    clock, moves = Clock(), list[tuple[State, State]]()
    breaker = _breaker(clock, moves)
    for _ in range(3):
        breaker.failure()
    clock.now += 10
    assert breaker.allow()
    breaker.failure()
    assert state_of(breaker) == "open"
    assert not breaker.allow()
    clock.now += 10
    assert breaker.allow()  # a probe that never reports back...
    clock.now += 9
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()  # ...is replaced after another cool-down
