"""Limits on data-source work through both APIs: no 500 from a source's answer, bounded work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from datalab.settings import Settings
from fastapi_app.main import create_app
from tests.datalab.connectors.rest_server import RestServer
from tests.fastapi_app.test_data_source_connections import URL, add_source
from tests.helpers import audit_entries, error_of
from tests.sources import postgres_source


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
    # Timeouts of 1 s: a request gives up after 7 s. Quadratic work on 100,000 keys took 47 s.
    quick = create_app(settings.model_copy(update={"query_timeout_s": 1.0, "connect_timeout_s": 1.0}))
    with TestClient(quick) as client:
        source_id = add_source(client, analyst_headers, "rest_api", rest_config(api))
        response = client.post(
            f"{URL}/{source_id}/query", json={"query": "/wide?n=100000"}, headers=analyst_headers
        )
        schema = client.get(f"{URL}/{source_id}/schema", headers=analyst_headers)
    assert response.status_code == 200, response.text[:300]
    assert (len(response.json()["columns"]), response.json()["data"][0]["k99999"]) == (100_000, 99_999)
    assert schema.status_code == 200
