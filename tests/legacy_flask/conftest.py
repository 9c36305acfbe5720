"""The legacy tests are the contract suite: those of ported routes run once per route state.

`route_state` parametrizes the app over `legacy`, `shadow` and `migrated` (every ported
route put in that state through ROUTE_STATES), one app per state for the whole session.
Every response is checked for the implementation the state promises (`X-Served-By`),
and in shadow mode every comparison the suite triggers must find the port's answer
equal to Flask's: the suite itself is the evidence.

With `LEGACY_REMOTE=1` in the environment the same suite runs against the legacy app as
its own server (`datalab legacy-serve`, started once per session on the test database):
every app is built with LEGACY_UPSTREAM and legacy answers say `legacy_remote`.
"""

from __future__ import annotations

import os
import re
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
LEGACY_SERVER = "legacy_remote" if REMOTE else "legacy_flask"

STATES = ("legacy", "shadow", "migrated")
# Modules that exercise ported routes; the others only need Flask.
CONTRACT_MODULES = {"test_auth", "test_users", "test_data_sources", "test_bad_input"}


# Tests about routes that have no port: Flask serves them in every state, so one run is enough.
_UNPORTED_TESTS = re.compile(r"test_(register|create_integration|list_users|change_role)_")
_UNPORTED_ROUTE_PARAMS = {"register", "create_integration"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run the contract modules in every route state."""
    if metafunc.module.__name__.rsplit(".", 1)[-1] in CONTRACT_MODULES and "app" in metafunc.fixturenames:
        metafunc.parametrize("route_state", STATES, indirect=True, scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the tests of unported routes in the `legacy` state only."""
    dropped = [item for item in items if _unported_in_other_state(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


def _unported_in_other_state(item: pytest.Item) -> bool:
    params = getattr(getattr(item, "callspec", None), "params", {})
    if params.get("route_state", "legacy") == "legacy":
        return False
    name = getattr(item, "originalname", item.name)
    return bool(_UNPORTED_TESTS.match(name)) or params.get("route_name") in _UNPORTED_ROUTE_PARAMS


@pytest.fixture(scope="session")
def route_state(request: pytest.FixtureRequest) -> str:
    """The state every ported route is in for this test (`legacy` outside the contract modules)."""
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
    app: FastAPI,
    settings: Settings,
    route_state: str,
    state_apps: dict[str, FastAPI],
    legacy_upstream: str | None,
) -> FastAPI:
    """The whole ASGI app, with the ported routes in `route_state`."""
    if route_state == "legacy" and legacy_upstream is None:
        return app
    if route_state not in state_apps:
        overrides: dict[str, object] = {
            "route_states": dict.fromkeys(PORTED, route_state),
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
    if path.startswith("/api/v1/") or status == 413 or (ported and route_state == "migrated"):
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
