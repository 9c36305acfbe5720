"""The read-only guard through the real connectors: hostile statements refused, nothing changed,
legitimate analytics still answered. Each dialect runs against its real server or file."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from datalab.connectors import Connector, ConnectorError, Limits, open_connector
from tests.datalab.connectors.conftest import files_snapshot, mysql_snapshot, pg_snapshot
from tests.datalab.connectors.sql_cases import HOSTILE, LEGIT, OUT_FILES


@pytest.fixture
def connect(
    pg_source: dict[str, Any], mysql_source: dict[str, Any], limits: Limits
) -> Iterator[Callable[[str], Connector]]:
    """Open a connector on the dialect's test source (csv for DuckDB); all closed afterwards."""
    configs = {
        "postgresql": ("postgresql", pg_source),
        "mysql": ("mysql", mysql_source),
        "sqlite": ("sqlite", {"path": "shop.db"}),
        "duckdb": ("csv", {"path": "customers.csv"}),
    }
    opened: list[Connector] = []

    def _open(dialect: str) -> Connector:
        source_type, config = configs[dialect]
        connector = open_connector(source_type, config, limits)
        opened.append(connector)
        return connector

    yield _open
    for connector in opened:
        connector.close()


def _snapshot(dialect: str, data_dir: Path) -> Any:
    if dialect == "postgresql":
        return pg_snapshot()
    if dialect == "mysql":
        return mysql_snapshot()
    return files_snapshot(data_dir, OUT_FILES)


@pytest.mark.parametrize("dialect", list(HOSTILE))
def test_hostile_statements_refused_and_nothing_changes(
    connect: Callable[[str], Connector], data_dir: Path, dialect: str, caplog: pytest.LogCaptureFixture
) -> None:
    statements = HOSTILE[dialect]
    assert len(statements) >= 100
    connector = connect(dialect)
    before = _snapshot(dialect, data_dir)
    let_through: list[str] = []
    wrong: list[tuple[str, str, str]] = []
    for sql in statements:
        try:
            connector.query(sql, 5)
        except ConnectorError as exc:
            if exc.code != "QUERY_REFUSED":
                wrong.append((sql[:80], exc.code, exc.message))
        else:
            let_through.append(sql[:80])
    assert let_through == []
    assert wrong == []
    assert _snapshot(dialect, data_dir) == before
    # Proof the guard (not the database) refused: the database's answer would name no function.
    with pytest.raises(
        ConnectorError, match=r"pg_read_file\(\)|load_file\(\)|load_extension\(\)|read_csv\(\)"
    ):
        connector.query(HOSTILE[dialect][0], 5)


@pytest.mark.parametrize(
    ("dialect", "sql", "named"),
    [
        ("postgresql", "SELECT U&\"pg\\005fread\\005ffile\"('/etc/passwd')", "pg_read_file"),
        ("postgresql", "SELECT U&\"lo\\005fimport\"('/etc/passwd')", "lo_import"),
        ("postgresql", "SELECT U&\"set\\005fconfig\"('work_mem', '1GB', false)", "set_config"),
        ("postgresql", 'SELECT U&"pg\\005fterminate\\005fbackend"(1)', "pg_terminate_backend"),
        ("postgresql", "SELECT * FROM U&\"pg\\005fls\\005fdir\"('.')", "pg_ls_dir"),
        ("postgresql", "SELECT U&\"pg!005fls!005fdir\" UESCAPE '!'('.')", "pg_ls_dir"),
        (
            "postgresql",
            "SELECT pg_create_physical_replication_slot('s')",
            "pg_create_physical_replication_slot",
        ),
        ("postgresql", "SELECT pg_replication_origin_create('o')", "pg_replication_origin_create"),
        ("postgresql", "SELECT pg_stat_reset()", "pg_stat_reset"),
        ("postgresql", "SELECT pg_logical_emit_message(true, 'p', 'x')", "pg_logical_emit_message"),
        ("postgresql", "SELECT txid_current()", "txid_current"),
        ("postgresql", "SELECT pg_export_snapshot()", "pg_export_snapshot"),
        ("postgresql", "SELECT PG_CATALOG.\"pg_read_file\"('/etc/passwd')", "pg_read_file"),
        ("mysql", "SELECT `LOAD_FILE`('/etc/passwd')", "load_file"),
        ("sqlite", "SELECT [load_extension]('x')", "load_extension"),
        ("duckdb", "SELECT '/etc/passwd'.read_text()", "read_text"),
    ],
)
def test_refusal_names_the_function(
    connect: Callable[[str], Connector], dialect: str, sql: str, named: str
) -> None:
    with pytest.raises(ConnectorError) as caught:
        connect(dialect).query(sql, 5)
    assert caught.value.code == "QUERY_REFUSED"
    assert f"{named}()" in caught.value.message


def test_merge_inside_a_cte_refused(connect: Callable[[str], Connector]) -> None:
    """PostgreSQL 17 runs MERGE ... RETURNING inside WITH; the guard refuses it on any version."""
    sql = (
        "WITH m AS (MERGE INTO customers c USING orders o ON c.id = o.customer_id"
        " WHEN MATCHED THEN DELETE RETURNING *) SELECT * FROM m"
    )
    with pytest.raises(ConnectorError) as caught:
        connect("postgresql").query(sql, 5)
    assert caught.value.code == "QUERY_REFUSED"
    assert "write or a command" in caught.value.message


DEEP = {
    "parentheses": "SELECT " + "(" * 5000 + "1" + ")" * 5000,
    "subqueries": "SELECT * FROM " + "(SELECT * FROM " * 3000 + "{table}" + ") AS s" * 3000,
    "case": "SELECT " + "CASE WHEN 1 = 1 THEN " * 3000 + "1" + " END" * 3000,
    "not": "SELECT " + "NOT " * 5000 + "true",
}


@pytest.mark.parametrize("kind", list(DEEP))
@pytest.mark.parametrize("dialect", list(HOSTILE))
def test_deep_nesting_refused_with_one_log_line(
    connect: Callable[[str], Connector], dialect: str, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Today's RecursionError (a 500 with a long traceback) becomes a refusal and one log line."""
    deep = DEEP[kind].replace("{table}", "data" if dialect == "duckdb" else "customers")
    with caplog.at_level(logging.WARNING):
        with pytest.raises(ConnectorError) as caught:
            connect(dialect).query(deep, 5)
    assert caught.value.code == "QUERY_REFUSED"
    assert "nests" in caught.value.message
    lines = [r for r in caplog.records if r.name.startswith("datalab")]
    assert len(lines) == 1
    assert lines[0].exc_info is None


@pytest.mark.parametrize(
    ("dialect", "sql"),
    [(d, sql) for d, queries in LEGIT.items() for sql in queries],
    ids=lambda v: str(v)[:50],
)
def test_legitimate_analytics_still_answered(
    connect: Callable[[str], Connector], dialect: str, sql: str
) -> None:
    result = connect(dialect).query(sql, 5)
    assert result.columns


@pytest.mark.parametrize(
    ("extra", "passes"),
    [({"postgresql": frozenset({"version"})}, True), ({"postgresql": frozenset({"pg_read_file"})}, False)],
)
def test_operator_may_add_functions_but_not_refused_ones(
    pg_source: dict[str, Any], limits: Limits, extra: dict[str, frozenset[str]], passes: bool
) -> None:
    from dataclasses import replace

    connector = open_connector("postgresql", pg_source, replace(limits, extra_functions=extra))
    name = next(iter(extra["postgresql"]))
    sql = f"SELECT {name}()" if passes else f"SELECT {name}('PG_VERSION')"
    try:
        if passes:
            assert connector.query(sql, 1).rows
        else:
            with pytest.raises(ConnectorError, match=f"{name}\\(\\)"):
                connector.query(sql, 1)
    finally:
        connector.close()
