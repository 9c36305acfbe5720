"""SQLite files inside the data directory, opened read-only with an authorizer and a time limit."""

from __future__ import annotations

import sqlite3
import time
import urllib.parse
from pathlib import Path
from typing import Any

from datalab.connectors import sql_guard, sql_rules
from datalab.connectors.base import ConnectorError, Limits, QueryResult, SchemaInfo, TestResult
from datalab.connectors.files import resolve_source_file
from datalab.connectors.rows import Rows, collect, elapsed_ms, row_cap
from datalab.connectors.sqlite_schema import READ_PRAGMAS, read_schema

# What a read may do; everything else (writes, ATTACH, DETACH, other pragmas) is denied.
_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE}


def _authorizer(
    action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None
) -> int:
    if action in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION:
        name = (arg2 or "").lower()
        return sqlite3.SQLITE_DENY if sql_rules.hard_refused(name) else sqlite3.SQLITE_OK
    # Only pragmas that read the schema; their argument is a table or index name, never a value to set.
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in READ_PRAGMAS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


# The query's own mistakes, as SQLite words them.
_INVALID = ("no such table", "no such column", "syntax error", "no such function")


def _sqlite_error(exc: sqlite3.Error) -> ConnectorError:
    text = str(exc)
    if "interrupted" in text:
        return ConnectorError("TIMEOUT", "The query ran past the time limit and was stopped.")
    if "not authorized" in text or "readonly" in text or "read-only" in text:
        return ConnectorError("QUERY_REFUSED", "The database refused the statement: queries are read-only.")
    if "file is not a database" in text:
        return ConnectorError("NO_SUCH_DATABASE", "The file is not a SQLite database.")
    # The query's own mistakes, as SQLite words them.
    invalid = any(
        words in text for words in ("no such table", "no such column", "syntax error", "no such function")
    )
    code = "QUERY_INVALID" if invalid else "QUERY_FAILED"
    return ConnectorError(code, text.splitlines()[0][:300] if text else "The query failed.")


def _too_big(exc: sqlite3.Error) -> bool:
    return "too big" in str(exc)


def _fetch_within_limit(cur: sqlite3.Cursor, n: int, rows: Rows) -> list[Any]:
    # A value past SQLITE_LIMIT_LENGTH ends the answer at the rows before it.
    try:
        return cur.fetchmany(n)
    except sqlite3.DataError as exc:
        if not _too_big(exc):
            raise
        rows.cut_by_bytes()
        return []


class SQLiteConnector:
    """A SQLite file; read-only URI, PRAGMA query_only, an authorizer and a progress-handler deadline."""

    def __init__(self, config: dict[str, Any], limits: Limits) -> None:
        self._path = str(config.get("path") or "")
        self._limits = limits
        self._conn: sqlite3.Connection | None = None
        self._deadline = 0.0

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        real: Path = resolve_source_file(self._path, self._limits)
        uri = f"file:{urllib.parse.quote(str(real))}?mode=ro"
        try:
            # Calls may come from different pool threads, one at a time.
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=1.0)
            conn.execute("PRAGMA query_only = 1")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            raise _sqlite_error(exc) from None
        # No string or blob may grow past the byte cap inside SQLite, which runs in this process:
        # `zeroblob(1e9)` or a huge stored value fails there ("string or blob too big") instead
        # of being built here. The query answers the rows before it, cut by bytes.
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, self._limits.max_query_bytes)
        conn.set_authorizer(_authorizer)
        conn.set_progress_handler(self._past_deadline, 10_000)
        self._conn = conn
        return conn

    def _past_deadline(self) -> int:
        return 1 if self._deadline and time.monotonic() > self._deadline else 0

    def _start_clock(self) -> None:
        self._deadline = time.monotonic() + self._limits.query_timeout_s

    def test(self) -> TestResult:
        """Open the file read-only and count its tables."""
        started = time.perf_counter()
        try:
            conn = self._connect()
            self._start_clock()
            tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
            version = conn.execute("SELECT sqlite_version()").fetchone()
        except ConnectorError as exc:
            return TestResult(False, exc.message, elapsed_ms(started), error_code=exc.code)
        except sqlite3.Error as exc:
            err = _sqlite_error(exc)
            return TestResult(False, err.message, elapsed_ms(started), error_code=err.code)
        metadata = {"server_version": version[0], "tables": tables[0]}
        return TestResult(True, "Opened the file read-only.", elapsed_ms(started), metadata)

    def schema(self) -> SchemaInfo:
        """Read tables and views with their columns, indexes and constraints."""
        conn = self._connect()
        self._start_clock()
        try:
            return SchemaInfo(tables=read_schema(conn))
        except sqlite3.Error as exc:
            raise _sqlite_error(exc) from None

    def query(self, sql: str, limit: int) -> QueryResult:
        """Run one read-only SELECT, stopped by the progress handler past the time limit."""
        statement = sql_guard.check_read_only(sql, "sqlite", self._limits.extra_functions.get("sqlite", ()))
        cap = row_cap(limit, self._limits)
        conn = self._connect()
        started = time.perf_counter()
        self._start_clock()
        try:
            cur = conn.execute(statement)
            rows = Rows([d[0] for d in cur.description or ()], cap, self._limits.max_query_bytes)
            collect(rows, lambda n: _fetch_within_limit(cur, n, rows))
            cur.close()
        except sqlite3.DataError as exc:
            if not _too_big(exc):
                raise _sqlite_error(exc) from None
            # The first row already held a value past the cap: nothing to answer but the cut.
            rows = Rows([], cap, self._limits.max_query_bytes)
            rows.cut_by_bytes()
        except sqlite3.Error as exc:
            raise _sqlite_error(exc) from None
        return rows.result(started)

    def close(self) -> None:
        """Close the file."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
