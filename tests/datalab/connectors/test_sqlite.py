"""The SQLite connector on a real file in the data directory, opened read-only."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from datalab.connectors import Connector, ConnectorError, Limits, open_connector
from tests.datalab.connectors.conftest import CUSTOMERS
from tests.datalab.connectors.test_sql_guard import REFUSED


@pytest.fixture
def lite(limits: Limits) -> Iterator[Connector]:
    """A connector on shop.db."""
    connector = open_connector("sqlite", {"path": "shop.db"}, limits)
    yield connector
    connector.close()


def counts(data_dir: Path) -> tuple[int, int, int]:
    """Customers, orders and schema objects, read directly from the file."""
    with sqlite3.connect(data_dir / "shop.db") as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders),"
            " (SELECT count(*) FROM sqlite_master)"
        ).fetchone()
    conn.close()
    return row[0], row[1], row[2]


def test_connection_succeeds(lite: Connector) -> None:
    result = lite.test()
    assert result.success, result.message
    assert result.metadata["tables"] == 2


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("missing.db", "NO_SUCH_DATABASE"),
        ("customers.csv", "NO_SUCH_DATABASE"),
        ("../shop.db", "PATH_REFUSED"),
    ],
)
def test_connection_failures_are_clear(limits: Limits, path: str, code: str) -> None:
    result = open_connector("sqlite", {"path": path}, limits).test()
    assert (result.success, result.error_code) == (False, code)


def test_own_database_refused(limits: Limits, data_dir: Path) -> None:
    own = replace(limits, own_files=(data_dir / "shop.db",))
    result = open_connector("sqlite", {"path": "shop.db"}, own).test()
    assert (result.success, result.error_code) == (False, "PATH_REFUSED")


def test_schema_has_types_indexes_and_constraints(lite: Connector) -> None:
    tables = {t.name: t for t in lite.schema().tables}
    assert set(tables) == {"customers", "orders"}
    orders = tables["orders"]
    assert [(c.name, c.type, c.nullable) for c in orders.columns] == [
        ("id", "INTEGER", False),
        ("customer_id", "INTEGER", False),
        ("amount", "REAL", False),
    ]
    assert orders.indexes == [
        {"name": "orders_customer_idx", "columns": ["customer_id"], "unique": False, "primary": False}
    ]
    fk = next(c for c in orders.constraints if c["type"] == "FOREIGN KEY")
    assert fk["references"] == {"table": "customers", "columns": ["id"]}
    assert {"type": "UNIQUE", "columns": ["email"]}.items() <= next(
        c for c in tables["customers"].constraints if c["type"] == "UNIQUE"
    ).items()


def test_query_returns_rows_as_objects(lite: Connector) -> None:
    result = lite.query("SELECT id, email, name FROM customers ORDER BY id", 100)
    assert result.rows == CUSTOMERS
    assert (result.row_count, result.has_more) == (3, False)


@pytest.mark.parametrize(("limit", "expected"), [(5, 5), (500, 20)])
def test_has_more_at_the_cap(lite: Connector, limit: int, expected: int) -> None:
    sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) SELECT i FROM n"
    result = lite.query(sql, limit)
    assert (result.row_count, result.has_more) == (expected, True)


def test_slow_query_times_out(lite: Connector) -> None:
    sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    with pytest.raises(ConnectorError) as caught:
        lite.query(sql, 1)
    assert caught.value.code == "TIMEOUT"
    assert lite.query("SELECT 1 AS ok", 1).rows == [{"ok": 1}]


@pytest.mark.parametrize(
    "sql", [sql for dialects, sql in REFUSED if "sqlite" in dialects], ids=lambda s: s[:50]
)
def test_write_attempts_refused_and_nothing_changes(lite: Connector, data_dir: Path, sql: str) -> None:
    before = counts(data_dir)
    with pytest.raises(ConnectorError) as caught:
        lite.query(sql, 10)
    assert caught.value.code == "QUERY_REFUSED"
    assert counts(data_dir) == before


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO customers (email) VALUES ('x@example.com')",
        "DELETE FROM orders",
        "CREATE TABLE intruder (id int)",
        "ATTACH DATABASE 'shop.db' AS other",
        "PRAGMA query_only = 0",
        "SELECT load_extension('/tmp/evil.so')",
        "SELECT 1; DELETE FROM orders",
    ],
)
def test_file_refuses_writes_even_past_the_parser(
    lite: Connector, data_dir: Path, monkeypatch: pytest.MonkeyPatch, sql: str
) -> None:
    """The second lock: read-only open, query_only, the authorizer, one statement per execute."""
    monkeypatch.setattr("datalab.connectors.sql_guard.check_read_only", lambda s, *_: s)
    before = counts(data_dir)
    with pytest.raises(ConnectorError) as caught:
        lite.query(sql, 10)
    assert caught.value.code in {"QUERY_REFUSED", "QUERY_INVALID", "QUERY_FAILED"}
    assert counts(data_dir) == before
