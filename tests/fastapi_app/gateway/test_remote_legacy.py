"""LEGACY_UPSTREAM: the legacy app as its own `datalab legacy-serve` process, behind the same routing.

The whole contract suite also runs this way (`LEGACY_REMOTE=1 pytest tests/legacy_flask`);
these tests cover what the suite does not: counts, shadow comparisons and a dead upstream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from datalab.cli import main
from datalab.settings import Settings
from fastapi_app.migration import Migration
from tests.edge_apps import edge_app, free_port
from tests.gateway_servers import legacy_server

ME = "GET /api/users/me"


@pytest.fixture(scope="module")
def legacy_url(settings: Settings, migrated: None) -> Iterator[str]:
    """A legacy-serve process on the test database, for this module."""
    with legacy_server(settings) as url:
        yield url


def _client(settings: Settings, legacy_url: str, **overrides: Any) -> Iterator[tuple[TestClient, Migration]]:
    with (
        edge_app(settings, legacy_upstream=legacy_url, rate_limit_enabled=False, **overrides) as app,
        TestClient(app) as client,
    ):
        yield client, app.state.migration


def test_legacy_answers_come_from_the_remote_server(
    settings: Settings, legacy_url: str, user_headers: dict[str, str]
) -> None:
    for client, _ in _client(settings, legacy_url):
        health = client.get("/api/health")
        me = client.get("/api/users/me", headers=user_headers)
        v1 = client.get("/api/v1/users/me", headers=user_headers)
        ready = client.get("/health/ready").json()
    assert health.json() == {"status": "ok", "service": "legacy_flask"}
    assert health.headers["X-Served-By"] == me.headers["X-Served-By"] == "legacy_remote"
    assert me.status_code == 200
    assert me.headers["Deprecation"].startswith("@")
    assert me.headers["Link"] == '</api/v1/auth/profile>; rel="successor-version"'
    assert "X-Datalab-Route" not in me.headers
    assert v1.headers["X-Served-By"] == "fastapi"
    assert ready["services"]["legacy"]["prefix"] == "/api"


def test_route_counts_reach_the_report(
    settings: Settings, legacy_url: str, user_headers: dict[str, str], cli_env: dict[str, str]
) -> None:
    for client, _ in _client(settings, legacy_url, route_states={"GET /api/data-sources": "migrated"}):
        client.get("/api/users/me", headers=user_headers)
        client.get("/api/users/me", headers=user_headers)
        migrated = client.get("/api/data-sources", headers=user_headers)
    assert migrated.headers["X-Served-By"] == "fastapi"
    result = CliRunner().invoke(main, ["routes", "--json"], env=cli_env)
    lines = {line["route"]: line for line in json.loads(result.output)["routes"]}
    assert lines[ME]["served_legacy_flask"] == 2
    assert lines["GET /api/data-sources"]["served_fastapi"] == 1


def test_shadow_mode_compares_the_port_with_the_remote_answer(
    settings: Settings, legacy_url: str, user_headers: dict[str, str]
) -> None:
    for client, migration in _client(settings, legacy_url, route_states={ME: "shadow"}):
        response = client.get("/api/users/me", headers=user_headers)
        assert client.portal is not None
        client.portal.call(migration.shadow.drain)
        counts, mismatches = migration.counter.pending()
    assert response.headers["X-Served-By"] == "legacy_remote"
    assert counts[(ME, "shadow_compared")] == 1
    assert mismatches == []


def test_dead_legacy_upstream_is_a_legacy_shaped_502(settings: Settings) -> None:
    with (
        edge_app(
            settings, legacy_upstream=f"http://127.0.0.1:{free_port()}", rate_limit_enabled=False
        ) as app,
        TestClient(app) as client,
    ):
        legacy = client.get("/api/health")
        v1 = client.get("/api/v1/health")
    assert legacy.status_code == 502
    assert legacy.json() == {"msg": "The service could not be reached"}
    assert v1.status_code == 200
