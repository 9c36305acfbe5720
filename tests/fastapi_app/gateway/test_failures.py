"""Failure handling against real upstreams: timeouts, refusals, retries, breakers, a second instance."""

from __future__ import annotations

import time

from fastapi import FastAPI
from fastapi.testclient import TestClient

from datalab.settings import Settings
from tests.edge_apps import free_port
from tests.gateway_servers import UpstreamControl, gateway_app, service
from tests.helpers import error_of

BOUND = 300  # every wait below is a bounded loop


def _breaker(app: FastAPI, index: int = 0) -> str:
    return str(app.state.gateway.services[0].instances[index].breaker.state)


def test_slow_upstream_504(
    settings: Settings, upstream: UpstreamControl, user_headers: dict[str, str]
) -> None:
    slow = service("compute", upstream.url, timeout=0.3, retries=0)
    with gateway_app(settings, slow) as app, TestClient(app) as client:
        error = error_of(
            client.get("/api/v1/compute/slow?seconds=3", headers=user_headers), 504, "UPSTREAM_TIMEOUT"
        )
    assert error["type"] == "upstream_timeout"


def test_refused_connection_502(settings: Settings, user_headers: dict[str, str]) -> None:
    dead = service("compute", f"http://127.0.0.1:{free_port()}", retries=1)
    with gateway_app(settings, dead) as app, TestClient(app) as client:
        error_of(client.get("/api/v1/compute/jobs", headers=user_headers), 502, "UPSTREAM_UNAVAILABLE")
        # Without an Idempotency-Key a POST is never retried, to another instance or the same.
        error_of(client.post("/api/v1/compute/jobs", headers=user_headers), 502, "UPSTREAM_UNAVAILABLE")
    assert app.state.gateway.services[0].instances[0].breaker.failures == 3  # GET twice, POST once


def test_post_retried_only_with_idempotency_key(
    settings: Settings, upstream: UpstreamControl, user_headers: dict[str, str]
) -> None:
    with gateway_app(settings, service("compute", upstream.url, retries=2)) as app, TestClient(app) as client:
        upstream.fail(1)
        assert client.post("/api/v1/compute/jobs", headers=user_headers, content=b"{}").status_code == 503
        assert upstream.seen("/jobs") == 1
        upstream.fail(1)
        keyed = {**user_headers, "Idempotency-Key": "job-42"}
        response = client.post("/api/v1/compute/jobs", headers=keyed, content=b'{"n": 1}')
        assert response.status_code == 200
        assert response.json()["size"] == len(b'{"n": 1}')  # the replayed body arrived whole
        assert upstream.seen("/jobs") == 3
        upstream.fail(1)
        assert client.get("/api/v1/compute/jobs", headers=user_headers).status_code == 200
        assert upstream.seen("/jobs") == 5


def test_two_instances_one_down_every_request_succeeds(
    settings: Settings, upstream: UpstreamControl, user_headers: dict[str, str]
) -> None:
    pair = service("analysis", f"http://127.0.0.1:{free_port()}", upstream.url)
    with gateway_app(settings, pair, circuit_breaker_threshold=2) as app, TestClient(app) as client:
        statuses = [client.get(f"/api/v1/analysis/r{n}", headers=user_headers).status_code for n in range(20)]
        dead, alive = app.state.gateway.services[0].instances
        # Benched by its circuit, or by the health check that runs as the app starts, whichever came first.
        assert dead.breaker.state == "open" or dead.healthy is False
        assert alive.breaker.state == "closed"
    assert statuses == [200] * 20
    assert sum(upstream.seen(f"/r{n}") for n in range(20)) == 20


def test_flapping_upstream_opens_half_opens_and_closes(
    settings: Settings, upstream: UpstreamControl, user_headers: dict[str, str]
) -> None:
    flaky = service("ai", upstream.url, retries=0)
    options = {
        "circuit_breaker_threshold": 3,
        "circuit_breaker_cooldown": 0.3,
        "metrics_allow": ["0.0.0.0/0"],
    }
    with gateway_app(settings, flaky, **options) as app, TestClient(app, client=("127.0.0.1", 1)) as client:
        upstream.down()
        assert [client.get("/api/v1/ai/x", headers=user_headers).status_code for _ in range(3)] == [503] * 3
        assert upstream.seen("/x") == 3
        assert _breaker(app) == "open"
        refused = client.get("/api/v1/ai/x", headers=user_headers)
        error_of(refused, 503, "SERVICE_UNAVAILABLE")
        assert int(refused.headers["Retry-After"]) >= 1
        assert upstream.seen("/x") == 3  # refused at once: the upstream never saw it
        _wait_until_probe_allowed(app)
        assert client.get("/api/v1/ai/x", headers=user_headers).status_code == 503  # the probe fails...
        assert _breaker(app) == "open"  # ...and the circuit opens again
        upstream.up()
        _wait_until_probe_allowed(app)
        assert client.get("/api/v1/ai/x", headers=user_headers).status_code == 200  # a probe that succeeds
        assert _breaker(app) == "closed"
        assert client.get("/api/v1/ai/x", headers=user_headers).status_code == 200
        metrics = client.get("/metrics").text
    instance = upstream.url.removeprefix("http://")
    for state, times in (("open", 2), ("half_open", 2), ("closed", 1)):
        line = f'datalab_gateway_breaker_transitions_total{{instance="{instance}"'
        assert f'{line},service="ai",state="{state}"}} {times:.1f}' in metrics, state
    assert 'datalab_gateway_breaker_state{instance="127.0.0.1:' in metrics


def _wait_until_probe_allowed(app: FastAPI) -> None:
    breaker = app.state.gateway.services[0].instances[0].breaker
    for _ in range(BOUND):
        if breaker.available():
            return
        time.sleep(0.01)
    raise AssertionError("the cool-down never ended")
