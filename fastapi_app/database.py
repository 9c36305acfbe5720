"""FastAPI's async engine: the worker's DATABASE_URL on an async driver, one pool per event loop.

The sync engine (`datalab.db`) serves Flask, the CLI and the tests; this one serves the
async routes, which call the same sync services through `AsyncSession.run_sync`. An
AsyncEngine must not cross event loops, so the pooled engine is made by the lifespan of
the loop that serves (one per uvicorn worker). A loop without a lifespan (a test client
used without `with`) gets an engine without a pool, so nothing outlives its loop.

A pooled engine's connections are handed out in turn, first come first served, by a gate
in front of the pool: SQLAlchemy's async pool waits on an `asyncio.Queue`, where a request
that finds a connection just returned takes it at once, and the waiter woken for it finds
the queue empty and queues again at the back. Under load some requests waited seconds
(p99 about 2 s at 64 connections against 0.2 s at p50, `benchmarks/findings.md`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import URL, Engine, event, make_url
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from datalab.db import watch_sqlite
from datalab.settings import Settings

ASYNC_DRIVERS = {"postgresql": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}
Sessions = async_sessionmaker[AsyncSession]
_AS_APP: dict[str, Any] = {"expire_on_commit": False}


class Gate:
    """Lets at most `size` holders in at once, in the order they asked; waiting ends in PoolTimeout."""

    def __init__(self, size: int, timeout: float) -> None:
        # asyncio.Semaphore hands a released slot to its oldest waiter, and a newcomer queues
        # behind waiters even when a slot was just released (CPython 3.11.1 and later).
        self._slots = asyncio.Semaphore(size)
        self.timeout = timeout

    async def __aenter__(self) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # free: taken at once, no timer to arm
            return
        try:
            async with asyncio.timeout(self.timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise PoolTimeout(f"no database connection free within {self.timeout:g}s") from None

    async def __aexit__(self, *_: object) -> None:
        self._slots.release()


@dataclass(frozen=True)
class _Engine:
    engine: AsyncEngine
    sessions: Sessions
    gate: AbstractAsyncContextManager[Any]


def async_url(database_url: str) -> URL:
    """Return `database_url` with its backend's async driver (asyncpg, aiosqlite)."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend not in ASYNC_DRIVERS:
        raise ValueError(f"DATABASE_URL: no async driver for {backend} (PostgreSQL or SQLite only)")
    if backend == "postgresql" and "sslmode" in url.query:
        # libpq's spelling, which psycopg2 takes from the URL; asyncpg calls it `ssl`.
        query = {k: v for k, v in url.query.items() if k != "sslmode"}
        url = url.set(query={**query, "ssl": url.query["sslmode"]})
    return url.set(drivername=ASYNC_DRIVERS[backend])


def async_engine_options(settings: Settings, *, pooled: bool) -> dict[str, Any]:
    """Return `create_async_engine` keyword arguments: sized pool, or none at all."""
    if settings.database.database_url.startswith("sqlite"):
        options: dict[str, Any] = {"connect_args": {"timeout": 15}}
    else:
        options = {
            "pool_size": settings.database.db_async_pool_size,
            "max_overflow": settings.database.db_async_max_overflow,
            # No pre-ping: it costs a round trip per checkout. A connection the server dropped fails
            # its first statement instead; SQLAlchemy then invalidates the pool (a disconnect) and
            # the request answers 503 (`_unreachable_is_operational`, `edges/database.py`).
            "pool_pre_ping": False,
            "connect_args": {"server_settings": {"application_name": settings.database.db_application_name}},
        }
    if not pooled:
        return {"poolclass": NullPool, "connect_args": options["connect_args"]}
    return options


class AsyncDatabase:
    """The async engines of one app: a pooled one per serving loop, unpooled ones for other loops."""

    def __init__(self, settings: Settings, on_engine: Callable[[Engine], None] | None = None) -> None:
        self.settings = settings
        self.on_engine = on_engine  # told of each engine made (tracing instruments it)
        self.url = async_url(settings.database.database_url)
        self._pooled: dict[asyncio.AbstractEventLoop, _Engine] = {}
        self._unpooled: WeakKeyDictionary[asyncio.AbstractEventLoop, _Engine] = WeakKeyDictionary()

    async def start(self) -> None:
        """Open this loop's pooled engine (the app's lifespan calls it)."""
        loop = asyncio.get_running_loop()
        if loop not in self._pooled:
            self._pooled[loop] = self._build(pooled=True)

    async def stop(self) -> None:
        """Close this loop's pooled engine and its connections."""
        found = self._pooled.pop(asyncio.get_running_loop(), None)
        if found is not None:
            await found.engine.dispose()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """Yield a session of the running loop's engine once a connection is this caller's turn."""
        current = self._current()
        async with current.gate, current.sessions() as session:
            yield session

    @asynccontextmanager
    async def rolled_back_session(self) -> AsyncIterator[AsyncSession]:
        """Yield a session inside an outer transaction that is rolled back at the end, whatever happens.

        The session only joins the transaction ("rollback_only"): its commits flush but
        commit nothing, so a service that commits is undone too. The rollback is done
        when this returns, so on SQLite the write lock is free again.
        """
        current = self._current()
        async with current.gate, current.engine.connect() as connection:
            outer = await connection.begin()
            if connection.dialect.name == "sqlite":
                # pysqlite opens no transaction until the first INSERT/UPDATE/DELETE, so a service's
                # SAVEPOINT would open one and its RELEASE commit it. Open it now: all stays inside.
                # IMMEDIATE takes the write lock (waiting as any writer does): a deferred one would
                # fail at once, busy, on its first write if another connection wrote after it read.
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                joined = AsyncSession(connection, join_transaction_mode="rollback_only", **_AS_APP)
                async with joined as session, session.begin():
                    yield session
            finally:
                if outer.is_active:
                    await outer.rollback()

    def pooled_engines(self) -> list[Engine]:
        """Return the sync face of every pooled engine (for pool metrics)."""
        return [found.engine.sync_engine for found in self._pooled.values()]

    def _current(self) -> _Engine:
        loop = asyncio.get_running_loop()
        found = self._pooled.get(loop) or self._unpooled.get(loop)
        if found is None:
            found = self._unpooled[loop] = self._build(pooled=False)
        return found

    def _build(self, *, pooled: bool) -> _Engine:
        options = async_engine_options(self.settings, pooled=pooled)
        engine = create_async_engine(self.url, **options)
        watch_sqlite(engine.sync_engine)
        event.listen(engine.sync_engine, "do_connect", _unreachable_is_operational)
        if self.on_engine is not None:
            self.on_engine(engine.sync_engine)
        # Only a sized pool makes callers wait; SQLite's and unpooled engines open what they need.
        # The gate waits as long as the pool would (its timeout, then a 503).
        gate: AbstractAsyncContextManager[Any] = nullcontext()
        if "pool_size" in options:
            gate = Gate(options["pool_size"] + options["max_overflow"], engine.sync_engine.pool.timeout())  # type: ignore[attr-defined]
        return _Engine(engine, async_sessionmaker(engine, **_AS_APP), gate)


def _unreachable_is_operational(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
    # asyncpg reports a refused or timed-out connection as a bare OSError, and a server that is
    # starting or stopping as its own CannotConnectNowError, both of which SQLAlchemy passes
    # through. Any failure to connect is the DBAPI's OperationalError, as psycopg2 makes it:
    # the 503 both halves answer.
    try:
        return dialect.connect(*cargs, **cparams)
    except dialect.loaded_dbapi.OperationalError:
        raise
    except Exception as exc:  # the dialect's own translation included (CannotConnectNow is not operational)
        raise dialect.loaded_dbapi.OperationalError(type(exc).__name__) from exc
