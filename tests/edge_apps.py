"""Apps and clients with edge settings of a test's own (rate limits on, CORS, hosts, metrics...)."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from datalab.settings import Settings
from fastapi_app.edges.logs import configure_logging
from fastapi_app.main import create_app
from legacy_flask.extensions import db as flask_db


def edge_settings(settings: Settings, **overrides: Any) -> Settings:
    """Return the suite's settings with `overrides`, validated again (start-up refusals included)."""
    values = settings.model_dump() | {"rate_limit_enabled": True} | overrides
    return Settings(_env_file=None, **values)


@contextmanager
def edge_client(
    settings: Settings, *, client: tuple[str, int] = ("203.0.113.7", 5000), **overrides: Any
) -> Iterator[TestClient]:
    """Yield a client (peer address `client`) of a fresh app built with `overrides` of the settings."""
    app = create_app(edge_settings(settings, **overrides))
    with TestClient(app, client=client, raise_server_exceptions=False) as test_client:
        yield test_client


@contextmanager
def edge_app(settings: Settings, **overrides: Any) -> Iterator[FastAPI]:
    """Yield a fresh app built with `overrides`; its database pools are closed afterwards."""
    app = create_app(edge_settings(settings, **overrides))
    try:
        yield app
    finally:
        dispose(app)


def dispose(app: FastAPI) -> None:
    """Close both halves' database pools of `app`."""
    app.state.engine.dispose()
    with app.state.flask_app.app_context():
        flask_db.engine.dispose()


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def client_for(app: FastAPI, address: str) -> TestClient:
    """Return a client of `app` connecting from `address` (lifespan not run)."""
    return TestClient(app, client=(address, 5000), raise_server_exceptions=False)


@contextmanager
def captured_logs(settings: Settings, **overrides: Any) -> Iterator[io.StringIO]:
    """Send every log line of the process to a buffer while the block runs, then back to stderr."""
    buffer = io.StringIO()
    configure_logging(edge_settings(settings, **overrides), stream=buffer)
    try:
        yield buffer
    finally:
        configure_logging(settings)


def json_lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    """Parse the buffer as JSON lines; fail on any line that is not one JSON object."""
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
