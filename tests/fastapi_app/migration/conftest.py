"""Fixtures for the migration tests: apps built with other route states, and waiting for shadow calls."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from datalab.settings import Settings
from fastapi_app.main import create_app
from fastapi_app.migration import Migration

Build = Callable[..., tuple[FastAPI, TestClient]]


def migration_of(app: FastAPI) -> Migration:
    """Return the app's migration wiring."""
    migration: Migration = app.state.migration
    return migration


def drain(client: TestClient, app: FastAPI) -> None:
    """Wait for the shadow calls the client's requests started."""
    assert client.portal is not None
    client.portal.call(migration_of(app).shadow.drain)


@pytest.fixture
def build(settings: Settings, client: TestClient) -> Iterator[Build]:
    """A function building the whole app with setting overrides (e.g. `route_states`) and a client for it."""
    stack = ExitStack()
    built: list[FastAPI] = []

    def _build(**overrides: Any) -> tuple[FastAPI, TestClient]:
        app = create_app(settings.model_copy(update={"migration_flush_seconds": 300.0, **overrides}))
        built.append(app)
        return app, stack.enter_context(TestClient(app))

    yield _build
    stack.close()
    for app in built:
        app.state.engine.dispose()
