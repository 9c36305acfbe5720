"""`.env.example` is generated from the settings and lists every variable they read."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from datalab.settings import Settings
from datalab.settings.example import render
from datalab.settings.sources import groups, variable_names, variables

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_is_the_generated_one() -> None:
    committed = (ROOT / ".env.example").read_text()
    assert committed == render(), "run: uv run python -m datalab.settings.example > .env.example"


def test_every_setting_is_described_and_named_by_its_variable() -> None:
    for group, name, field in groups(Settings):
        assert field.description, f"{group}.{name} has no description"
        assert name in variable_names(name, field), f"{group}.{name} is not named by its variable"


def test_every_variable_appears_in_the_example() -> None:
    text = render()
    preferred = {variable_names(name, field)[0].upper() for _, name, field in groups(Settings)}
    missing = [name for name in preferred if f"{name}=" not in text]
    assert not missing
    assert len(set(variables(Settings))) == len(variables(Settings)), "two settings read one variable"


def test_flat_names_fill_their_groups(no_settings_in_environment: None, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, var_dir=tmp_path, query_timeout_s=5, smtp_port=2525)
    assert (settings.connectors.query_timeout_s, settings.mail.smtp_port) == (5, 2525)
    copy = settings.model_copy(update={"shadow_timeout": 1.5})
    assert copy.migration.shadow_timeout == 1.5
    assert copy.connectors.query_timeout_s == 5


def test_environment_fills_groups(no_settings_in_environment: None, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ROUTE_STATES", '{"GET /api/users/me": "shadow"}')
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    settings = Settings(_env_file=None, var_dir=tmp_path)
    assert settings.migration.route_states == {"GET /api/users/me": "shadow"}
    assert settings.edges.cors_origins == ["https://a.example", "https://b.example"]


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no such setting: QUERY_TIMEOUT"):
        Settings(_env_file=None, var_dir=tmp_path, query_timeout=5)
