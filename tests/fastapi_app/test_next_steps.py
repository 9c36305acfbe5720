"""Errors a newcomer meets say what to do next: which role, which setting, which folder, whose mistake."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from datalab.settings import Settings
from fastapi_app.main import create_app
from tests.helpers import PASSWORD, error_of
from tests.sources import mysql_source, postgres_source, write_files

URL = "/api/v1/data-sources"
MISSING_TABLE = "SELECT * FROM no_such_table"
SOURCE_PASSWORD = "source-pw-tail-7Q"  # noqa: S105 - a marker that must never be echoed


def add_source(client: TestClient, headers: dict[str, str], source_type: str, config: dict[str, Any]) -> int:
    """Create a data source through the v1 API and return its id."""
    body = {"name": f"{source_type} source", "type": source_type, "config": config}
    response = client.post(URL, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@pytest.fixture
def files(settings: Settings) -> None:
    """The SQLite, CSV and JSON sources in the data folder."""
    write_files(settings.source_data_dir)


def test_schema_and_query_refusal_names_the_roles_that_may(
    client: TestClient, files: None, user_headers: dict[str, str]
) -> None:
    source_id = add_source(client, user_headers, "csv", {"path": "customers.csv"})
    for response in (
        client.get(f"{URL}/{source_id}/schema", headers=user_headers),
        client.post(f"{URL}/{source_id}/query", json={"query": "SELECT 1"}, headers=user_headers),
    ):
        error = error_of(response, 403, "FORBIDDEN")
        assert error["message"] == (
            "Insufficient permissions: this needs the analyst role or higher (admin, analyst)"
        )
        assert error["details"] == {"required_role": "analyst", "allowed_roles": ["admin", "analyst"]}


def test_missing_file_names_the_data_directory(
    client: TestClient, settings: Settings, analyst_headers: dict[str, str]
) -> None:
    source_id = add_source(client, analyst_headers, "sqlite", {"path": "not-there.db"})
    body = client.post(f"{URL}/{source_id}/test", headers=analyst_headers).json()
    assert body["success"] is False
    assert str(settings.source_data_dir) in body["message"]
    assert "DATA_DIR" in body["message"]


def test_refused_host_names_the_setting_that_allows_it(
    settings: Settings, client: TestClient, analyst_headers: dict[str, str]
) -> None:
    config = {
        "host": "127.0.0.1",
        "port": 5432,
        "database": "x",
        "username": "u",
        "password": SOURCE_PASSWORD,
    }
    source_id = add_source(client, analyst_headers, "postgresql", config)
    # The same database and secrets, but the default network rules: loopback is refused.
    strict = create_app(settings.model_copy(update={"data_source_allow_networks": ""}))
    with TestClient(strict) as strict_client:
        response = strict_client.post(
            f"{URL}/{source_id}/query", json={"query": "SELECT 1"}, headers=analyst_headers
        )
    error = error_of(response, 403, "HOST_REFUSED")
    assert "DATA_SOURCE_ALLOW_NETWORKS" in error["message"]
    assert SOURCE_PASSWORD not in response.text


# A csv source has one table, `data`: naming another is refused by the guard before DuckDB sees
# it (403 QUERY_REFUSED), so there the caller's mistake is a missing column.
@pytest.mark.parametrize(
    ("source_type", "query", "named"),
    [
        ("sqlite", MISSING_TABLE, "no_such_table"),
        ("csv", "SELECT no_such_column FROM data", "no_such_column"),
        ("postgresql", MISSING_TABLE, "no_such_table"),
        ("mysql", MISSING_TABLE, "no_such_table"),
    ],
)
def test_query_on_a_missing_table_is_the_callers_mistake(
    client: TestClient, files: None, analyst_headers: dict[str, str], source_type: str, query: str, named: str
) -> None:
    config: dict[str, Any] = {
        "sqlite": lambda: {"path": "shop.db"},
        "csv": lambda: {"path": "customers.csv"},
        "postgresql": postgres_source,
        "mysql": mysql_source,
    }[source_type]()
    source_id = add_source(client, analyst_headers, source_type, config)
    response = client.post(f"{URL}/{source_id}/query", json={"query": query}, headers=analyst_headers)
    error = error_of(response, 400, "QUERY_INVALID")
    assert named in error["message"]  # the database's own words
    assert "127.0.0.1" not in error["message"]
    # A mistake in the query says nothing about the source: it stays usable.
    assert client.get(f"{URL}/{source_id}", headers=analyst_headers).json()["status"] != "failed"


def test_v1_reads_a_json_body_sent_without_content_type(client: TestClient, user: Any) -> None:
    body = json.dumps({"email": user.email, "password": PASSWORD}).encode()
    response = client.post("/api/v1/auth/login", content=body)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "bearer"
    legacy = client.post("/api/auth/login", content=body)
    assert legacy.status_code == 200
