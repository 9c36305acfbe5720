"""One sync pool per worker: Flask-SQLAlchemy runs on the app's engine, and PostgreSQL sees one pool."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask
from sqlalchemy.exc import TimeoutError as PoolTimeout

from datalab import migrate
from datalab.settings import Settings
from fastapi_app.database import AsyncDatabase, Gate
from fastapi_app.main import create_app
from legacy_flask.extensions import db as flask_db
from shared_models import Role
from tests.helpers import PASSWORD, Accounts
from tests.postgres import connections_named, scratch_postgres

POOLS = {"pool_size": 2, "max_overflow": 0, "async_pool_size": 2, "async_max_overflow": 0}


def test_flask_runs_on_the_apps_own_engine(app: FastAPI, flask_app: Flask) -> None:
    with flask_app.app_context():
        assert flask_db.engine is app.state.engine


def test_the_async_engine_opens_the_same_database(app: FastAPI) -> None:
    sync_url, async_url = app.state.engine.url, app.state.database.url
    assert async_url.get_driver_name() in {"asyncpg", "aiosqlite"}
    assert (async_url.host, async_url.port, async_url.database) == (
        sync_url.host,
        sync_url.port,
        sync_url.database,
    )


@pytest.mark.postgres
def test_postgres_connections_of_a_worker_fit_one_pool(settings: Settings, tmp_path: Path) -> None:
    name = f"datalab_pool_{uuid.uuid4().hex[:8]}"
    with scratch_postgres("datalab_pool") as url:
        own = settings.model_copy(
            update={
                "database_url": url,
                "db_application_name": name,
                **{f"db_{kind}": n for kind, n in POOLS.items()},
            }
        )
        migrate.upgrade(own)
        app = create_app(own)
        try:
            with app.state.sessionmaker() as session:
                user = Accounts(app, session).create("pool@example.com", Role.USER)
                headers = Accounts(app, session).headers(user)
            with TestClient(app) as client:
                paths = ["/api/data-sources", "/api/v1/data-sources", "/api/users/me", "/api/v1/auth/profile"]
                with ThreadPoolExecutor(8) as workers:
                    answers = list(workers.map(lambda p: client.get(p, headers=headers), paths * 10))
                assert {a.status_code for a in answers} == {200}
                credentials = {"email": "pool@example.com", "password": PASSWORD}
                login = client.post("/api/auth/login", json=credentials)
                assert login.status_code == 200
                # Both halves served traffic: one sync pool of two and one async pool of two, no more.
                assert 2 <= connections_named(name) <= 4
            # At shutdown the lifespan closes both pools.
            assert connections_named(name) == 0
        finally:
            app.state.engine.dispose()


async def _turns(database: AsyncDatabase) -> list[str]:
    """Hold the only connection while three callers queue, then come straight back for it."""
    await database.start()
    served: list[str] = []

    async def caller(name: str) -> None:
        async with database.session() as session:
            await session.connection()
            served.append(name)

    try:
        async with database.session() as session:
            await session.connection()
            queued = [asyncio.create_task(caller(f"caller {n}")) for n in (1, 2, 3)]
            await asyncio.sleep(0.2)  # all three are waiting for the connection
        # The connection is back and caller 1 was told so, but has not run yet: ask again at once.
        async with database.session() as session:
            await session.connection()
            served.append("holder again")
        await asyncio.gather(*queued)
    finally:
        await database.stop()
    return served


@pytest.mark.postgres
def test_async_connections_are_handed_out_in_turn(settings: Settings) -> None:
    """Callers get the pool's connections in the order they asked for them."""
    with scratch_postgres("datalab_turns") as url:
        own = settings.model_copy(
            update={"database_url": url, "db_async_pool_size": 1, "db_async_max_overflow": 0}
        )
        served = asyncio.run(_turns(AsyncDatabase(own)))

    assert served == ["caller 1", "caller 2", "caller 3", "holder again"]


def test_a_caller_back_at_once_cannot_jump_the_queue() -> None:
    """A slot given back is the oldest waiter's, even if its giver asks again before that waiter runs.

    SQLAlchemy's async pool lets such a caller take the connection back (its queue is an
    `asyncio.Queue`), and the waiter queues again at the back: the long tail this gate removes.
    """

    async def turns() -> list[str]:
        gate, served = Gate(1, timeout=30), []

        async def waiter(name: str) -> None:
            async with gate:
                served.append(name)

        async with gate:
            queued = [asyncio.create_task(waiter(f"waiter {n}")) for n in (1, 2)]
            await asyncio.sleep(0)  # both are waiting
        async with gate:  # no await between giving the slot back and asking again
            served.append("holder again")
        await asyncio.gather(*queued)
        return served

    assert asyncio.run(turns()) == ["waiter 1", "waiter 2", "holder again"]


def test_waiting_too_long_for_a_connection_is_the_pools_timeout() -> None:
    """A caller still waiting after the pool's timeout gets the error a 503 is made of."""

    async def wait_behind_a_holder() -> None:
        gate = Gate(1, timeout=0.1)
        async with gate:
            async with gate:
                pass

    with pytest.raises(PoolTimeout, match="no database connection free within 0.1s"):
        asyncio.run(wait_behind_a_holder())
