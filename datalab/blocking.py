"""Blocking work inside sync services, kept off the event loop when an async route runs the service.

Services are sync functions that both halves call. Flask calls them on its own threads,
where blocking is fine. FastAPI's async routes call them through `AsyncSession.run_sync`,
inside a greenlet on the event loop: there a blocking call would stall every request,
so it is handed to a thread and awaited through SQLAlchemy's greenlet bridge instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from typing import TypeVar
from weakref import WeakKeyDictionary

import anyio.to_thread
from anyio import CapacityLimiter
from sqlalchemy.util import await_
from sqlalchemy.util.concurrency import in_greenlet

T = TypeVar("T")


class ThreadLane:
    """A bounded set of threads for one kind of blocking work (bcrypt), used only under the bridge."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        # AnyIO's limiters belong to one event loop; tests run several loops over one app.
        self._limiters: WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter] = WeakKeyDictionary()

    def call(self, work: Callable[..., T], *args: object) -> T:
        """Return `work(*args)`: directly on a thread, on one of this lane's threads under the bridge."""
        if not in_greenlet():
            return work(*args)
        return await_(anyio.to_thread.run_sync(partial(work, *args), limiter=self._limiter()))

    def _limiter(self) -> CapacityLimiter:
        loop = asyncio.get_running_loop()
        limiter = self._limiters.get(loop)
        if limiter is None:
            limiter = self._limiters[loop] = CapacityLimiter(self.threads)
        return limiter


def wait_for(future: Future[T], timeout: float) -> T:
    """Wait for `future` at most `timeout` seconds, without blocking the event loop under the bridge."""
    if not in_greenlet():
        return future.result(timeout=timeout)
    return await_(asyncio.wait_for(asyncio.wrap_future(future), timeout))
