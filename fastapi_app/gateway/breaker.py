"""A circuit breaker per upstream instance: closed, open after N consecutive failures, one probe, closed.

Written here rather than taken from a library: pybreaker holds a lock around the
protected call (concurrent calls serialize) and has no asyncio support, aiobreaker is
unmaintained since 2021, and purgatory lets every request through while half-open. This
one is not a wrapper around a call: the proxy asks `allow()` before it sends and reports
`success()` or `failure()` when the answer (or the error) arrives, so no lock is needed
on one event loop and nothing is held while the upstream works.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; after `cooldown` seconds lets one probe through."""

    def __init__(
        self,
        *,
        threshold: int,
        cooldown: float,
        on_change: Callable[[State, State], None] = lambda old, new: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self.on_change = on_change
        self.clock = clock
        self.state: State = "closed"
        self.failures = 0
        self._until = 0.0  # open: when a probe may go; half-open: when a hung probe gets a successor

    def allow(self) -> bool:
        """Tell whether a request may go to this instance now (the first after a cool-down is the probe)."""
        if self.state == "closed":
            return True
        now = self.clock()
        if now < self._until:
            return False
        # The cool-down is over (or the last probe hung that long): this request is the probe.
        self._until = now + self.cooldown
        self._move("half_open")
        return True

    def available(self) -> bool:
        """Tell, without taking the probe slot, whether `allow()` would let a request through."""
        return self.state == "closed" or self.clock() >= self._until

    def success(self) -> None:
        """Record an answer: the circuit closes and the failure count starts again."""
        self.failures = 0
        if self.state != "closed":
            self._move("closed")

    def failure(self) -> None:
        """Record a failure: the probe's failure or the threshold-th in a row opens the circuit."""
        self.failures += 1
        if self.state == "half_open" or (self.state == "closed" and self.failures >= self.threshold):
            self._until = self.clock() + self.cooldown
            self._move("open")

    def retry_after(self) -> int:
        """Return whole seconds until a probe may go (at least 1)."""
        return max(1, math.ceil(self._until - self.clock()))

    def _move(self, new: State) -> None:
        old, self.state = self.state, new
        if old != new:
            self.on_change(old, new)
