"""Settings: development defaults kept in var/, and a production server that refuses weak secrets."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from datalab.settings import Settings

STRONG = "9f" * 24
FERNET = Fernet.generate_key().decode()


pytestmark = pytest.mark.usefixtures("no_settings_in_environment")


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_development_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = _settings(var_dir=tmp_path)
    second = _settings(var_dir=tmp_path)
    assert first.security.jwt_secret == second.security.jwt_secret
    assert len(first.security.jwt_secret.encode()) >= 32
    assert first.security.fernet_keys == second.security.fernet_keys
    secret_file = tmp_path / "jwt_secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600


def test_development_database_defaults_to_sqlite_in_var(tmp_path: Path) -> None:
    settings = _settings(var_dir=tmp_path)
    assert settings.database.database_url == f"sqlite:///{tmp_path.resolve() / 'datalab.db'}"


def test_relative_sqlite_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = _settings(var_dir=tmp_path, database_url="sqlite:///rel.db")
    assert settings.database.database_url == f"sqlite:///{tmp_path.resolve() / 'rel.db'}"


def test_explicit_secret_wins_over_the_kept_one(tmp_path: Path) -> None:
    settings = _settings(var_dir=tmp_path, jwt_secret_key=STRONG)
    assert settings.security.jwt_secret == STRONG
    assert not (tmp_path / "jwt_secret").exists()


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (None, "JWT_SECRET_KEY must be set"),
        ("short-secret", "JWT_SECRET_KEY must be set to at least 32 bytes"),
        ("change-me-" + "x" * 40, "looks like a placeholder"),
    ],
)
def test_production_refuses_missing_short_or_placeholder_secret(
    tmp_path: Path, secret: str | None, problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        _settings(
            env="production",
            var_dir=tmp_path,
            jwt_secret_key=secret,
            encryption_keys=FERNET,
            database_url="postgresql://db/datalab",
        )
    assert not (tmp_path / "jwt_secret").exists()


def test_production_requires_encryption_keys_and_database(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="ENCRYPTION_KEYS"):
        _settings(env="production", var_dir=tmp_path, jwt_secret_key=STRONG, database_url="postgresql://db/x")
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        _settings(env="production", var_dir=tmp_path, jwt_secret_key=STRONG, encryption_keys=FERNET)


def test_production_accepts_strong_settings(tmp_path: Path) -> None:
    settings = _settings(
        env="production",
        var_dir=tmp_path,
        jwt_secret_key=STRONG,
        encryption_keys=FERNET,
        database_url="postgresql://db/datalab",
    )
    assert settings.security.jwt_secret == STRONG


@pytest.mark.parametrize("rounds", [4, 9, 17])
def test_bcrypt_rounds_out_of_range_refused(tmp_path: Path, rounds: int) -> None:
    with pytest.raises(ValidationError, match="bcrypt_rounds"):
        _settings(var_dir=tmp_path, bcrypt_rounds=rounds)


def test_settings_read_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESS_TTL", "600")
    monkeypatch.setenv("REFRESH_TTL", "7200")
    monkeypatch.setenv("BCRYPT_ROUNDS", "11")
    settings = _settings(var_dir=tmp_path)
    assert (settings.security.access_ttl, settings.security.refresh_ttl, settings.security.bcrypt_rounds) == (
        600,
        7200,
        11,
    )
