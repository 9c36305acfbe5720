"""Alembic environment: one tree for SQLite and PostgreSQL, URL from Datalab's settings."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from datalab.db import make_engine
from datalab.settings import Settings, get_settings
from shared_models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def run_migrations(connection: Connection) -> None:
    """Run the migrations on an open connection."""
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode recreates tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # `datalab db upgrade` prints each step it applies.
        on_version_apply=config.attributes.get("on_version_apply"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Emit SQL for the configured URL without connecting."""
    settings: Settings = config.attributes.get("settings") or get_settings()
    context.configure(url=settings.database.database_url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Connect (or reuse the caller's connection) and migrate."""
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    settings: Settings = config.attributes.get("settings") or get_settings()
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
