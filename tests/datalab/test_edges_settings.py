"""Edge settings: comma-separated lists from the environment, and refusals at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from datalab.settings import Settings

pytestmark = pytest.mark.usefixtures("no_settings_in_environment")


def test_lists_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example.com, https://b.example.com")
    monkeypatch.setenv("ALLOWED_HOSTS", "api.example.com,127.0.0.1")
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/8")
    settings = Settings(_env_file=None, var_dir=tmp_path)
    assert settings.edges.cors_origins == ["https://a.example.com", "https://b.example.com"]
    assert settings.edges.allowed_hosts == ["api.example.com", "127.0.0.1"]
    assert settings.edges.trusted_proxies == ["10.0.0.0/8"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"cors_origins": "*", "cors_allow_credentials": True}, "CORS_ORIGINS may not contain"),
        ({"trusted_proxies": "10.0.0.0/33"}, "entry 1 is not an IP address or a network in CIDR form"),
        ({"metrics_allow": "10.0.0.1, localhost"}, "entry 2 is not an IP address or a network"),
        ({"rate_limit_login": "ten per minute"}, "must be N/second|minute|hour|day"),
        ({"hsts_seconds": -1}, "greater than or equal to 0"),
    ],
)
def test_bad_edge_settings_are_refused(tmp_path: Path, values: dict[str, Any], message: str) -> None:
    with pytest.raises((ValidationError, ValueError), match=message):
        Settings(_env_file=None, var_dir=tmp_path, **values)


@pytest.mark.parametrize(
    ("env", "json_logs"), [("development", False), ("test", False), ("production", True)]
)
def test_log_format_defaults_by_environment(tmp_path: Path, env: str, json_logs: bool) -> None:
    secrets: dict[str, Any] = {
        "jwt_secret_key": "9f" * 24,
        "encryption_keys": "x" * 44,
        "database_url": "sqlite:///x.db",
    }
    settings = Settings(_env_file=None, var_dir=tmp_path, env=env, **secrets)
    assert settings.logs_as_json is json_logs
    console = Settings(_env_file=None, var_dir=tmp_path, env=env, log_format="console", **secrets)
    assert console.logs_as_json is False
