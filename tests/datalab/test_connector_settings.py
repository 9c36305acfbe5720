"""Connector settings: network lists checked at start-up, the keys' two names, limits from settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from datalab.connectors.service import limits_from
from datalab.settings import Settings

FERNET = Fernet.generate_key().decode()


pytestmark = pytest.mark.usefixtures("no_settings_in_environment")


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, var_dir=tmp_path, **values)


@pytest.mark.parametrize("name", ["data_source_allow_networks", "data_source_deny_networks"])
def test_bad_network_list_refused_at_start(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValidationError, match="entry 2 is not an IP address or a network in CIDR form"):
        _settings(tmp_path, **{name: "127.0.0.0/8, 10.0.0.0/33"})


def test_network_lists_split_on_commas(tmp_path: Path) -> None:
    settings = _settings(tmp_path, data_source_allow_networks=" 127.0.0.0/8 ,::1/128,")
    assert settings.connectors.data_source_allow_networks == ["127.0.0.0/8", "::1/128"]
    assert settings.connectors.data_source_deny_networks == []


def test_data_encryption_keys_is_read_from_either_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATA_ENCRYPTION_KEYS", FERNET)
    assert _settings(tmp_path).security.fernet_keys == [FERNET]
    monkeypatch.delenv("DATA_ENCRYPTION_KEYS")
    monkeypatch.setenv("ENCRYPTION_KEYS", FERNET)
    assert _settings(tmp_path).security.fernet_keys == [FERNET]


def test_production_names_the_documented_key_setting(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="DATA_ENCRYPTION_KEYS must be set"):
        _settings(tmp_path, env="production", jwt_secret_key="9f" * 24, database_url="sqlite:///x.db")


def test_limits_refuse_the_apps_own_postgres_database(tmp_path: Path) -> None:
    url = "postgresql+psycopg2://app:pw@db.internal/datalab"
    limits = limits_from(_settings(tmp_path, database_url=url, query_timeout_s=5, query_max_rows=10))
    assert limits.own_endpoints == (("db.internal", 5432),)
    assert limits.own_databases == (("db.internal", 5432, "datalab"),)
    assert (limits.query_timeout_s, limits.max_rows, limits.own_files) == (5, 10, ())
    assert limits.data_dir == (tmp_path / "data").resolve()


def test_limits_refuse_the_apps_own_sqlite_file(tmp_path: Path) -> None:
    limits = limits_from(_settings(tmp_path, data_dir=tmp_path / "files"))
    assert limits.own_files == ((tmp_path / "datalab.db").resolve(),)
    assert limits.own_endpoints == ()
    assert limits.data_dir == (tmp_path / "files").resolve()


def test_query_guard_settings_reach_the_connectors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUERY_EXTRA_FUNCTIONS", '{"postgresql": ["version", "analytics.score"]}')
    monkeypatch.setenv("DATA_SOURCE_ALLOW_PRIVILEGED", "true")
    settings = _settings(tmp_path, database_url="postgresql+asyncpg://app:Pw-1@db.internal:5433/datalab")
    limits = limits_from(settings)
    assert limits.extra_functions == {"postgresql": frozenset({"version", "analytics.score"})}
    assert limits.allow_privileged is True
    assert limits.own_role == "app"
    assert limits.own_postgres_url == "postgresql+asyncpg://app:Pw-1@db.internal:5433/datalab"
    assert "Pw-1" not in repr(limits)


def test_query_guard_defaults_are_safe(tmp_path: Path) -> None:
    limits = limits_from(_settings(tmp_path))
    assert (limits.extra_functions, limits.allow_privileged, limits.own_postgres_url) == ({}, False, "")


def test_extra_functions_for_an_unknown_dialect_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="dialects must be postgresql, mysql, sqlite or duckdb"):
        _settings(tmp_path, query_extra_functions={"oracle": ["f"]})
