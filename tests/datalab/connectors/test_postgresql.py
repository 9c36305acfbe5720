"""The PostgreSQL connector against the real server on 127.0.0.1 and a database made for the tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from datalab.connectors import Connector, ConnectorError, Limits, open_connector
from tests.datalab.connectors.conftest import CUSTOMERS, SOURCE_DB, pg_counts
from tests.datalab.connectors.test_sql_guard import REFUSED


@pytest.fixture
def pg(pg_source: dict[str, Any], limits: Limits) -> Iterator[Connector]:
    """A connector on the test source."""
    connector = open_connector("postgresql", pg_source, limits)
    yield connector
    connector.close()


def test_connection_succeeds_with_metadata(pg: Connector) -> None:
    result = pg.test()
    assert result.success, result.message
    assert result.error_code is None
    assert result.latency_ms > 0
    assert result.metadata["server_version"].startswith("PostgreSQL")
    assert result.metadata["database"] == SOURCE_DB


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"username": "no_such_role"}, "BAD_CREDENTIALS"),
        ({"database": "no_such_database"}, "NO_SUCH_DATABASE"),
        ({"port": 1}, "UNREACHABLE"),
        ({"host": "no-such-host.invalid"}, "UNREACHABLE"),
        ({"sslmode": "require"}, "UNREACHABLE"),
    ],
)
def test_connection_failures_are_clear(
    pg_source: dict[str, Any], limits: Limits, change: dict[str, Any], code: str
) -> None:
    config = {**pg_source, "password": "wrong-password-123", **change}
    connector = open_connector("postgresql", config, limits)
    result = connector.test()
    connector.close()
    assert not result.success
    assert result.error_code == code
    assert "wrong-password-123" not in result.message
    assert "127.0.0.1" not in result.message
    assert "Traceback" not in result.message


def test_loopback_refused_without_explicit_allow(pg_source: dict[str, Any], strict_limits: Limits) -> None:
    connector = open_connector("postgresql", {**pg_source, "host": "localhost"}, strict_limits)
    result = connector.test()
    assert (result.success, result.error_code) == (False, "HOST_REFUSED")


def test_app_own_database_refused_by_name(pg_source: dict[str, Any], limits: Limits) -> None:
    own = replace(limits, own_databases=(("127.0.0.1", 5432, SOURCE_DB),))
    connector = open_connector("postgresql", pg_source, own)
    result = connector.test()
    assert (result.success, result.error_code) == (False, "HOST_REFUSED")


def test_schema_has_types_indexes_and_constraints(pg: Connector) -> None:
    tables = {t.name: t for t in pg.schema().tables}
    assert set(tables) == {"customers", "orders"}
    orders = tables["orders"]
    assert orders.schema == "public"
    assert [(c.name, c.type, c.nullable) for c in orders.columns] == [
        ("id", "integer", False),
        ("customer_id", "integer", False),
        ("amount", "numeric(10,2)", False),
    ]
    assert {i["name"]: i["columns"] for i in orders.indexes} == {
        "orders_pkey": ["id"],
        "orders_customer_idx": ["customer_id"],
    }
    kinds = {c["type"]: c for c in orders.constraints}
    assert kinds["PRIMARY KEY"]["columns"] == ["id"]
    assert "REFERENCES customers(id)" in kinds["FOREIGN KEY"]["definition"]
    assert "amount >= 0" in kinds["CHECK"]["definition"]
    unique = [c for c in tables["customers"].constraints if c["type"] == "UNIQUE"]
    assert unique[0]["columns"] == ["email"]


def test_query_returns_rows_as_objects(pg: Connector) -> None:
    result = pg.query("SELECT id, email, name FROM customers ORDER BY id", 100)
    assert result.columns == ["id", "email", "name"]
    assert result.rows == CUSTOMERS
    assert (result.row_count, result.has_more) == (3, False)
    assert result.execution_time_ms >= 0


def test_query_values_are_json_safe(pg: Connector) -> None:
    result = pg.query("SELECT amount, now() AS at, 'x'::bytea AS raw FROM orders ORDER BY id LIMIT 1", 10)
    row = result.rows[0]
    assert row["amount"] == "10.50"
    assert isinstance(row["at"], str)
    assert row["raw"] == "eA=="


@pytest.mark.parametrize(("limit", "expected"), [(5, 5), (20, 20), (500, 20)])
def test_has_more_at_the_cap(pg: Connector, limit: int, expected: int) -> None:
    """The cap is min(requested limit, max_rows=20)."""
    result = pg.query("SELECT g FROM generate_series(1, 50) AS g", limit)
    assert result.row_count == expected
    assert result.rows[-1] == {"g": expected}
    assert result.has_more


def test_exactly_the_cap_is_not_more(pg: Connector) -> None:
    result = pg.query("SELECT g FROM generate_series(1, 5) AS g", 5)
    assert (result.row_count, result.has_more) == (5, False)


def test_slow_query_times_out(pg: Connector) -> None:
    with pytest.raises(ConnectorError) as caught:
        pg.query("SELECT pg_sleep(5)", 10)
    assert caught.value.code == "TIMEOUT"
    assert pg.query("SELECT 1 AS ok", 1).rows == [{"ok": 1}]


def test_query_error_is_one_clear_line(pg: Connector) -> None:
    with pytest.raises(ConnectorError) as caught:
        pg.query("SELECT * FROM no_such_table", 10)
    assert caught.value.code == "QUERY_INVALID"  # the caller's mistake: a 400, not a 502
    assert caught.value.message == 'relation "no_such_table" does not exist'


@pytest.mark.parametrize(
    "sql", [sql for dialects, sql in REFUSED if "postgresql" in dialects], ids=lambda s: s[:50]
)
def test_write_attempts_refused_and_nothing_changes(pg: Connector, sql: str) -> None:
    before = pg_counts()
    with pytest.raises(ConnectorError) as caught:
        pg.query(sql, 10)
    assert caught.value.code == "QUERY_REFUSED"
    assert pg_counts() == before


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO customers (email) VALUES ('x@example.com')",
        "DELETE FROM orders",
        "WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d",
        "SELECT nextval('counter')",
        "SELECT set_config('default_transaction_read_only', 'off', true), nextval('counter')",
        "SELECT * FROM customers FOR UPDATE",
        "SELECT 1; DELETE FROM orders",
        "SELECT 1; COMMIT; DELETE FROM orders",
        "CREATE TABLE intruder (id int)",
    ],
)
def test_database_refuses_writes_even_past_the_parser(
    pg: Connector, monkeypatch: pytest.MonkeyPatch, sql: str
) -> None:
    """The second lock: with the SQL check switched off, the server still refuses every write.

    (File functions are not in this list: the test role is a superuser, which may call them;
    against those only the parser and a least-privileged role protect.)
    """
    monkeypatch.setattr("datalab.connectors.sql_guard.check_read_only", lambda s, *_: s)
    before = pg_counts()
    with pytest.raises(ConnectorError) as caught:
        pg.query(sql, 10)
    assert caught.value.code in {"QUERY_REFUSED", "QUERY_INVALID", "QUERY_FAILED"}
    assert pg_counts() == before


def test_standard_conforming_strings_on(pg: Connector) -> None:
    """A string literal ends where the SQL check saw it end, so no call hides inside one."""
    # (current_setting is refused by the guard; the value shows the setting.)
    result = pg.query(r"SELECT 'a\' AS s", 1)
    assert result.rows == [{"s": "a\\"}]


def test_deeply_nested_json_value_is_a_clear_error(pg: Connector) -> None:
    with pytest.raises(ConnectorError, match="nests deeper"):
        pg.query("SELECT (repeat('[', 100) || repeat(']', 100))::jsonb AS deep", 1)
    assert pg.query("SELECT 1 AS ok", 1).rows == [{"ok": 1}]


@pytest.mark.parametrize(
    "database",
    [
        "host=169.254.169.254 dbname=postgres",
        "postgresql://postgres@169.254.169.254/postgres",
        "postgres options=-cdefault_transaction_read_only=off",
    ],
)
def test_database_name_is_never_read_as_a_connection_string(
    pg_source: dict[str, Any], limits: Limits, database: str
) -> None:
    """libpq expands a dbname holding `=` or a URI in some APIs; here it stays a plain name."""
    result = open_connector("postgresql", {**pg_source, "database": database}, limits).test()
    assert (result.success, result.error_code) == (False, "NO_SUCH_DATABASE")
