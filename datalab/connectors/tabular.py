"""CSV, JSON, Parquet and XLSX files as one table named `data`, queried with DuckDB locked away from the disk.

The file is loaded into an in-memory DuckDB, then external access is switched off and the
configuration locked: no query can read another file, reach a URL, load an extension or turn the
setting back on. Writes can only touch that private in-memory copy, never the file. An XLSX
workbook is first checked like a dataset upload (no zip bomb) and its first sheet written to a
temporary CSV (xlsx_file.py), which is loaded and deleted before any query runs.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import duckdb

from datalab.connectors import sql_guard
from datalab.connectors.base import (
    Column,
    ConnectorError,
    Limits,
    QueryResult,
    SchemaInfo,
    Table,
    TestResult,
)
from datalab.connectors.bounded import DUCKDB_SIZE, bounded_sql, describe_sql
from datalab.connectors.files import resolve_source_file
from datalab.connectors.rows import Rows, collect, elapsed_ms, row_cap
from datalab.connectors.xlsx_file import readable_copy

# The DuckDB reader of each file type; an XLSX workbook is read through its CSV copy.
_READERS = {
    "csv": "read_csv_auto",
    "json": "read_json_auto",
    "parquet": "read_parquet",
    "xlsx": "read_csv_auto",
}
_LOCKED_CONFIG: dict[str, str | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    # One thread and a memory bound per source, and no spilling to disk: a heavy query on one
    # file must not starve the server or fill its disk.
    "threads": 1,
    "memory_limit": "256MB",
    "temp_directory": "",
}


def _duckdb_error(exc: duckdb.Error) -> ConnectorError:
    if isinstance(exc, duckdb.InterruptException):
        return ConnectorError("TIMEOUT", "The query ran past the time limit and was stopped.")
    if isinstance(exc, duckdb.PermissionException):
        return ConnectorError("QUERY_REFUSED", "The query tried to reach outside the source's data.")
    text = str(exc).split("\n")[0]
    # DuckDB prefixes a category ("Binder Error: ..."); the rest names columns, not paths.
    invalid = isinstance(exc, duckdb.CatalogException | duckdb.BinderException | duckdb.ParserException)
    return ConnectorError("QUERY_INVALID" if invalid else "QUERY_FAILED", text[:300] or "The query failed.")


class TabularConnector:
    """A csv, json, parquet or xlsx file inside the data directory, exposed as the table `data`."""

    def __init__(self, kind: str, config: dict[str, Any], limits: Limits) -> None:
        self._kind = kind
        self._path = str(config.get("path") or "")
        self._limits = limits
        self._conn: duckdb.DuckDBPyConnection | None = None

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self._conn is not None:
            return self._conn
        real = resolve_source_file(self._path, self._limits)
        if real.stat().st_size > self._limits.max_file_bytes:
            raise ConnectorError("RESPONSE_TOO_LARGE", "The file is larger than the configured limit.")
        with readable_copy(self._kind, real, self._limits.max_file_bytes) as readable:
            self._conn = self._load(readable)
        return self._conn

    def _load(self, real: Path) -> duckdb.DuckDBPyConnection:
        conn = duckdb.connect(":memory:", config=dict(_LOCKED_CONFIG))
        literal = "'" + str(real).replace("'", "''") + "'"
        try:
            with self._clock(conn):
                # The path is ours (resolved in the jail) and quoted as a literal; DuckDB takes no
                # parameters in DDL.
                reader = _READERS[self._kind]
                conn.execute(f"CREATE TABLE data AS SELECT * FROM {reader}({literal})")  # noqa: S608
            # Otherwise DuckDB draws a progress bar on the server's stdout for slow queries.
            conn.execute("SET enable_progress_bar = false")
            conn.execute("SET enable_external_access = false")
            conn.execute("SET lock_configuration = true")
        except duckdb.Error as exc:
            conn.close()
            if isinstance(exc, duckdb.InterruptException):
                raise _duckdb_error(exc) from None
            raise ConnectorError(
                "BAD_RESPONSE", f"The file could not be read as {self._kind.upper()}."
            ) from None
        return conn

    def _clock(self, conn: duckdb.DuckDBPyConnection) -> _Deadline:
        return _Deadline(conn, self._limits.query_timeout_s)

    def test(self) -> TestResult:
        """Load the file and count its rows."""
        started = time.perf_counter()
        try:
            conn = self._connect()
            row = conn.execute("SELECT count(*) FROM data").fetchone()
        except ConnectorError as exc:
            return TestResult(False, exc.message, elapsed_ms(started), error_code=exc.code)
        except duckdb.Error as exc:
            err = _duckdb_error(exc)
            return TestResult(False, err.message, elapsed_ms(started), error_code=err.code)
        metadata = {
            "rows": row[0] if row else 0,
            "format": self._kind,
            "engine": f"duckdb {duckdb.__version__}",
        }
        return TestResult(True, "Read the file.", elapsed_ms(started), metadata)

    def schema(self) -> SchemaInfo:
        """The single table `data` with the column types DuckDB inferred."""
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                "WHERE table_name = 'data' ORDER BY ordinal_position"
            ).fetchall()
        except duckdb.Error as exc:
            raise _duckdb_error(exc) from None
        columns = [Column(str(name), str(type_), nullable == "YES") for name, type_, nullable in rows]
        return SchemaInfo(tables=[Table(name="data", columns=columns)])

    def query(self, sql: str, limit: int) -> QueryResult:
        """Run one read-only SELECT in DuckDB, interrupted past the time limit."""
        extra = self._limits.extra_functions.get("duckdb", frozenset())
        return self.query_checked(sql_guard.check_read_only(sql, "duckdb", extra), limit)

    def query_checked(self, statement: str, limit: int) -> QueryResult:
        """Run a statement the SQL guard has already passed (the isolated child's entry)."""
        cap = row_cap(limit, self._limits)
        max_bytes = self._limits.max_query_bytes
        conn = self._connect()
        started = time.perf_counter()
        try:
            with self._clock(conn):
                names = [d[0] for d in conn.execute(describe_sql(statement)).description or ()]
                rows = Rows(names, cap, max_bytes)
                # Each row is measured by DuckDB and sent as NULLs past the cap (bounded.py), so no
                # oversized value is converted to Python. DuckDB still computes it in its own
                # memory, which is why file sources run in a bounded child (isolated.py).
                wrapped = bounded_sql(statement, len(names), max_bytes, DUCKDB_SIZE) if names else statement
                cur = conn.execute(wrapped)
                collect(rows, cur.fetchmany, sized=bool(names))
        except duckdb.Error as exc:
            raise _duckdb_error(exc) from None
        return rows.result(started)

    def close(self) -> None:
        """Drop the in-memory copy."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class _Deadline:
    """Interrupt the DuckDB connection if the block runs past `seconds`."""

    def __init__(self, conn: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self._timer = threading.Timer(seconds, conn.interrupt)
        self._timer.daemon = True

    def __enter__(self) -> None:
        self._timer.start()

    def __exit__(self, *_exc: object) -> None:
        self._timer.cancel()
