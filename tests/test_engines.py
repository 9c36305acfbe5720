"""One sync pool per worker: Flask-SQLAlchemy runs on the app's engine, and PostgreSQL sees one pool."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask

from datalab import migrate
from datalab.settings import Settings
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
