"""The Alembic tree: it agrees with the models, and goes up and down on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.fernet import Fernet
from fastapi import FastAPI
from sqlalchemy import create_engine, inspect

from datalab import migrate
from datalab.settings import Settings
from shared_models import Base

TABLES = {
    "alembic_version",
    "analysis_results",
    "analysis_tasks",
    "audit_log",
    "auth_session",
    "data_source",
    "dataset",
    "dataset_version",
    "integration",
    "password_reset_token",
    "project",
    "project_member",
    "revoked_token",
    "route_states",
    "route_stats",
    "shadow_mismatch",
    "user_account",
}


def _settings(database_url: str, var_dir: Path) -> Settings:
    return Settings(
        _env_file=None,
        env="test",
        var_dir=var_dir,
        database_url=database_url,
        jwt_secret_key="k" * 40,
        encryption_keys=Fernet.generate_key().decode(),
    )


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _assert_round_trip(settings: Settings) -> None:
    migrate.upgrade(settings)
    assert _tables(settings.database.database_url) == TABLES
    migrate.downgrade(settings, "base")
    assert _tables(settings.database.database_url) == {"alembic_version"}
    migrate.upgrade(settings)
    assert _tables(settings.database.database_url) == TABLES


def test_models_and_migrations_agree(app: FastAPI) -> None:
    with app.state.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_and_downgrade_on_sqlite(tmp_path: Path) -> None:
    _assert_round_trip(_settings(f"sqlite:///{tmp_path / 'fresh.db'}", tmp_path))


@pytest.mark.postgres
def test_upgrade_and_downgrade_on_postgresql(scratch_postgres_url: str, tmp_path: Path) -> None:
    settings = _settings(scratch_postgres_url, tmp_path)
    _assert_round_trip(settings)
    engine = create_engine(scratch_postgres_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
