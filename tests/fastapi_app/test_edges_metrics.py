"""Prometheus metrics: requests by route template and status, in flight, pool use; shown to few."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from datalab.settings import Settings
from shared_models import User
from tests.edge_apps import client_for, edge_app, edge_client
from tests.helpers import PASSWORD

TOKEN = "metrics-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def observed(settings: Settings, _clean_tables: None) -> Iterator[TestClient]:
    """A client of an app whose metrics are readable with TOKEN."""
    with edge_client(settings, metrics_token=TOKEN, rate_limit_login="1/minute") as client:
        yield client


def _samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _requests(
    route: str, status: str, served_by: str, method: str = "GET"
) -> tuple[str, frozenset[tuple[str, str]]]:
    labels = {"method": method, "route": route, "status": status, "served_by": served_by}
    return "datalab_http_requests_total", frozenset(labels.items())


def test_requests_counted_by_template_and_status_never_by_raw_path(observed: TestClient, user: User) -> None:
    for source_id in (101, 202, 303):
        observed.get(f"/api/data-sources/{source_id}")
        observed.get(f"/api/v1/data-sources/{source_id}")
    observed.get("/api/no-such-thing/42")
    for _ in range(2):
        observed.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    samples = _samples(observed)
    assert samples[_requests("/api/data-sources/<source_id>", "401", "legacy_flask")] == 3
    assert samples[_requests("/api/v1/data-sources/{source_id}", "401", "fastapi")] == 3
    assert samples[_requests("unmatched", "404", "legacy_flask")] == 1
    assert samples[_requests("/api/v1/auth/login", "200", "fastapi", "POST")] == 1
    assert samples[_requests("/api/v1/auth/login", "429", "fastapi", "POST")] == 1
    routes = {dict(labels).get("route") for _, labels in samples} - {None}
    assert not [route for route in routes if re.search(r"101|202|303|/42", str(route))]
    assert "/api/data-sources/<source_id>" in routes
    latency = (
        "datalab_http_request_duration_seconds_count",
        frozenset(
            {"method": "GET", "route": "/api/data-sources/<source_id>", "served_by": "legacy_flask"}.items()
        ),
    )
    assert samples[latency] == 3


def test_in_flight_and_pool_gauges(observed: TestClient) -> None:
    observed.get("/api/v1/health")
    samples = _samples(observed)
    # The scrape itself is the one request in flight.
    assert samples[("datalab_http_requests_in_flight", frozenset())] == 1
    for engine in ("sync", "async"):
        assert (
            "datalab_db_pool_connections",
            frozenset({"engine": engine, "state": "checked_out"}.items()),
        ) in samples


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}]
)
def test_metrics_hidden_without_the_token(observed: TestClient, headers: dict[str, str]) -> None:
    response = observed.get("/metrics", headers=headers)
    assert response.status_code == 403
    message = response.json()["msg"]
    assert "METRICS_TOKEN" in message
    assert "METRICS_ALLOW" in message
    assert TOKEN not in message


def test_metrics_served_to_allowed_addresses_only(settings: Settings) -> None:
    with edge_app(settings, metrics_allow=["10.0.0.0/8", "::1/128"]) as app:
        assert client_for(app, "10.20.30.40").get("/metrics").status_code == 200
        assert client_for(app, "203.0.113.9").get("/metrics").status_code == 403


def test_metrics_off_when_nothing_is_configured(settings: Settings) -> None:
    with edge_client(settings, client=("127.0.0.1", 5000)) as client:
        assert client.get("/metrics").status_code == 403
