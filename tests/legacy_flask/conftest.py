"""The legacy tests are the contract suite: every test that calls the app runs once per route state.

`route_state` parametrizes the app over `legacy`, `shadow` and `migrated` (every route
put in that state through ROUTE_STATES), one app per state for the whole session.
Every response is checked for the implementation the state promises (`X-Served-By`),
and in shadow mode every comparison the suite triggers must find the port's answer
equal to Flask's: the suite itself is the evidence.

With `LEGACY_REMOTE=1` in the environment the same suite runs against the legacy app as
its own server (`datalab legacy-serve`, started once per session on the test database):
every app is built with LEGACY_UPSTREAM and legacy answers say `legacy_remote`.

With `LEGACY_MOUNT=off` it runs once, in state `off`: every route migrated and Flask
not loaded (the app that retires Flask), so every answer must come from FastAPI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from datalab.settings import Settings
from fastapi_app.main import create_app
from fastapi_app.migration import Migration
from fastapi_app.migration.ports import PORTED, ported_name_for
from tests.gateway_servers import legacy_server

REMOTE = os.environ.get("LEGACY_REMOTE") == "1"
FLASK_OFF = os.environ.get("LEGACY_MOUNT") == "off"
LEGACY_SERVER = "legacy_remote" if REMOTE else "legacy_flask"

# Against a remote legacy server, `migrated` would only repeat the in-process run: no request of it
# reaches Flask. `off` is its own pass: every route migrated and Flask never imported.
STATES = ("off",) if FLASK_OFF else ("legacy", "shadow") if REMOTE else ("legacy", "shadow", "migrated")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every test that uses the app in every route state."""
    if "app" in metafunc.fixturenames:
        metafunc.parametrize("route_state", STATES, indirect=True, scope="session")


@pytest.fixture(scope="session")
def route_state(request: pytest.FixtureRequest) -> str:
    """The state every legacy route is in for this test (`legacy` for a test that builds its own app)."""
    return str(getattr(request, "param", "legacy"))


@pytest.fixture(scope="session")
def state_apps(settings: Settings, migrated: None) -> Iterator[dict[str, FastAPI]]:
    """Apps built with every ported route in one state, made on first use and kept for the session."""
    apps: dict[str, FastAPI] = {}
    yield apps
    for built in apps.values():
        built.state.engine.dispose()


@pytest.fixture(scope="session")
def legacy_upstream(settings: Settings, migrated: None) -> Iterator[str | None]:
    """The URL of a `datalab legacy-serve` process when LEGACY_REMOTE=1, else None (Flask in process)."""
    if not REMOTE:
        yield None
        return
    with legacy_server(settings) as url:
        yield url


@pytest.fixture(scope="session")
def app(
    settings: Settings, route_state: str, state_apps: dict[str, FastAPI], legacy_upstream: str | None
) -> FastAPI:
    """The whole ASGI app, with every legacy route in `route_state` (`off`: migrated, Flask not loaded)."""
    if route_state not in state_apps:
        state = "migrated" if route_state == "off" else route_state
        overrides: dict[str, object] = {
            "route_states": dict.fromkeys(PORTED, state),
            "legacy_mount": "off" if route_state == "off" else "on",
            "migration_flush_seconds": 300.0,
            # The comparison is the point here, not the deadline (test_shadow tests that): a busy
            # machine must not turn a slow port into a mismatch.
            "shadow_timeout": 30.0,
            "legacy_upstream": legacy_upstream,
        }
        state_apps[route_state] = create_app(settings.model_copy(update=overrides))
    return state_apps[route_state]


def expected_server(route_state: str, method: str, path: str, status: int) -> str:
    """Return who must answer `method path` when the ported routes are in `route_state`."""
    ported = ported_name_for(method, path) is not None  # the ports' own match, as the router makes it
    # A 413 comes from the body limit, outside both halves, before any routing.
    if route_state == "off" or path.startswith("/api/v1/") or status == 413:
        return "fastapi"
    if ported and route_state == "migrated":
        return "fastapi"
    return LEGACY_SERVER


@pytest.fixture
def client(client: TestClient, app: FastAPI, route_state: str) -> TestClient:
    """The HTTP client, checking who served each answer and, in shadow mode, that the port agreed."""
    migration: Migration = app.state.migration

    def check(response: httpx2.Response) -> None:
        request = response.request
        expected = expected_server(route_state, request.method, request.url.path, response.status_code)
        assert response.headers["X-Served-By"] == expected, f"{request.method} {request.url.path}"
        if route_state == "shadow" and client.portal is not None:
            response.read()  # the app's call, which starts the shadow call, ends once the body is read
            client.portal.call(migration.shadow.drain)
            _, mismatches = migration.counter.pending()
            assert not mismatches, "\n".join(f"{m.route}:\n{m.diff}" for m in mismatches)

    client.event_hooks = {"request": [], "response": [check]}
    return client
