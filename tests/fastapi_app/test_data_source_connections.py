"""v1 test, schema and query against a real source of every registered type (databases, files, REST)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from datalab.connectors.registry import KINDS
from datalab.settings import Settings
from fastapi_app.main import create_app
from shared_models import DataSource
from tests.helpers import audit_entries, error_of
from tests.source_files import TABULAR, broken_file, customers_file
from tests.sources import (
    API_TOKEN,
    CUSTOMERS,
    RestServer,
    mysql_count,
    mysql_source,
    postgres_connection,
    postgres_source,
    sqlite_count,
    timed,
    write_files,
)

URL = "/api/v1/data-sources"
TYPES = list(KINDS)
FILE_TYPES = [name for name, kind in KINDS.items() if kind.is_file]
# What each type's query looks like: SQL for databases and files, a path for the REST API.
QUERIES = {
    "postgresql": "SELECT id, email, name FROM customers ORDER BY id",
    "mysql": "SELECT id, email, name FROM customers ORDER BY id",
    "sqlite": "SELECT id, email, name FROM customers ORDER BY id",
    "rest_api": "/customers",
    **dict.fromkeys(TABULAR, "SELECT id, email, name FROM data ORDER BY id"),
}
TABLE = {"rest_api": "data", **dict.fromkeys(TABULAR, "data")}


@pytest.fixture(scope="module")
def rest_api() -> Iterator[RestServer]:
    """A JSON API on 127.0.0.1 that wants a bearer token."""
    server = RestServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def configs(settings: Settings, rest_api: RestServer) -> dict[str, Any]:
    """Lazily built configs of every real source, by type."""
    write_files(settings.source_data_dir)
    return {
        "sqlite": {"path": "shop.db"},
        "rest_api": rest_api.config(),
        **{kind: {"path": customers_file(kind)} for kind in TABULAR},
    }


def config_for(configs: dict[str, Any], source_type: str) -> dict[str, Any]:
    """Return the config of `source_type`, creating its database on first use."""
    if source_type not in configs:
        configs[source_type] = postgres_source() if source_type == "postgresql" else mysql_source()
    return dict(configs[source_type])


def add_source(client: TestClient, headers: dict[str, str], source_type: str, config: dict[str, Any]) -> int:
    """Create a data source through the v1 API and return its id."""
    body = {"name": f"{source_type} source", "type": source_type, "config": config}
    response = client.post(URL, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def stored(session: Session, source_id: int) -> DataSource:
    """Return the row as the database holds it now."""
    session.expire_all()
    source = session.get(DataSource, source_id)
    assert source is not None
    return source


@pytest.mark.parametrize("source_type", TYPES)
def test_each_type_tests_describes_and_queries(
    client: TestClient,
    session: Session,
    configs: dict[str, Any],
    analyst_headers: dict[str, str],
    source_type: str,
) -> None:
    source_id = add_source(client, analyst_headers, source_type, config_for(configs, source_type))

    tested = client.post(f"{URL}/{source_id}/test", headers=analyst_headers)
    assert tested.status_code == 200, tested.text
    assert tested.json()["success"] is True, tested.json()
    assert tested.json()["latency_ms"] >= 0
    row = stored(session, source_id)
    assert (row.status, row.error_message, row.last_test is not None) == ("connected", None, True)

    schema = client.get(f"{URL}/{source_id}/schema", headers=analyst_headers)
    assert schema.status_code == 200, schema.text
    tables = {t["name"]: t for t in schema.json()["tables"]}
    table = tables[TABLE.get(source_type, "customers")]
    assert {"id", "email", "name"} <= {c["name"] for c in table["columns"]}

    queried = client.post(
        f"{URL}/{source_id}/query", json={"query": QUERIES[source_type]}, headers=analyst_headers
    )
    assert queried.status_code == 200, queried.text
    body = queried.json()
    assert body["columns"][:3] == ["id", "email", "name"]
    assert [{k: r[k] for k in ("email", "name")} for r in body["data"]] == [
        {"email": c["email"], "name": c["name"]} for c in CUSTOMERS
    ]
    assert [int(r["id"]) for r in body["data"]] == [1, 2, 3]
    assert (body["row_count"], body["has_more"]) == (3, False)
    assert body["execution_time_ms"] >= 0

    row = stored(session, source_id)
    assert (row.usage_count, row.last_used is not None) == (2, True)
    queries = audit_entries(session, "data_source.query")
    assert [e.details["operation"] for e in queries] == ["schema", "query"]
    assert queries[1].details["query"] == QUERIES[source_type]
    assert "ada@example.com" not in str([e.details for e in queries])
    assert len(audit_entries(session, "data_source.test")) == 1


@pytest.mark.parametrize("source_type", ["postgresql", "sqlite", "csv"])
def test_limit_cuts_rows_and_says_so(
    client: TestClient, configs: dict[str, Any], analyst_headers: dict[str, str], source_type: str
) -> None:
    source_id = add_source(client, analyst_headers, source_type, config_for(configs, source_type))
    response = client.post(
        f"{URL}/{source_id}/query", json={"query": QUERIES[source_type], "limit": 2}, headers=analyst_headers
    )
    assert response.status_code == 200, response.text
    assert (response.json()["row_count"], response.json()["has_more"]) == (2, True)
    assert len(response.json()["data"]) == 2


@pytest.mark.parametrize(("limit", "status"), [(2.0, 200), (2.5, 422), (True, 422)])
def test_limit_is_a_json_integer_as_the_schema_says(
    client: TestClient, configs: dict[str, Any], analyst_headers: dict[str, str], limit: object, status: int
) -> None:
    # JSON Schema's "integer" is any number with no fraction: 2.0 is 2, 2.5 and true are not.
    source_id = add_source(client, analyst_headers, "csv", config_for(configs, "csv"))
    response = client.post(
        f"{URL}/{source_id}/query", json={"query": QUERIES["csv"], "limit": limit}, headers=analyst_headers
    )
    assert response.status_code == status, response.text
    if status == 200:
        assert (response.json()["row_count"], response.json()["has_more"]) == (2, True)


def test_published_limit_and_port_bounds_are_json_schema(client: TestClient) -> None:
    # Bounds written as pydantic's "ge"/"le" mean nothing to JSON Schema: fuzzers then send 0.
    schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    limit = schemas["QueryIn"]["properties"]["limit"]["anyOf"][0]
    assert (limit["type"], limit["minimum"], limit["maximum"]) == ("integer", 1, 100_000)
    port = schemas["DataSourceUpdate"]["properties"]["config"]["anyOf"][0]["properties"]["port"]
    assert (port["type"], port["minimum"], port["maximum"]) == ("integer", 1, 65_535)


def test_rows_are_json_safe(
    client: TestClient, configs: dict[str, Any], analyst_headers: dict[str, str]
) -> None:
    source_id = add_source(client, analyst_headers, "postgresql", config_for(configs, "postgresql"))
    response = client.post(
        f"{URL}/{source_id}/query",
        json={"query": "SELECT joined, balance, 'abc'::bytea AS raw FROM customers WHERE id = 1"},
        headers=analyst_headers,
    )
    assert response.status_code == 200, response.text
    row = response.json()["data"][0]
    assert row["joined"] == "2024-01-31"
    assert row["balance"] in ("12.50", 12.5)
    assert isinstance(row["raw"], str)


POSTGRES_WRITES = [
    "INSERT INTO customers (id, email) VALUES (9, 'x@example.com')",
    "UPDATE customers SET name = 'x'",
    "DELETE FROM customers",
    "DROP TABLE customers",
    "CREATE TABLE stolen (id int)",
    "TRUNCATE customers",
    "SELECT 1; DELETE FROM customers",
    "WITH gone AS (DELETE FROM customers RETURNING *) SELECT * FROM gone",
    "SELECT pg_read_file('/etc/passwd')",
    "COPY customers TO '/tmp/customers.csv'",
    "SELECT * INTO stolen FROM customers",
    "SELECT * FROM customers FOR UPDATE",
]


@pytest.mark.parametrize("sql", POSTGRES_WRITES)
def test_postgres_write_attempts_refused_and_nothing_changes(
    client: TestClient, session: Session, configs: dict[str, Any], analyst_headers: dict[str, str], sql: str
) -> None:
    source_id = add_source(client, analyst_headers, "postgresql", config_for(configs, "postgresql"))

    response = client.post(f"{URL}/{source_id}/query", json={"query": sql}, headers=analyst_headers)

    error = error_of(response, 403, "QUERY_REFUSED")
    assert "Traceback" not in error["message"]
    with postgres_connection() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), count(name) FILTER (WHERE name = 'x') FROM customers")
        assert cur.fetchone() == (3, 0)
        cur.execute("SELECT to_regclass('stolen')")
        assert cur.fetchone() == (None,)
    conn.close()
    refused = audit_entries(session, "data_source.query")
    assert [(e.details["query"], e.details["error_code"]) for e in refused] == [(sql, "QUERY_REFUSED")]
    assert stored(session, source_id).status == "pending"


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM customers",
        "INSERT INTO customers (id, email) VALUES (9, 'x@example.com')",
        "SELECT 1; DROP TABLE customers",
        "SELECT LOAD_FILE('/etc/passwd')",
        "SELECT * FROM customers INTO OUTFILE '/tmp/out.txt'",
    ],
)
def test_mysql_write_attempts_refused(
    client: TestClient, configs: dict[str, Any], analyst_headers: dict[str, str], sql: str
) -> None:
    source_id = add_source(client, analyst_headers, "mysql", config_for(configs, "mysql"))
    response = client.post(f"{URL}/{source_id}/query", json={"query": sql}, headers=analyst_headers)
    error_of(response, 403, "QUERY_REFUSED")
    assert mysql_count() == 3


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM customers",
        "ATTACH DATABASE 'other.db' AS other",
        "SELECT load_extension('evil')",
        "WITH d AS (SELECT 1) DELETE FROM customers",
    ],
)
def test_sqlite_write_attempts_refused(
    client: TestClient, settings: Settings, configs: dict[str, Any], analyst_headers: dict[str, str], sql: str
) -> None:
    source_id = add_source(client, analyst_headers, "sqlite", config_for(configs, "sqlite"))
    response = client.post(f"{URL}/{source_id}/query", json={"query": sql}, headers=analyst_headers)
    error_of(response, 403, "QUERY_REFUSED")
    assert sqlite_count(settings.source_data_dir) == 3


def test_schema_and_query_are_for_analysts_and_admins(
    client: TestClient,
    configs: dict[str, Any],
    user_headers: dict[str, str],
    analyst_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    own = add_source(client, user_headers, "csv", config_for(configs, "csv"))
    query = {"query": QUERIES["csv"]}
    error_of(client.get(f"{URL}/{own}/schema", headers=user_headers), 403, "FORBIDDEN")
    error_of(client.post(f"{URL}/{own}/query", json=query, headers=user_headers), 403, "FORBIDDEN")
    # Another analyst does not learn that the source exists; an admin may use any.
    error_of(client.get(f"{URL}/{own}/schema", headers=analyst_headers), 404, "NOT_FOUND")
    error_of(client.post(f"{URL}/{own}/query", json=query, headers=analyst_headers), 404, "NOT_FOUND")
    error_of(client.post(f"{URL}/{own}/test", headers=analyst_headers), 404, "NOT_FOUND")
    assert client.post(f"{URL}/{own}/query", json=query, headers=admin_headers).status_code == 200
    assert client.post(f"{URL}/{own}/test", headers=user_headers).json()["success"] is True


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"database": "no_such_database_b"}, "NO_SUCH_DATABASE"),
        ({"username": "no_such_role_b"}, "BAD_CREDENTIALS"),
        ({"port": 1}, "UNREACHABLE"),
    ],
)
def test_failed_test_is_200_with_reason_and_recorded(
    client: TestClient,
    session: Session,
    configs: dict[str, Any],
    analyst_headers: dict[str, str],
    change: dict[str, Any],
    code: str,
) -> None:
    source_id = add_source(
        client, analyst_headers, "postgresql", {**config_for(configs, "postgresql"), **change}
    )

    response = client.post(f"{URL}/{source_id}/test", headers=analyst_headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["success"], body["error_code"]) == (False, code)
    assert "psycopg2" not in body["message"]
    assert "Traceback" not in body["message"]
    row = stored(session, source_id)
    assert (row.status, row.error_message) == ("failed", body["message"])
    assert audit_entries(session, "data_source.test")[0].details["success"] is False
    # The same failure on a query is a 502 with the same code, and is recorded too.
    queried = client.post(f"{URL}/{source_id}/query", json={"query": "SELECT 1"}, headers=analyst_headers)
    error_of(queried, 502, code)
    assert stored(session, source_id).usage_count == 1


def test_rest_api_wrong_token_is_bad_credentials(
    client: TestClient, configs: dict[str, Any], analyst_headers: dict[str, str]
) -> None:
    config = {**config_for(configs, "rest_api"), "headers": {"Authorization": "Bearer wrong"}}
    source_id = add_source(client, analyst_headers, "rest_api", config)
    body = client.post(f"{URL}/{source_id}/test", headers=analyst_headers).json()
    assert (body["success"], body["error_code"]) == (False, "BAD_CREDENTIALS")
    assert API_TOKEN not in str(body)


def test_file_outside_data_dir_refused(client: TestClient, analyst_headers: dict[str, str]) -> None:
    # `..` is refused by the config check; a file that is not there is refused when opened.
    response = client.post(
        URL, json={"name": "x", "type": "csv", "config": {"path": "../etc/passwd"}}, headers=analyst_headers
    )
    assert error_of(response, 422, "INVALID_INPUT")["details"][0]["field"] == "config.path"
    source_id = add_source(client, analyst_headers, "csv", {"path": "missing.csv"})
    body = client.post(f"{URL}/{source_id}/test", headers=analyst_headers).json()
    assert body["success"] is False


@pytest.mark.parametrize("source_type", TABULAR)
def test_malformed_file_is_the_connectors_failure_answer(
    client: TestClient,
    session: Session,
    configs: dict[str, Any],
    analyst_headers: dict[str, str],
    source_type: str,
) -> None:
    source_id = add_source(client, analyst_headers, source_type, {"path": broken_file(source_type)})
    body = client.post(f"{URL}/{source_id}/test", headers=analyst_headers).json()
    assert (body["success"], body["error_code"]) == (False, "BAD_RESPONSE")
    assert source_type.upper() in body["message"] or "workbook" in body["message"]
    error_of(client.get(f"{URL}/{source_id}/schema", headers=analyst_headers), 502, "BAD_RESPONSE")
    queried = client.post(f"{URL}/{source_id}/query", json={"query": "SELECT 1"}, headers=analyst_headers)
    error = error_of(queried, 502, "BAD_RESPONSE")
    assert "/" not in error["message"]  # no server path in the answer
    assert stored(session, source_id).status == "failed"


@pytest.mark.parametrize("source_type", FILE_TYPES)
def test_file_jail_holds_for_every_file_type(
    client: TestClient,
    settings: Settings,
    configs: dict[str, Any],
    analyst_headers: dict[str, str],
    tmp_path: Path,
    source_type: str,
) -> None:
    good = config_for(configs, source_type)["path"]
    response = client.post(
        URL,
        json={"name": "x", "type": source_type, "config": {"path": f"../{good}"}},
        headers=analyst_headers,
    )
    assert error_of(response, 422, "INVALID_INPUT")["details"][0]["field"] == "config.path"
    # A link inside the data folder to a copy outside it: refused when the source is opened.
    outside = tmp_path / good
    outside.write_bytes((settings.source_data_dir / good).read_bytes())
    link = settings.source_data_dir / f"escape-{source_type}-{tmp_path.name}"
    link.symlink_to(outside)
    try:
        source_id = add_source(client, analyst_headers, source_type, {"path": link.name})
        body = client.post(f"{URL}/{source_id}/test", headers=analyst_headers).json()
        assert (body["success"], body["error_code"]) == (False, "PATH_REFUSED")
        queried = client.post(f"{URL}/{source_id}/query", json={"query": "SELECT 1"}, headers=analyst_headers)
        error_of(queried, 403, "PATH_REFUSED")
    finally:
        link.unlink()


def test_loopback_refused_without_an_explicit_allow(
    settings: Settings, session: Session, configs: dict[str, Any], analyst_headers: dict[str, str]
) -> None:
    # The same database and secrets, but the default network rules: loopback is refused.
    strict = create_app(settings.model_copy(update={"data_source_allow_networks": ""}))
    with TestClient(strict) as client:
        api = add_source(client, analyst_headers, "rest_api", config_for(configs, "rest_api"))
        body = client.post(f"{URL}/{api}/test", headers=analyst_headers).json()
        assert (body["success"], body["error_code"]) == (False, "HOST_REFUSED")
        queried = client.post(f"{URL}/{api}/query", json={"query": "/customers"}, headers=analyst_headers)
        error_of(queried, 403, "HOST_REFUSED")
        files = add_source(client, analyst_headers, "sqlite", config_for(configs, "sqlite"))
        assert client.post(f"{URL}/{files}/test", headers=analyst_headers).json()["success"] is True


def test_query_body_is_validated(client: TestClient, analyst_headers: dict[str, str]) -> None:
    source_id = add_source(client, analyst_headers, "csv", {"path": "customers.csv"})
    for body, field in (
        ({}, "body.query"),
        ({"query": ""}, "body.query"),
        ({"query": "SELECT 1", "limit": 0}, "body.limit"),
        ({"query": "SELECT 1", "extra": 1}, "body.extra"),
    ):
        error = error_of(
            client.post(f"{URL}/{source_id}/query", json=body, headers=analyst_headers),
            422,
            "VALIDATION_FAILED",
        )
        assert field in [d["field"] for d in error["details"]]


def test_config_checked_per_type_on_create_and_update(
    client: TestClient, analyst_headers: dict[str, str]
) -> None:
    bad = {"host": "db.internal", "port": 70000, "database": "d", "username": "u"}
    response = client.post(
        URL, json={"name": "x", "type": "postgresql", "config": bad}, headers=analyst_headers
    )
    error = error_of(response, 422, "INVALID_INPUT")
    assert error["details"][0]["field"] == "config.port"
    assert error["message"].startswith("config.port: ")

    source_id = add_source(client, analyst_headers, "csv", {"path": "a.csv"})
    # A change the schema allows but the stored config does not fit clashes with the source: 409.
    response = client.patch(f"{URL}/{source_id}", json={"type": "postgresql"}, headers=analyst_headers)
    assert error_of(response, 409, "CONFIG_TYPE_MISMATCH")["message"].startswith("config.host: is required")
    mysql = {"host": "db", "database": "d", "username": "u"}
    response = client.patch(f"{URL}/{source_id}", json={"config": mysql}, headers=analyst_headers)
    error_of(response, 409, "CONFIG_TYPE_MISMATCH")
    response = client.patch(
        f"{URL}/{source_id}", json={"config": {"path": "a.csv", "x": 1}}, headers=analyst_headers
    )
    assert error_of(response, 422, "INVALID_INPUT")["details"][0]["field"] == "config.x"
    response = client.patch(
        f"{URL}/{source_id}", json={"type": "json", "config": {"path": "b.json"}}, headers=analyst_headers
    )
    assert response.status_code == 200, response.text
    assert (response.json()["type"], response.json()["config"]) == ("json", {"path": "b.json"})


def test_hung_source_times_out_and_others_are_served_meanwhile(
    settings: Settings, session: Session, configs: dict[str, Any], analyst_headers: dict[str, str]
) -> None:
    # One connector thread and a 2 s statement timeout; the source sleeps for 20 s.
    quick = create_app(settings.model_copy(update={"query_timeout_s": 2.0, "connector_threads": 1}))
    with TestClient(quick) as client, ThreadPoolExecutor(max_workers=1) as pool:
        source_id = add_source(client, analyst_headers, "postgresql", config_for(configs, "postgresql"))
        slow = {"query": "SELECT pg_sleep(20)"}
        pending = pool.submit(client.post, f"{URL}/{source_id}/query", json=slow, headers=analyst_headers)
        wait_until_sleeping()
        busy = client.post(f"{URL}/{source_id}/query", json={"query": "SELECT 1"}, headers=analyst_headers)
        # The slow query holds the only connector thread: more source work is refused at once...
        error_of(busy, 503, "CONNECTORS_BUSY")
        # ...while every other request is served promptly, on both halves.
        for _ in range(3):
            health, seconds = timed(lambda: client.get("/api/v1/health"))
            assert (health.status_code, seconds < 1.0) == (200, True)
            profile, seconds = timed(lambda: client.get("/api/users/me", headers=analyst_headers))
            assert (profile.status_code, seconds < 1.0) == (200, True)
        assert not pending.done()
        response, seconds = timed(pending.result)
    error_of(response, 504, "TIMEOUT")
    assert seconds < 5


def wait_until_sleeping() -> None:
    """Wait until the source database runs a query of the app's, i.e. the slow query has started."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with postgres_connection() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = 'datalab' AND state = 'active'"
            )
            row = cur.fetchone()
        conn.close()
        if row and row[0]:
            return
        time.sleep(0.05)
    raise AssertionError("the slow query never started")
