"""Limits on data-source work through both APIs: no 500 from a source's answer, bounded work."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from datalab.settings import Settings
from fastapi_app.main import create_app
from shared_models import Role
from tests.datalab.connectors.rest_server import RestServer
from tests.fastapi_app.test_data_source_connections import URL, add_source
from tests.helpers import Accounts, audit_entries, error_of
from tests.sources import postgres_connection, postgres_source, write_files


@pytest.fixture(scope="module")
def api() -> Iterator[RestServer]:
    """A JSON API on 127.0.0.1 with malformed redirects and very wide answers."""
    server = RestServer()
    yield server
    server.close()


def rest_config(api: RestServer) -> dict[str, Any]:
    """The config of a source on `api`."""
    return {"base_url": api.url, "headers": {}}


def connector_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The log lines the connector runner wrote."""
    return [r.getMessage() for r in caplog.records if r.name == "datalab.connectors"]


def test_driver_error_is_the_connectors_failure_answer_with_one_log_line(
    client: TestClient, session: Session, analyst_headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    # psycopg2 raises a bare ValueError for a date past year 9999: no connector maps it.
    source_id = add_source(client, analyst_headers, "postgresql", postgres_source())
    response = client.post(
        f"{URL}/{source_id}/query", json={"query": "SELECT '10000-01-01'::date"}, headers=analyst_headers
    )
    error_of(response, 502, "QUERY_FAILED")
    assert len(connector_lines(caplog)) == 1
    assert "Traceback" not in caplog.text
    audited = audit_entries(session, "data_source.query")
    assert [(e.details["success"], e.details["error_code"]) for e in audited] == [(False, "QUERY_FAILED")]


def test_malformed_redirect_is_bad_response_on_both_apis(
    client: TestClient, api: RestServer, analyst_headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    source_id = add_source(client, analyst_headers, "rest_api", rest_config(api))
    for path in ("/bad-location", "/redirect?to=http%3A%2F%2Fxn--zz%2F"):
        response = client.post(f"{URL}/{source_id}/query", json={"query": path}, headers=analyst_headers)
        error_of(response, 502, "BAD_RESPONSE")
    body = {"name": "bad host", "type": "rest_api", "config": {"base_url": "http://xn--zz", "headers": {}}}
    bad_base = client.post(URL, json=body, headers=analyst_headers).json()["id"]
    legacy = client.post(f"/api/data-sources/{bad_base}/test", headers=analyst_headers)
    assert (legacy.status_code, legacy.json()["success"]) == (200, False)
    assert "Traceback" not in caplog.text


def test_rest_answer_with_100k_keys_is_answered_within_the_request(
    settings: Settings, session: Session, api: RestServer, analyst_headers: dict[str, str]
) -> None:
    # A request gives up after 1 + 5 + 5 s (connect, query, grace); quadratic work on 100,000 keys
    # took 47 s of CPU, linear work takes well under a second.
    quick = create_app(settings.model_copy(update={"query_timeout_s": 5.0, "connect_timeout_s": 1.0}))
    with TestClient(quick) as client:
        source_id = add_source(client, analyst_headers, "rest_api", rest_config(api))
        response = client.post(
            f"{URL}/{source_id}/query", json={"query": "/wide?n=100000"}, headers=analyst_headers
        )
        schema = client.get(f"{URL}/{source_id}/schema", headers=analyst_headers)
    assert response.status_code == 200, response.text[:300]
    assert (len(response.json()["columns"]), response.json()["data"][0]["k99999"]) == (100_000, 99_999)
    assert schema.status_code == 200


def wait_for_query(marker: str) -> None:
    """Wait until the PostgreSQL source runs a statement containing `marker`."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with postgres_connection() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE %s",
                (f"%{marker}%",),
            )
            row = cur.fetchone()
        conn.close()
        if row and row[0]:
            return
        time.sleep(0.05)
    raise AssertionError("the slow query never started")


def test_one_user_cannot_take_every_connector_thread(
    settings: Settings, session: Session, accounts: Accounts, analyst_headers: dict[str, str]
) -> None:
    # Two connector threads: one each by default. A 2 s statement timeout ends the slow query.
    shared = create_app(settings.model_copy(update={"query_timeout_s": 2.0, "connector_threads": 2}))
    other_headers = accounts.headers(accounts.create("analyst2@example.com", Role.ANALYST))
    config = postgres_source()
    with TestClient(shared) as client, ThreadPoolExecutor(max_workers=1) as pool:
        mine = add_source(client, analyst_headers, "postgresql", config)
        theirs = add_source(client, other_headers, "postgresql", config)
        slow = {"query": "SELECT pg_sleep(20) AS h11_fair_share"}
        pending = pool.submit(client.post, f"{URL}/{mine}/query", json=slow, headers=analyst_headers)
        wait_for_query("h11_fair_share")
        again = client.post(f"{URL}/{mine}/query", json={"query": "SELECT 1"}, headers=analyst_headers)
        error_of(again, 503, "USER_CONNECTORS_BUSY")
        legacy = client.post(f"/api/data-sources/{mine}/test", headers=analyst_headers)
        assert (legacy.status_code, set(legacy.json())) == (503, {"msg"})
        served = client.post(f"{URL}/{theirs}/query", json={"query": "SELECT 1 AS ok"}, headers=other_headers)
        assert (served.status_code, served.json()["data"]) == (200, [{"ok": 1}])
        error_of(pending.result(timeout=30), 504, "TIMEOUT")
        # The share is given back when the job ends.
        after = client.post(f"{URL}/{mine}/query", json={"query": "SELECT 1 AS ok"}, headers=analyst_headers)
    assert after.status_code == 200, after.text


def create_body(name: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """A create body for a csv source named `name`."""
    return {"name": name, "type": "csv", "config": config or {"path": "customers.csv"}}


def test_sources_per_user_are_capped_on_both_apis(
    settings: Settings, session: Session, accounts: Accounts, user_headers: dict[str, str]
) -> None:
    capped = create_app(settings.model_copy(update={"max_sources_per_user": 2}))
    other_headers = accounts.headers(accounts.create("someone@example.com", Role.USER))
    with TestClient(capped) as client:
        first = client.post(URL, json=create_body("one"), headers=user_headers).json()["id"]
        assert (
            client.post("/api/data-sources", json=create_body("two"), headers=user_headers).status_code == 201
        )
        error_of(client.post(URL, json=create_body("three"), headers=user_headers), 409, "TOO_MANY_SOURCES")
        legacy = client.post("/api/data-sources", json=create_body("three"), headers=user_headers)
        assert (legacy.status_code, set(legacy.json())) == (409, {"msg"})
        assert client.post(URL, json=create_body("mine"), headers=other_headers).status_code == 201
        assert client.delete(f"{URL}/{first}", headers=user_headers).status_code == 204
        assert client.post(URL, json=create_body("three"), headers=user_headers).status_code == 201


def test_config_over_64_kib_is_413_on_both_apis(client: TestClient, user_headers: dict[str, str]) -> None:
    headers = {f"X-Header-{i}": "v" * 4096 for i in range(20)}  # about 82 KB as JSON
    big = {
        "name": "big",
        "type": "rest_api",
        "config": {"base_url": "http://127.0.0.1:9", "headers": headers},
    }
    error_of(client.post(URL, json=big, headers=user_headers), 413, "CONFIG_TOO_LARGE")
    legacy = client.post("/api/data-sources", json=big, headers=user_headers)
    assert (legacy.status_code, set(legacy.json())) == (413, {"msg"})
    small = {**big, "config": {"base_url": "http://127.0.0.1:9", "headers": {}}}
    source_id = client.post(URL, json=small, headers=user_headers).json()["id"]
    patch = client.patch(f"{URL}/{source_id}", json={"config": big["config"]}, headers=user_headers)
    error_of(patch, 413, "CONFIG_TOO_LARGE")
    put = client.put(f"/api/data-sources/{source_id}", json={"config": big["config"]}, headers=user_headers)
    assert (put.status_code, set(put.json())) == (413, {"msg"})


@pytest.mark.parametrize("source_type", ["postgresql", "sqlite"])
def test_query_answer_stops_at_query_max_bytes(
    settings: Settings, session: Session, analyst_headers: dict[str, str], source_type: str
) -> None:
    capped = create_app(settings.model_copy(update={"query_max_bytes": 2048}))
    write_files(settings.source_data_dir)
    config = postgres_source() if source_type == "postgresql" else {"path": "shop.db"}
    many = (
        "WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < 500)"
        " SELECT g, 'padding padding padding' AS pad FROM n"
    )
    with TestClient(capped) as client:
        source_id = add_source(client, analyst_headers, source_type, config)
        cut = client.post(f"{URL}/{source_id}/query", json={"query": many}, headers=analyst_headers)
        whole = client.post(
            f"{URL}/{source_id}/query", json={"query": "SELECT 1 AS one"}, headers=analyst_headers
        )
        by_rows = client.post(
            f"{URL}/{source_id}/query", json={"query": many, "limit": 2}, headers=analyst_headers
        )
    body = cut.json()
    assert (cut.status_code, body["has_more"], body["truncated"]) == (200, True, "bytes")
    assert len(json.dumps(body["data"], separators=(",", ":")).encode()) <= 2048
    assert [r["g"] for r in body["data"]] == list(range(1, body["row_count"] + 1))
    assert (whole.json()["has_more"], whole.json()["truncated"]) == (False, None)
    assert (by_rows.json()["row_count"], by_rows.json()["truncated"]) == (2, "rows")


def test_openapi_documents_truncated(client: TestClient) -> None:
    schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    truncated = schemas["QueryRead"]["properties"]["truncated"]
    assert {"rows", "bytes"} <= {v for option in truncated["anyOf"] for v in option.get("enum", [])}
