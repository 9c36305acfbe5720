"""The MySQL connector against the real MariaDB on 127.0.0.1, as a reader with every privilege."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from datalab.connectors import Connector, ConnectorError, Limits, open_connector
from tests.datalab.connectors.conftest import CUSTOMERS, MYSQL_READER, SOURCE_DB, mysql_counts
from tests.datalab.connectors.test_sql_guard import REFUSED


@pytest.fixture
def my(mysql_source: dict[str, Any], limits: Limits) -> Iterator[Connector]:
    """A connector on the test source."""
    connector = open_connector("mysql", mysql_source, limits)
    yield connector
    connector.close()


def test_connection_succeeds_with_metadata(my: Connector) -> None:
    result = my.test()
    assert result.success, result.message
    assert "MariaDB" in result.metadata["server_version"]
    assert result.metadata == {**result.metadata, "database": SOURCE_DB, "user": MYSQL_READER[0]}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"password": "wrong-password-123"}, "BAD_CREDENTIALS"),
        ({"username": "nobody", "password": "wrong-password-123"}, "BAD_CREDENTIALS"),
        ({"database": "no_such_database"}, "BAD_CREDENTIALS"),
        ({"port": 1}, "UNREACHABLE"),
        ({"host": "no-such-host.invalid"}, "UNREACHABLE"),
    ],
)
def test_connection_failures_are_clear(
    mysql_source: dict[str, Any], limits: Limits, change: dict[str, Any], code: str
) -> None:
    connector = open_connector("mysql", {**mysql_source, **change}, limits)
    result = connector.test()
    connector.close()
    assert not result.success
    assert result.error_code == code
    assert "wrong-password-123" not in result.message
    assert "127.0.0.1" not in result.message


def test_missing_database_for_a_user_who_may_see_it(limits: Limits, mysql_source: dict[str, Any]) -> None:
    """root may open any database, so a missing one is named as missing."""
    config = {**mysql_source, "username": "root", "password": "", "database": "no_such_database"}
    connector = open_connector("mysql", config, limits)
    result = connector.test()
    assert (result.success, result.error_code) == (False, "NO_SUCH_DATABASE")


def test_loopback_refused_without_explicit_allow(mysql_source: dict[str, Any], strict_limits: Limits) -> None:
    connector = open_connector("mysql", {**mysql_source, "host": "0x7f.1"}, strict_limits)
    result = connector.test()
    assert (result.success, result.error_code) == (False, "HOST_REFUSED")


def test_app_own_database_refused_by_name(mysql_source: dict[str, Any], limits: Limits) -> None:
    own = replace(limits, own_databases=(("localhost", 3306, SOURCE_DB),))
    result = open_connector("mysql", mysql_source, own).test()
    assert (result.success, result.error_code) == (False, "HOST_REFUSED")


def test_schema_has_types_indexes_and_constraints(my: Connector) -> None:
    tables = {t.name: t for t in my.schema().tables}
    assert set(tables) == {"customers", "orders"}
    orders = tables["orders"]
    assert [(c.name, c.type, c.nullable) for c in orders.columns] == [
        ("id", "int(11)", False),
        ("customer_id", "int(11)", False),
        ("amount", "decimal(10,2)", False),
    ]
    assert {i["name"]: (i["columns"], i["unique"]) for i in orders.indexes} == {
        "PRIMARY": (["id"], True),
        "orders_customer_idx": (["customer_id"], False),
    }
    fk = next(c for c in orders.constraints if c["type"] == "FOREIGN KEY")
    assert fk["references"] == {"table": "customers", "columns": ["id"]}
    unique = next(c for c in tables["customers"].constraints if c["type"] == "UNIQUE")
    assert unique["columns"] == ["email"]


def test_query_returns_rows_as_objects(my: Connector) -> None:
    result = my.query("SELECT id, email, name FROM customers ORDER BY id", 100)
    assert result.columns == ["id", "email", "name"]
    assert result.rows == CUSTOMERS
    assert (result.row_count, result.has_more) == (3, False)


@pytest.mark.parametrize(("limit", "expected"), [(5, 5), (500, 20)])
def test_has_more_at_the_cap(my: Connector, limit: int, expected: int) -> None:
    sql = "SELECT a.id * 100 + b.id * 10 + c.id AS n FROM orders a, orders b, orders c"
    result = my.query(sql, limit)
    assert result.row_count == expected
    assert result.has_more
    # The connection was dropped to stop the stream; the next query reconnects.
    assert my.query("SELECT COUNT(*) AS n FROM customers", 1).rows == [{"n": 3}]


def test_slow_query_times_out(my: Connector) -> None:
    with pytest.raises(ConnectorError) as caught:
        my.query(
            "SELECT COUNT(*) FROM information_schema.COLUMNS a, information_schema.COLUMNS b,"
            " information_schema.COLUMNS c",
            1,
        )
    assert caught.value.code == "TIMEOUT"
    assert my.query("SELECT 1 AS ok", 1).rows == [{"ok": 1}]


def test_query_error_is_one_clear_line(my: Connector) -> None:
    with pytest.raises(ConnectorError) as caught:
        my.query("SELECT * FROM no_such_table", 10)
    assert caught.value.code == "QUERY_INVALID"  # the caller's mistake: a 400, not a 502
    assert caught.value.message == f"Table '{SOURCE_DB}.no_such_table' doesn't exist"


@pytest.mark.parametrize(
    "sql", [sql for dialects, sql in REFUSED if "mysql" in dialects], ids=lambda s: s[:50]
)
def test_write_attempts_refused_and_nothing_changes(my: Connector, sql: str) -> None:
    before = mysql_counts()
    with pytest.raises(ConnectorError) as caught:
        my.query(sql, 10)
    assert caught.value.code == "QUERY_REFUSED"
    assert mysql_counts() == before


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO customers (email) VALUES ('x@example.com')",
        "DELETE FROM orders",
        "UPDATE customers SET name = 'x'",
        "SELECT 1; DELETE FROM orders",
        "SELECT * FROM customers FOR UPDATE",
        "CREATE TABLE intruder (id int)",
    ],
)
def test_database_refuses_writes_even_past_the_parser(
    my: Connector, monkeypatch: pytest.MonkeyPatch, sql: str
) -> None:
    """The second lock: with the SQL check off, the READ ONLY transaction and single-statement
    protocol still stop every write (DDL is refused by the read-only transaction on MariaDB too)."""
    monkeypatch.setattr("datalab.connectors.sql_guard.check_read_only", lambda s, *_: s)
    before = mysql_counts()
    with pytest.raises(ConnectorError) as caught:
        my.query(sql, 10)
    assert caught.value.code in {"QUERY_REFUSED", "QUERY_INVALID", "QUERY_FAILED"}
    assert mysql_counts() == before


def test_backslash_escapes_kept_whatever_the_server_default(my: Connector) -> None:
    """A string literal ends where the SQL check saw it end, so no call hides inside one."""
    # (Session variables such as @@sql_mode are refused by the guard; the value shows the mode.)
    result = my.query(r"SELECT 'a\'b' AS s", 1)
    assert result.rows == [{"s": "a'b"}]


def test_deeply_nested_json_value_is_a_clear_error(my: Connector) -> None:
    """MariaDB returns JSON as text, so only the REST and PostgreSQL paths nest; text stays text."""
    sql = "SELECT CONCAT(REPEAT('[', 100), REPEAT(']', 100)) AS deep"
    assert my.query(sql, 1).rows == [{"deep": "[" * 100 + "]" * 100}]
