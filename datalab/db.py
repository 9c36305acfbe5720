"""Engines and sessions, configured the same way for both halves."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from datalab.settings import Settings


def engine_options(settings: Settings) -> dict[str, Any]:
    """Return `create_engine` keyword arguments for the configured database."""
    if settings.database.database_url.startswith("sqlite"):
        # SQLite's own locking serialises writers; wait for the lock rather than fail at once.
        return {"connect_args": {"timeout": 15, "check_same_thread": False}}
    options: dict[str, Any] = {
        "pool_size": settings.database.db_pool_size,
        "max_overflow": settings.database.db_max_overflow,
        "pool_pre_ping": True,
    }
    if settings.database.database_url.startswith("postgresql"):
        options["connect_args"] = {"application_name": settings.database.db_application_name}
    return options


def make_engine(settings: Settings) -> Engine:
    """Create the engine for `settings.database.database_url`, with SQLite's pragmas set."""
    engine = create_engine(settings.database.database_url, **engine_options(settings))
    watch_sqlite(engine)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return the session factory for `engine`."""
    return sessionmaker(engine, expire_on_commit=False)


def watch_sqlite(engine: Engine) -> None:
    """Turn on foreign keys and WAL on every new SQLite connection of `engine`."""
    if engine.dialect.name != "sqlite" or event.contains(engine, "connect", _sqlite_pragmas):
        return
    event.listen(engine, "connect", _sqlite_pragmas)


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    # SQLite's own lower() folds ASCII only; PostgreSQL's folds all of Unicode. Use Python's.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value
