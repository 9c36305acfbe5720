"""The byte cap (QUERY_MAX_BYTES): every connector's answer stays within it, and says it was cut."""

from __future__ import annotations

import json
import resource
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from datalab.connectors import Connector, ConnectorError, Limits, QueryResult, open_connector
from datalab.connectors.rows import capped_schema
from tests.datalab.connectors.rest_server import RestServer

CAP = 64 * 1024
# Four values of 10 MB each: any one of them alone is 150 times the cap.
HUGE = {
    "postgresql": "SELECT repeat('x', 10000000) AS big FROM generate_series(1, 4)",
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4)"
    " SELECT zeroblob(10000000) AS big FROM n",
    "csv": "SELECT repeat('x', 10000000) AS big FROM range(4)",
    "mysql": "SELECT REPEAT('x', 1000000) AS big FROM customers",
}
# 1,000 rows of about 1 KB: the cap cuts them after about 60.
MANY = {
    "postgresql": "SELECT g, repeat('y', 1000) AS pad FROM generate_series(1, 1000) AS g",
    "sqlite": "WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < 1000)"
    " SELECT g, printf('%.1000c', 'y') AS pad FROM n",
    "csv": "SELECT range AS g, repeat('y', 1000) AS pad FROM range(1000)",
    "mysql": "WITH RECURSIVE n(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM n WHERE g < 1000)"
    " SELECT g, REPEAT('y', 1000) AS pad FROM n",
}
KINDS = list(HUGE)


@pytest.fixture
def capped(limits: Limits) -> Limits:
    """The test limits with a 64 KiB byte cap, room for 5,000 rows and time to build 10 MB values."""
    return replace(limits, max_query_bytes=CAP, max_rows=5000, query_timeout_s=20)


@pytest.fixture
def source(
    request: pytest.FixtureRequest, capped: Limits, pg_source: dict[str, Any], mysql_source: dict[str, Any]
) -> Iterator[Connector]:
    """A connector of the kind the test names."""
    kind = request.param
    configs = {"postgresql": pg_source, "mysql": mysql_source, "sqlite": {"path": "shop.db"}}
    connector = open_connector(kind, configs.get(kind, {"path": "customers.csv"}), capped)
    yield connector
    connector.close()


def answer_bytes(result: QueryResult) -> int:
    """The bytes the rows take in the answer, as the API writes them."""
    return len(json.dumps(result.rows, ensure_ascii=False, separators=(",", ":")).encode())


@pytest.mark.parametrize("source", KINDS, indirect=True)
def test_oversized_values_are_cut_not_held(source: Connector) -> None:
    result = source.query(HUGE[source_kind(source)], 10)
    assert (result.row_count, result.has_more, result.truncated) == (0, True, "bytes")
    assert answer_bytes(result) <= CAP


@pytest.mark.parametrize("source", KINDS, indirect=True)
def test_many_rows_stop_at_the_cap_with_truncated_bytes(source: Connector) -> None:
    result = source.query(MANY[source_kind(source)], 5000)
    assert (result.has_more, result.truncated) == (True, "bytes")
    assert 30 < result.row_count < 70
    assert answer_bytes(result) <= CAP
    numbers = [int(r["g"]) for r in result.rows]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))  # the first rows, in order


@pytest.mark.parametrize("source", KINDS, indirect=True)
def test_row_cap_says_rows_and_a_whole_answer_says_nothing(source: Connector) -> None:
    cut = source.query(MANY[source_kind(source)], 5)
    assert (cut.row_count, cut.has_more, cut.truncated) == (5, True, "rows")
    whole = source.query(MANY[source_kind(source)].replace("1000", "3"), 5000)
    assert (whole.row_count, whole.has_more, whole.truncated) == (3, False, None)


def test_rest_rows_stop_at_the_cap(rest_server: RestServer, limits: Limits) -> None:
    tiny = replace(limits, max_query_bytes=1024)
    connector = open_connector("rest_api", {"base_url": rest_server.url}, tiny)
    result = connector.query("/items", 20)
    connector.close()
    assert (result.has_more, result.truncated) == (True, "bytes")
    assert 0 < result.row_count < 20
    assert answer_bytes(result) <= 1024


def test_schema_answer_is_capped(pg_source: dict[str, Any], limits: Limits) -> None:
    connector = open_connector("postgresql", pg_source, limits)
    whole = connector.schema()
    connector.close()
    assert (len(whole.tables), whole.truncated) == (2, None)
    assert capped_schema(whole, 10 * 1024) == whole
    cut = capped_schema(whole, 600)
    assert (len(cut.tables), cut.truncated) == (1, "bytes")


def source_kind(connector: Connector) -> str:
    """The kind of source `connector` reads, as HUGE and MANY name it."""
    name = type(connector).__name__
    return {"PostgresConnector": "postgresql", "SQLiteConnector": "sqlite", "MySQLConnector": "mysql"}.get(
        name, "csv"
    )


def test_duckdb_builds_values_outside_the_server(capped: Limits) -> None:
    """800 MB of distinct strings are built in the bounded child, never in this process."""
    connector = open_connector("csv", {"path": "customers.csv"}, capped)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        result = connector.query("SELECT repeat('x', 100000000 + range) AS big FROM range(8)", 10)
        outcome: tuple[object, object] = (result.row_count, result.truncated)
    except ConnectorError as exc:  # the child ran out of its memory first
        outcome = (exc.code, "Out of Memory" in exc.message)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - peak_before
    assert outcome in {(0, "bytes"), ("QUERY_FAILED", True)}
    assert grown < 3 * 10 * 1024 * 1024
    assert connector.query("SELECT count(*) AS n FROM data", 1).rows == [{"n": 3}]
