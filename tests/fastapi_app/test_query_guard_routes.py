"""v1 answers of the query guards: refused queries and privileged accounts are 403s, audited."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from datalab.settings import Settings
from tests.helpers import audit_entries, error_of
from tests.sources import mysql_source, postgres_source, privileged_config, write_files

URL = "/api/v1/data-sources"
# Within the API's 10,000-character limit on a query.
DEEP = {
    "parentheses": "SELECT " + "(" * 4900 + "1" + ")" * 4900,
    "subqueries": "SELECT " + "(SELECT " * 1100 + "1" + ")" * 1100,
}


@pytest.fixture(scope="module")
def configs(settings: Settings) -> dict[str, dict[str, Any]]:
    """The read-only PostgreSQL, MariaDB and SQLite sources."""
    write_files(settings.source_data_dir)
    return {"postgresql": postgres_source(), "mysql": mysql_source(), "sqlite": {"path": "shop.db"}}


def add_source(client: TestClient, headers: dict[str, str], source_type: str, config: dict[str, Any]) -> int:
    """Create a data source through the v1 API and return its id."""
    body = {"name": f"{source_type} source", "type": source_type, "config": config}
    response = client.post(URL, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@pytest.mark.parametrize("kind", list(DEEP))
@pytest.mark.parametrize("source_type", ["postgresql", "mysql", "sqlite"])
def test_deeply_nested_sql_is_a_403_with_one_log_line(
    client: TestClient,
    session: Session,
    configs: dict[str, dict[str, Any]],
    analyst_headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    source_type: str,
    kind: str,
) -> None:
    source_id = add_source(client, analyst_headers, source_type, configs[source_type])
    with caplog.at_level(logging.WARNING):
        response = client.post(
            f"{URL}/{source_id}/query", json={"query": DEEP[kind]}, headers=analyst_headers
        )
    error = error_of(response, 403, "QUERY_REFUSED")
    assert "nests" in error["message"]
    [entry] = audit_entries(session, "data_source.query")
    assert (entry.details["success"], entry.details["error_code"]) == (False, "QUERY_REFUSED")
    guard_lines = [r for r in caplog.records if r.name.startswith("datalab.connectors")]
    assert len(guard_lines) == 1
    assert all(r.exc_info is None for r in caplog.records)


def test_unicode_escaped_file_read_refused_naming_the_function(
    client: TestClient, session: Session, configs: dict[str, dict[str, Any]], analyst_headers: dict[str, str]
) -> None:
    source_id = add_source(client, analyst_headers, "postgresql", configs["postgresql"])
    sql = "SELECT U&\"pg\\005fread\\005ffile\"('/etc/passwd')"
    response = client.post(f"{URL}/{source_id}/query", json={"query": sql}, headers=analyst_headers)
    error = error_of(response, 403, "QUERY_REFUSED")
    assert "pg_read_file()" in error["message"]
    assert "root:" not in response.text
    [entry] = audit_entries(session, "data_source.query")
    assert entry.details["error_code"] == "QUERY_REFUSED"


@pytest.mark.parametrize("source_type", ["postgresql", "mysql"])
def test_privileged_account_refused_by_test_schema_and_query(
    client: TestClient,
    session: Session,
    configs: dict[str, dict[str, Any]],
    analyst_headers: dict[str, str],
    source_type: str,
) -> None:
    config = privileged_config(source_type, configs[source_type])
    source_id = add_source(client, analyst_headers, source_type, config)

    tested = client.post(f"{URL}/{source_id}/test", headers=analyst_headers)
    assert "read-only role" in error_of(tested, 403, "PRIVILEGED_ACCOUNT")["message"]
    schema = client.get(f"{URL}/{source_id}/schema", headers=analyst_headers)
    error_of(schema, 403, "PRIVILEGED_ACCOUNT")
    queried = client.post(f"{URL}/{source_id}/query", json={"query": "SELECT 1"}, headers=analyst_headers)
    error_of(queried, 403, "PRIVILEGED_ACCOUNT")

    [test_entry] = audit_entries(session, "data_source.test")
    assert test_entry.details["error_code"] == "PRIVILEGED_ACCOUNT"
    codes = [e.details["error_code"] for e in audit_entries(session, "data_source.query")]
    assert codes == ["PRIVILEGED_ACCOUNT", "PRIVILEGED_ACCOUNT"]
    listed = client.get(f"{URL}/{source_id}", headers=analyst_headers).json()
    assert listed["status"] == "failed"
