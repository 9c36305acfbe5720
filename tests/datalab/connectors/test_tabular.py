"""Every file type DuckDB reads (CSV, JSON, Parquet, XLSX) queried as the table `data`, locked down."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from datalab.connectors import Connector, ConnectorError, Limits, open_connector
from tests.datalab.connectors.conftest import CUSTOMERS
from tests.datalab.connectors.test_sql_guard import REFUSED
from tests.source_files import TABULAR, broken_file, customers_file


@pytest.fixture(params=TABULAR)
def table(request: pytest.FixtureRequest, limits: Limits) -> Iterator[Connector]:
    """A connector on customers.<type>, for each file type read into DuckDB."""
    kind = request.param
    connector = open_connector(kind, {"path": customers_file(kind)}, limits)
    yield connector
    connector.close()


def digest(data_dir: Path) -> str:
    """A fingerprint of every file in the data directory, to prove none was written."""
    h = hashlib.sha256()
    for path in sorted(data_dir.rglob("*")):
        h.update(str(path).encode())
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def test_connection_succeeds(table: Connector) -> None:
    result = table.test()
    assert result.success, result.message
    assert result.metadata["rows"] == 3


@pytest.mark.parametrize(
    ("kind", "path", "code"),
    [
        *[(kind, f"missing.{kind}", "NO_SUCH_DATABASE") for kind in TABULAR],
        *[(kind, broken_file(kind), "BAD_RESPONSE") for kind in TABULAR],
        *[(kind, f"../{customers_file(kind)}", "PATH_REFUSED") for kind in TABULAR],
        *[(kind, "/etc/passwd", "PATH_REFUSED") for kind in TABULAR],
    ],
)
def test_connection_failures_are_clear(limits: Limits, kind: str, path: str, code: str) -> None:
    result = open_connector(kind, {"path": path}, limits).test()
    assert (result.success, result.error_code) == (False, code)
    # A missing file names the folder it should be in; no other failure shows a server path.
    assert (str(limits.data_dir) in result.message) is (code == "NO_SUCH_DATABASE")


@pytest.mark.parametrize("kind", TABULAR)
def test_malformed_file_refused_by_schema_and_query(limits: Limits, kind: str) -> None:
    connector = open_connector(kind, {"path": broken_file(kind)}, limits)
    for call in (connector.schema, lambda: connector.query("SELECT * FROM data", 5)):
        with pytest.raises(ConnectorError) as caught:
            call()
        assert caught.value.code == "BAD_RESPONSE"
        assert str(limits.data_dir) not in caught.value.message


def test_file_over_the_size_cap_refused(limits: Limits) -> None:
    result = open_connector("csv", {"path": "numbers.csv"}, replace(limits, max_file_bytes=10)).test()
    assert (result.success, result.error_code) == (False, "RESPONSE_TOO_LARGE")


def test_schema_is_one_table_named_data(table: Connector) -> None:
    tables = table.schema().tables
    assert [t.name for t in tables] == ["data"]
    assert [(c.name, c.type) for c in tables[0].columns] == [
        ("id", "BIGINT"),
        ("email", "VARCHAR"),
        ("name", "VARCHAR"),
    ]


def test_query_returns_rows_as_objects(table: Connector) -> None:
    result = table.query("SELECT id, email, name FROM data ORDER BY id", 100)
    assert result.rows == CUSTOMERS
    assert (result.row_count, result.has_more, result.columns) == (3, False, ["id", "email", "name"])


def test_query_with_sql_features(table: Connector) -> None:
    result = table.query("SELECT count(*) AS n, max(id) AS top FROM data WHERE name IS NOT NULL", 10)
    assert result.rows == [{"n": 2, "top": 2}]


@pytest.mark.parametrize(("limit", "expected"), [(5, 5), (500, 20)])
def test_has_more_at_the_cap(limits: Limits, limit: int, expected: int) -> None:
    connector = open_connector("csv", {"path": "numbers.csv"}, limits)
    result = connector.query("SELECT n FROM data ORDER BY n", limit)
    connector.close()
    assert (result.row_count, result.has_more) == (expected, True)
    assert result.rows[-1] == {"n": expected}


def test_slow_query_times_out(table: Connector) -> None:
    with pytest.raises(ConnectorError) as caught:
        table.query("SELECT sum(a.range * b.range) FROM range(100000000) a, range(1000) b", 1)
    assert caught.value.code == "TIMEOUT"
    assert table.query("SELECT count(*) AS n FROM data", 1).rows == [{"n": 3}]


@pytest.mark.parametrize(
    "sql", [sql for dialects, sql in REFUSED if "duckdb" in dialects], ids=lambda s: s[:50]
)
def test_write_and_file_attempts_refused(table: Connector, data_dir: Path, sql: str) -> None:
    before = digest(data_dir)
    with pytest.raises(ConnectorError) as caught:
        table.query(sql, 10)
    assert caught.value.code == "QUERY_REFUSED"
    assert digest(data_dir) == before


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM 'customers.csv'",
        "COPY data TO '/tmp/datalab-escape.csv'",
        "ATTACH '/tmp/datalab-escape.db' AS x",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
    ],
)
def test_engine_refuses_files_even_past_the_parser(
    table: Connector, data_dir: Path, monkeypatch: pytest.MonkeyPatch, sql: str
) -> None:
    """The second lock: external access is off and the configuration is locked."""
    monkeypatch.setattr("datalab.connectors.sql_guard.check_read_only", lambda s, *_: s)
    before = digest(data_dir)
    with pytest.raises(ConnectorError) as caught:
        table.query(sql, 10)
    assert caught.value.code in {"QUERY_REFUSED", "QUERY_INVALID", "QUERY_FAILED"}
    assert digest(data_dir) == before
    assert not Path("/tmp/datalab-escape.csv").exists()  # noqa: S108 - the file COPY was asked to write


def test_memory_hungry_query_fails_cleanly(limits: Limits, capfd: pytest.CaptureFixture[str]) -> None:
    """Each file source has a 256 MB engine and no disk spill: a huge sort fails, the server lives on."""
    connector = open_connector("csv", {"path": "numbers.csv"}, replace(limits, query_timeout_s=20))
    with pytest.raises(ConnectorError) as caught:
        connector.query(
            "SELECT a.range * b.range AS x FROM range(1000000) a, range(1000) b ORDER BY x DESC", 5
        )
    assert caught.value.code == "QUERY_FAILED"
    assert "Out of Memory" in caught.value.message
    assert connector.query("SELECT count(*) AS n FROM data", 1).rows == [{"n": 50}]
    connector.close()
    assert capfd.readouterr().out == ""
