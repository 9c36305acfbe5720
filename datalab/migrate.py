"""Alembic, driven from Datalab's settings: used by the CLI, the dev server and the tests.

Upgrades and downgrades hold a lock so that several hosts (or processes) starting at once
migrate exactly once: a PostgreSQL advisory lock, or on SQLite a file lock beside the
database (SQLite is single-host, so a file lock covers every process that can reach it).
"""

from __future__ import annotations

import fcntl
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from datalab.db import make_engine
from datalab.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# Any fixed 64-bit number, the same in every Datalab process: b"datalab\0" read as an integer.
ADVISORY_LOCK_KEY = 0x646174616C616200
Report = Callable[[str], None]


def alembic_config(settings: Settings, *, connection: Connection | None = None) -> Config:
    """Return an Alembic config for the migrations tree and `settings.database.database_url`."""
    # Alembic's default stdout is bound when it is imported; use the one in force now.
    config = Config(str(ROOT / "alembic.ini"), stdout=sys.stdout)
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["settings"] = settings
    config.attributes["configure_logging"] = False
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(settings: Settings, revision: str = "head", *, report: Report | None = None) -> int:
    """Migrate the database up to `revision` under the migration lock; return the steps applied."""
    return _run(settings, command.upgrade, revision, report)


def downgrade(settings: Settings, revision: str, *, report: Report | None = None) -> int:
    """Migrate the database down to `revision` under the migration lock; return the steps undone."""
    return _run(settings, command.downgrade, revision, report)


def current(settings: Settings) -> None:
    """Print the database's current revision."""
    command.current(alembic_config(settings), verbose=False)


@cache
def code_revisions() -> tuple[str, frozenset[str]]:
    """Return the newest revision the code knows, and every revision it knows."""
    scripts = ScriptDirectory(str(ROOT / "migrations"))
    newest = scripts.get_current_head()
    assert newest is not None, "the migrations tree has one head"
    return newest, frozenset(script.revision for script in scripts.walk_revisions())


@dataclass(frozen=True)
class SchemaState:
    """Where the database's schema stands against the code: ok, behind or ahead."""

    status: str
    current: str | None
    head: str

    def as_json(self) -> dict[str, Any]:
        """Return the state as the health checks show it."""
        return {"status": self.status, "current": self.current, "head": self.head}


def schema_state(connection: Connection) -> SchemaState:
    """Compare the revision stored in the database (none before the first upgrade) with the head."""
    newest, known = code_revisions()
    stored = MigrationContext.configure(connection).get_current_revision()
    if stored == newest:
        return SchemaState("ok", stored, newest)
    # A revision this code does not know was written by newer code.
    return SchemaState("behind" if stored is None or stored in known else "ahead", stored, newest)


def downgrade_steps(settings: Settings, revision: str) -> int:
    """Return how many revisions a downgrade to `revision` would revert."""
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            stored = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    if stored is None:
        return 0
    scripts = ScriptDirectory(str(ROOT / "migrations"))
    return len(list(scripts.iterate_revisions(stored, revision)))


def _run(settings: Settings, step: Callable[..., None], revision: str, report: Report | None) -> int:
    applied: list[str] = []

    def on_apply(*, step: Any, **_: Any) -> None:
        source = ", ".join(step.source_revision_ids) or "base"
        destination = ", ".join(step.destination_revision_ids) or "base"
        script = step.up_revision
        what = "Applied" if step.is_upgrade else "Reverted"
        line = f"{what} {source} -> {destination}: {script.doc if script else ''}".rstrip(": ")
        applied.append(line)
        if report is not None:
            report(line)

    engine = make_engine(settings)
    try:
        with _migration_lock(settings), engine.connect() as connection:
            with _advisory_lock(connection):
                config = alembic_config(settings, connection=connection)
                config.attributes["on_version_apply"] = on_apply
                step(config, revision)
                connection.commit()
    finally:
        engine.dispose()
    return len(applied)


@contextmanager
def _advisory_lock(connection: Connection) -> Iterator[None]:
    # Session-level, so it holds across the transactions Alembic commits; released on the way out.
    if connection.dialect.name != "postgresql":
        yield
        return
    connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    connection.commit()
    try:
        yield
    finally:
        connection.rollback()
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
        connection.commit()


@contextmanager
def _migration_lock(settings: Settings) -> Iterator[None]:
    url = make_url(settings.database.database_url)
    path = url.database if url.get_backend_name() == "sqlite" else None
    if not path or path == ":memory:" or path.startswith("file:"):
        yield
        return
    lock = Path(path).with_name(Path(path).name + ".migrate-lock")
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
