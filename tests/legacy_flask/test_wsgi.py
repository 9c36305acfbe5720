"""The WSGI entry point of the Flask app alone, built from the environment like production."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator

import pytest
from flask import Flask

from datalab.settings import Settings, get_settings
from legacy_flask.extensions import db


@pytest.fixture
def wsgi_app(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """`legacy_flask.wsgi:app`, imported afresh with the test settings in the environment."""
    monkeypatch.setenv("ENV", "test")
    monkeypatch.setenv("DATABASE_URL", settings.database.database_url)
    monkeypatch.setenv("JWT_SECRET_KEY", settings.security.jwt_secret)
    monkeypatch.setenv("ENCRYPTION_KEYS", ",".join(settings.security.fernet_keys))
    monkeypatch.setenv("MAX_BODY_BYTES", "2048")
    get_settings.cache_clear()
    sys.modules.pop("legacy_flask.wsgi", None)
    app: Flask = importlib.import_module("legacy_flask.wsgi").app
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()
        sys.modules.pop("legacy_flask.wsgi", None)
        get_settings.cache_clear()


def test_wsgi_app_is_the_legacy_app_configured_from_the_environment(wsgi_app: Flask) -> None:
    assert wsgi_app.config["MAX_CONTENT_LENGTH"] == 2048
    response = wsgi_app.test_client().get("/api/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "service": "legacy_flask"}


def test_wsgi_app_serves_the_legacy_contract_alone(wsgi_app: Flask) -> None:
    response = wsgi_app.test_client().get("/api/data-sources")
    assert response.status_code == 401
    assert "msg" in response.get_json()
    assert "X-Served-By" not in response.headers
