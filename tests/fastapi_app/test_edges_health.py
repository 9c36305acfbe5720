"""Health endpoints, and a database that does not answer: 503 on both halves, never a 500."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event

from datalab.settings import Settings
from tests.edge_apps import edge_client
from tests.helpers import error_of

# Nothing listens on port 1: connections are refused at once.
DEAD_DATABASE = "postgresql+psycopg2://postgres@127.0.0.1:1/nothing"


@pytest.fixture
def edge(settings: Settings, migrated: None) -> Iterator[TestClient]:
    """A client of a fresh app on the migrated test database."""
    with edge_client(settings) as client:
        yield client


def test_health_reports_status_version_uptime_and_checks(edge: TestClient) -> None:
    response = edge.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "version", "uptime_s", "pid", "checks"}
    assert (body["status"], body["version"]) == ("ok", "0.1.0")
    assert body["uptime_s"] >= 0
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["latency_ms"] >= 0


def test_live_and_ready(edge: TestClient) -> None:
    assert edge.get("/health/live").json() == {"status": "ok"}
    ready = edge.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["status"] == "ok"
    assert ready.json()["checks"]["schema"]["status"] == "ok"


def test_contract_health_routes_unchanged(edge: TestClient) -> None:
    assert edge.get("/api/health").json() == {"status": "ok", "service": "legacy_flask"}
    assert edge.get("/api/v1/health").json() == {"status": "ok", "service": "fastapi_app", "database": "ok"}


def test_health_routes_are_not_in_the_v1_document(edge: TestClient) -> None:
    paths = edge.get("/api/v1/openapi.json").json()["paths"]
    assert not {"/health", "/health/live", "/health/ready", "/metrics"} & set(paths)


@pytest.fixture
def dead(settings: Settings) -> Iterator[TestClient]:
    """A client of an app whose database (both halves) refuses connections."""
    with edge_client(settings, database_url=DEAD_DATABASE, health_timeout=1.0) as client:
        yield client


def test_ready_and_health_are_503_while_the_database_is_down(dead: TestClient) -> None:
    ready = dead.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "checks": {
            "database": {"status": "down", "error": "OperationalError"},
            "schema": {"status": "unknown"},
            "broker": {"status": "not_configured", "executor": "local"},
        },
    }
    assert dead.get("/health").status_code == 503
    assert dead.get("/health/live").status_code == 200  # the process itself is fine


def test_both_halves_answer_503_when_the_database_is_down(dead: TestClient) -> None:
    legacy = dead.post("/api/auth/login", json={"email": "a@example.com", "password": "x"})
    assert (legacy.status_code, legacy.json()) == (
        503,
        {"msg": "Service unavailable: the database does not answer"},
    )
    assert legacy.headers["retry-after"] == "5"
    v1 = dead.post("/api/v1/auth/login", json={"email": "a@example.com", "password": "x"})
    error_of(v1, 503, "DATABASE_UNAVAILABLE")
    assert "psycopg2" not in v1.text
    assert "127.0.0.1" not in legacy.text + v1.text


def test_migrated_legacy_route_answers_503_as_flask_does(settings: Settings, dead: TestClient) -> None:
    flask = dead.post("/api/auth/login", json={"email": "a@example.com", "password": "x"})
    states = {"POST /api/auth/login": "migrated"}
    with edge_client(settings, database_url=DEAD_DATABASE, health_timeout=1.0, route_states=states) as client:
        port = client.post("/api/auth/login", json={"email": "a@example.com", "password": "x"})
    assert (flask.headers["x-served-by"], port.headers["x-served-by"]) == ("legacy_flask", "fastapi")
    assert (port.status_code, port.content, port.headers["retry-after"]) == (503, flask.content, "5")


def test_ready_times_out_on_a_database_that_hangs(settings: Settings) -> None:
    hanging = create_engine("sqlite://")

    def slow_connect(*_: object) -> None:
        time.sleep(2)

    event.listen(hanging, "connect", slow_connect)
    with edge_client(settings, health_timeout=0.3) as client:
        client.app.state.engine = hanging  # type: ignore[attr-defined]
        started = time.monotonic()
        response = client.get("/health/ready")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {"status": "timeout", "timeout_s": 0.3}
    assert elapsed < 1.5
