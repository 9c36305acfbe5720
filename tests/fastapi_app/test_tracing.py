"""Tracing (OTEL_EXPORTER_OTLP_ENDPOINT): one trace across the gateway, both halves, the database and tasks.

Spans are exported over OTLP/HTTP, in process and from a `datalab legacy-serve` process
behind LEGACY_UPSTREAM, to a receiver the module starts on 127.0.0.1.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from datalab.settings import Settings
from tests.edge_apps import captured_logs, edge_app, json_lines
from tests.gateway_servers import legacy_server
from tests.helpers import PASSWORD, Accounts
from tests.otlp_receiver import ReceivedSpan, Receiver, otlp_receiver
from tests.sources import write_files
from tests.tasks_support import TASKS_URL, RedisServer, Worker, add_source, submit, wait_for, worker_env

PROXY = "10.0.0.1"  # the trusted proxy the test client speaks from
STRANGER = "203.0.113.7"
ME = "/api/users/me"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """An OTLP/HTTP receiver for this module's spans."""
    with otlp_receiver() as found:
        yield found


@pytest.fixture(scope="module")
def legacy_url(settings: Settings, migrated: None, receiver: Receiver) -> Iterator[str]:
    """A traced legacy-serve process (exporting every 50 ms), the gateway's LEGACY_UPSTREAM."""
    traced = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_SERVICE_NAME": "legacy",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    with legacy_server(settings, **traced) as url:
        yield url


@pytest.fixture(scope="module")
def traced_app(settings: Settings, receiver: Receiver, legacy_url: str) -> Iterator[FastAPI]:
    """The whole app traced, its legacy half remote, trusting PROXY, logging every request as slow."""
    with edge_app(
        settings,
        rate_limit_enabled=False,
        trusted_proxies=f"{PROXY}/32",
        legacy_upstream=legacy_url,
        otel_exporter_otlp_endpoint=receiver.url,
        otel_service_name="gateway",
        slow_request_ms=0.001,
    ) as app:
        yield app


def client_of(app: FastAPI, address: str) -> TestClient:
    """A client of `app` speaking from `address`."""
    return TestClient(app, client=(address, 5000), raise_server_exceptions=False)


def traceparent() -> tuple[str, str, str]:
    """Return a fresh sampled traceparent, its trace id and its span id."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def trace_of(response: Any) -> str:
    """Return the trace id of the answer's traceparent."""
    return str(response.headers["traceparent"].split("-")[1])


def flushed(app: FastAPI, receiver: Receiver, trace_id: str, *names: str) -> list[ReceivedSpan]:
    """Export the app's spans; wait for the spans `names` ("service name") to arrive; return the trace."""
    app.state.tracing.flush()
    receiver.wait_for(
        lambda spans: set(names) <= {f"{s.service} {s.name}" for s in spans if s.trace_id == trace_id}
    )
    return receiver.of_trace(trace_id)


def one(spans: list[ReceivedSpan], **wanted: Any) -> ReceivedSpan:
    """Return the one span with the `wanted` fields."""
    found = [s for s in spans if all(getattr(s, k) == v for k, v in wanted.items())]
    assert len(found) == 1, (wanted, [(s.service, s.name) for s in spans])
    return found[0]


def statement_of(span: ReceivedSpan) -> str:
    """Return a database span's statement text."""
    return str(span.attributes.get("db.statement") or span.attributes.get("db.query.text") or "")


def test_one_trace_through_the_gateway_the_remote_legacy_app_and_a_task(
    traced_app: FastAPI,
    receiver: Receiver,
    settings: Settings,
    user_headers: dict[str, str],
    analyst_headers: dict[str, str],
) -> None:
    header, trace_id, client_span = traceparent()
    write_files(settings.source_data_dir)
    with client_of(traced_app, PROXY) as client:
        me = client.get(ME, headers={**user_headers, "traceparent": header})
        source = add_source(client, analyst_headers, "sqlite", {"path": "shop.db"})
        sent = client.post(
            TASKS_URL,
            json={"kind": "query", "data_source_id": source, "query": "SELECT * FROM customers"},
            headers={**analyst_headers, "traceparent": header},
        )
        assert sent.status_code == 202, sent.text
        wait_for(client, analyst_headers, sent.json()["id"], {"succeeded"})
    assert me.status_code == 200
    assert me.headers["X-Served-By"] == "legacy_remote"
    assert trace_of(me) == trace_of(sent) == trace_id

    spans = flushed(
        traced_app, receiver, trace_id, f"legacy GET {ME}", "gateway GET legacy", "gateway task run"
    )
    # The gateway's server span continues the trusted client's trace, named by the route template.
    front = one(spans, service="gateway", name=f"GET {ME}")
    assert (front.kind, front.parent_id) == ("server", client_span)
    assert front.attributes["http.route"] == ME
    assert front.attributes["datalab.served_by"] == "legacy_remote"
    # The call to the legacy server, and that server's own spans, joined through traceparent.
    call = one(spans, service="gateway", name="GET legacy")
    assert (call.kind, call.parent_id) == ("client", front.span_id)
    remote = one(spans, service="legacy", kind="server")
    assert remote.parent_id == call.span_id
    assert remote.name == f"GET {ME}"
    assert remote.attributes["datalab.served_by"] == "legacy_flask"
    queries = [s for s in spans if s.service == "legacy" and s.parent_id == remote.span_id]
    assert queries
    assert all(statement_of(q).startswith("SELECT") for q in queries)
    # The task: submitted under the POST's span, run under the submission, its queries under the run.
    posted = one(spans, service="gateway", name="POST /api/v1/tasks")
    assert posted.attributes["datalab.served_by"] == "fastapi"
    submitted = one(spans, name="task submit")
    assert submitted.kind == "producer"
    ran = one(spans, name="task run")
    assert (ran.kind, ran.parent_id) == ("consumer", submitted.span_id)
    assert any(s.parent_id == ran.span_id and statement_of(s) for s in spans)
    assert {s.service for s in spans} == {"gateway", "legacy"}


def test_traceparent_from_an_untrusted_peer_starts_a_new_trace(
    traced_app: FastAPI, receiver: Receiver, user_headers: dict[str, str]
) -> None:
    header, trace_id, _ = traceparent()
    with client_of(traced_app, STRANGER) as client:
        me = client.get(ME, headers={**user_headers, "traceparent": header})
    ours = trace_of(me)
    assert ours != trace_id
    spans = flushed(traced_app, receiver, ours, f"legacy GET {ME}", "gateway GET legacy")
    # The legacy server got the gateway's traceparent, not the stranger's.
    assert one(spans, service="legacy", kind="server").parent_id == one(spans, name="GET legacy").span_id
    assert one(spans, service="gateway", kind="server").parent_id == ""
    assert receiver.of_trace(trace_id) == []


def test_no_secret_or_query_value_reaches_a_span(
    traced_app: FastAPI, receiver: Receiver, accounts: Accounts, user_headers: dict[str, str]
) -> None:
    user = accounts.create("traced@example.com")
    password, token = "Source-Pass-8qZ", "Query-Token-4kW"
    header, trace_id, _ = traceparent()
    sent = {"traceparent": header}
    with client_of(traced_app, PROXY) as client:
        v1 = client.post(
            f"/api/v1/auth/login?token={token}",
            json={"email": user.email, "password": PASSWORD},
            headers=sent,
        )
        legacy = client.post(
            f"/api/auth/login?token={token}", json={"email": user.email, "password": PASSWORD}, headers=sent
        )
        config = {
            "host": "db.internal",
            "port": 5432,
            "database": "sales",
            "username": "r",
            "password": password,
        }
        created = client.post(
            "/api/v1/data-sources",
            json={"name": "secret source", "type": "postgresql", "config": config},
            headers={**user_headers, **sent},
        )
        listed = client.get(f"/api/v1/data-sources?limit=50&token={token}", headers={**user_headers, **sent})
    assert (v1.status_code, legacy.status_code, created.status_code, listed.status_code) == (
        200,
        200,
        201,
        200,
    )
    spans = flushed(
        traced_app, receiver, trace_id, "legacy POST /api/auth/login", "gateway GET /api/v1/data-sources"
    )
    values = [str(value) for s in spans for value in s.attributes.values()] + [s.name for s in spans]
    # The statements are there (so a leak would show), their parameters and every secret are not.
    assert any("INSERT INTO data_source " in v for v in values)
    logins = [s for s in spans if "WHERE user_account.email = " in statement_of(s)]
    assert {s.service for s in logins} == {"gateway", "legacy"}
    for secret in (PASSWORD, password, token, user.email, user_headers["Authorization"].split()[1]):
        assert not [v for v in values if secret in v], secret


def test_logs_carry_the_trace_and_slow_requests_name_their_slowest_spans(
    traced_app: FastAPI, settings: Settings, receiver: Receiver, user_headers: dict[str, str]
) -> None:
    with captured_logs(settings, log_format="json", otel_exporter_otlp_endpoint=receiver.url) as logs:
        with client_of(traced_app, STRANGER) as client:
            listed = client.get("/api/v1/data-sources?limit=50", headers=user_headers)
    _, trace_id, span_id, _ = listed.headers["traceparent"].split("-")
    lines = [line for line in json_lines(logs) if line.get("request_id") == listed.headers["X-Request-ID"]]
    access = one_line(lines, "request")
    assert (access["trace_id"], access["span_id"]) == (trace_id, span_id)
    slow = one_line(lines, "slow request")
    assert slow["level"] == "warning"
    assert slow["route"] == "/api/v1/data-sources"
    assert slow["duration_ms"] > 0
    assert 1 <= len(slow["slowest"]) <= 3
    assert all(set(entry) == {"name", "ms"} for entry in slow["slowest"])


def one_line(lines: list[dict[str, Any]], event: str) -> dict[str, Any]:
    """Return the one log line of `event`."""
    found = [line for line in lines if line["event"] == event]
    assert len(found) == 1, lines
    return found[0]


def test_shadow_calls_are_spans_marked_shadow(
    settings: Settings, receiver: Receiver, user_headers: dict[str, str]
) -> None:
    overrides = {"route_states": {f"GET {ME}": "shadow"}, "otel_exporter_otlp_endpoint": receiver.url}
    with edge_app(settings, rate_limit_enabled=False, **overrides) as app, TestClient(app) as client:
        me = client.get(ME, headers=user_headers)
        assert client.portal is not None
        client.portal.call(app.state.migration.shadow.drain)
    assert me.headers["X-Served-By"] == "legacy_flask"
    spans = flushed(app, receiver, trace_of(me), f"datalab shadow GET {ME}")
    front = one(spans, kind="server")
    shadow = one(spans, name=f"shadow GET {ME}")
    assert shadow.parent_id == front.span_id
    assert shadow.attributes["shadow"] is True
    under = [s for s in spans if s.parent_id == shadow.span_id]
    assert under
    assert all(s.attributes.get("shadow") is True for s in under)
    assert "shadow" not in front.attributes


def test_tracing_is_off_by_default(client: TestClient, app: FastAPI) -> None:
    assert app.state.tracing is None
    assert "traceparent" not in client.get("/api/health").headers


def test_a_celery_workers_spans_join_the_submitting_request(
    settings: Settings,
    receiver: Receiver,
    analyst_headers: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    broker = RedisServer(tmp_path_factory.mktemp("redis"))
    queue = {"task_broker_url": broker.url, "task_queue": "h19-traced"}
    traced = {"otel_exporter_otlp_endpoint": receiver.url, "otel_bsp_schedule_delay": "50"}
    env = worker_env(settings, **queue, **traced, otel_service_name="worker")
    worker = Worker(env, tmp_path_factory.mktemp("logs") / "worker.log")
    try:
        worker.wait_ready()
        write_files(settings.source_data_dir)
        with (
            edge_app(
                settings, rate_limit_enabled=False, otel_exporter_otlp_endpoint=receiver.url, **queue
            ) as app,
            TestClient(app) as client,
        ):
            source = add_source(client, analyst_headers, "sqlite", {"path": "shop.db"})
            task_id = submit(client, analyst_headers, source, "SELECT * FROM customers")
            done = wait_for(client, analyst_headers, task_id, {"succeeded", "failed"})
    finally:
        worker.stop()
        broker.stop()
    assert done["status"] == "succeeded", done
    app.state.tracing.flush()
    spans = receiver.wait_for(
        lambda found: any(s.service == "worker" and s.name == "task run" for s in found)
    )
    ran = one([s for s in spans if s.service == "worker"], name="task run")
    trace = receiver.of_trace(ran.trace_id)
    submitted = one(trace, name="task submit")
    assert (ran.kind, ran.parent_id) == ("consumer", submitted.span_id)
    assert one(trace, kind="server", name="POST /api/v1/tasks").span_id == submitted.parent_id
    assert any(s.service == "worker" and s.parent_id == ran.span_id and statement_of(s) for s in trace)


def test_statements_outside_requests_and_tasks_make_no_trace(traced_app: FastAPI, receiver: Receiver) -> None:
    marker = f"SELECT 1 AS outside_{secrets.token_hex(4)}"
    with traced_app.state.engine.connect() as connection:
        connection.execute(text(marker))
    with client_of(traced_app, STRANGER) as client:
        health = client.get("/health/ready")
    spans = flushed(traced_app, receiver, trace_of(health), "gateway GET /health/ready")
    assert spans
    assert not [s for s in receiver.spans if marker in statement_of(s)]
