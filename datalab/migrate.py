"""Alembic, driven from Datalab's settings: used by the CLI, the dev server and the tests."""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from datalab.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


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


def upgrade(settings: Settings, revision: str = "head") -> None:
    """Migrate the database up to `revision`."""
    command.upgrade(alembic_config(settings), revision)


def downgrade(settings: Settings, revision: str) -> None:
    """Migrate the database down to `revision`."""
    command.downgrade(alembic_config(settings), revision)


def current(settings: Settings) -> None:
    """Print the database's current revision."""
    command.current(alembic_config(settings), verbose=False)
