"""Reading the settings as a process does: older services' variables and pasted database URLs."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from datalab.settings import Settings, load_settings
from datalab.settings_env import ALIASES, RETIRED, SettingsProblems, environment, startup_warnings

STRONG = "9f" * 24


@pytest.fixture(autouse=True)
def _empty_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    names = {name.upper() for name in Settings.model_fields} | {"DATA_ENCRYPTION_KEYS", "ENCRYPTION_KEYS"}
    names |= {alias.name for alias in ALIASES} | set(RETIRED)
    names |= {"POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"}
    names |= {"REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_PASSWORD"}
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))


@pytest.mark.parametrize(
    ("pasted", "used"),
    [
        ("postgresql://user@db.example.com/datalab", "postgresql+psycopg2://user@db.example.com/datalab"),
        ("postgres://user:pw@db.example.com:6543/x", "postgresql+psycopg2://user:pw@db.example.com:6543/x"),
        ("postgresql+psycopg2://u@h/d", "postgresql+psycopg2://u@h/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("mysql+pymysql://u@h/d", "mysql+pymysql://u@h/d"),
    ],
)
def test_bare_postgres_urls_use_the_installed_driver(
    monkeypatch: pytest.MonkeyPatch, pasted: str, used: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", pasted)
    assert load_settings(None).database.database_url == used


def test_postgres_parts_build_the_url_when_it_is_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "POSTGRES_HOST": "db.internal",
        "POSTGRES_PORT": "6543",
        "POSTGRES_DB": "datalab",
        "POSTGRES_USER": "app",
        "POSTGRES_PASSWORD": "p@ss/word",
    }.items():
        monkeypatch.setenv(name, value)
    assert (
        load_settings(None).database.database_url
        == "postgresql+psycopg2://app:p%40ss%2Fword@db.internal:6543/datalab"
    )
    monkeypatch.setenv("DATABASE_URL", "postgresql://other@h/d")  # the whole URL wins
    assert load_settings(None).database.database_url == "postgresql+psycopg2://other@h/d"


def test_older_names_are_read_with_their_units(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET", STRONG)
    monkeypatch.setenv("ACCESS_TOKEN_EXPIRE_MINUTES", "30")
    monkeypatch.setenv("REFRESH_TOKEN_EXPIRE_DAYS", "2")
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://a.example.com, https://b.example.com")
    monkeypatch.setenv("REDIS_HOST", "cache.internal")
    monkeypatch.setenv("REDIS_PORT", "6380")
    settings = load_settings(None)
    assert settings.security.jwt_secret == STRONG
    assert (settings.security.access_ttl, settings.security.refresh_ttl) == (1_800, 172_800)
    assert settings.edges.cors_origins == ["https://a.example.com", "https://b.example.com"]
    assert settings.edges.redis_url == "redis://cache.internal:6380/0"
    warnings = startup_warnings(environment(None))
    assert "JWT_SECRET is read as JWT_SECRET_KEY; rename it to JWT_SECRET_KEY" in warnings
    assert "ACCESS_TOKEN_EXPIRE_MINUTES is read as ACCESS_TTL; rename it to ACCESS_TTL" in warnings


def test_own_names_win_over_older_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET_KEY", STRONG)
    monkeypatch.setenv("JWT_SECRET", "x" * 40)
    monkeypatch.setenv("SECRET_KEY", "y" * 40)
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("ENCRYPTION_KEYS", key)  # our older name, before an alias
    monkeypatch.setenv("ENCRYPTION_KEY", Fernet.generate_key().decode())
    settings = load_settings(None)
    assert settings.security.jwt_secret == STRONG
    assert settings.security.fernet_keys == [key]


def test_variables_without_a_clean_mapping_are_named_with_their_replacement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLASK_ENV", "production")
    monkeypatch.setenv("PORT", "5000")
    assert startup_warnings(environment(None)) == [
        "FLASK_ENV is not read by Datalab; set ENV (development, test or production)",
        "PORT is not read by Datalab; set the --port option of `datalab serve`",
    ]


def test_jwt_algorithm_other_than_hs256_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_ALGORITHM", "HS256")
    assert load_settings(None).security.jwt_algorithm == "HS256"
    monkeypatch.setenv("JWT_ALGORITHM", "RS256")
    with pytest.raises(SettingsProblems) as refused:
        load_settings(None)
    assert refused.value.lines == ["JWT_ALGORITHM: Input should be 'HS256'"]
    assert refused.value.__context__ is None  # no chained ValidationError to print a value


def test_a_converted_value_that_breaks_a_rule_names_the_variable_the_operator_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACCESS_TOKEN_EXPIRE_MINUTES", "0")
    with pytest.raises(SettingsProblems) as refused:
        load_settings(None)
    assert refused.value.lines == [
        "ACCESS_TOKEN_EXPIRE_MINUTES (read as ACCESS_TTL): Input should be greater than or equal to 60"
    ]


def test_first_run_guide_lists_every_older_variable() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "first-run.md").read_text()
    names = [alias.name for alias in ALIASES] + list(RETIRED) + ["POSTGRES_DB", "REDIS_HOST"]
    assert [name for name in names if f"`{name}`" not in guide] == []
