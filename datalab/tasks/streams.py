"""Row streams for tasks: a source's rows in batches, and a way to interrupt it from another thread.

The connectors' `query()` returns a capped list for one request; a task needs every row without
holding them, and a cancel that reaches the server. Each stream opens its connector's guarded
connection (network, file and read-only rules unchanged) and runs the statement after the same
`sql_guard.check_read_only` (with the same extra functions). One entry per source type in
`STREAMS`; every file type DuckDB reads (the registry's "duckdb" dialect) and every dataset
streams through `DuckDBStream`; a dataset's column profile is a `ProfileStream`.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, Protocol

import duckdb
import psycopg2
import pymysql
import pymysql.cursors

from datalab.connectors import open_connector, sql_guard
from datalab.connectors.base import ConnectorError, Limits
from datalab.connectors.mysql import MySQLConnector, mysql_error
from datalab.connectors.postgresql import PostgresConnector, query_error
from datalab.connectors.registry import KINDS
from datalab.connectors.rows import unique_names
from datalab.connectors.sqlite import SQLiteConnector, _sqlite_error
from datalab.connectors.tabular import TabularConnector, _duckdb_error
from datalab.datasets.reading import DatasetConnector

Batch = Sequence[Sequence[Any]]


class Interrupted(Exception):
    """The stream was interrupted on request (a cancel), not by a failure."""


class RowStream(Protocol):
    """An open query: column names, rows in batches, an interrupt callable from any thread."""

    columns: list[str]

    def batches(self, size: int) -> Iterator[Batch]:
        """Yield the rows in batches of at most `size`."""
        ...

    def interrupt(self) -> None:
        """Stop the running statement at the source; safe to call from another thread."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


def _guard(sql: str, dialect: str, limits: Limits) -> str:
    return sql_guard.check_read_only(sql, dialect, limits.extra_functions.get(dialect, frozenset()))


class _Stream:
    """Shared bookkeeping: the interrupt flag, and turning driver errors into ConnectorError."""

    columns: list[str]

    def __init__(self) -> None:
        self.interrupted = threading.Event()

    def _fail(self, error: ConnectorError) -> Exception:
        return Interrupted() if self.interrupted.is_set() else error


class PostgresStream(_Stream):
    """A server-side cursor in a READ ONLY transaction; cancel is libpq's cancel request."""

    def __init__(self, config: dict[str, Any], limits: Limits, sql: str) -> None:
        super().__init__()
        statement = _guard(sql, "postgresql", limits)
        self._statement, self._timeout_ms = statement, int(limits.query_timeout_s * 1000)
        self._connector = PostgresConnector(config, limits)
        self._conn = self._connector._connect()
        self.columns = []

    def batches(self, size: int) -> Iterator[Batch]:
        """Run the statement, then fetch `size` rows per round trip until the cursor is drained."""
        try:
            with self._conn.cursor() as setup:
                setup.execute("SET LOCAL statement_timeout = %s", (self._timeout_ms,))
            self._cur = self._conn.cursor(name=f"datalab_task_{uuid.uuid4().hex}")
            self._cur.execute(self._statement)
            while rows := self._cur.fetchmany(size):
                if not self.columns:
                    self.columns = unique_names([d.name for d in self._cur.description or ()])
                yield rows
            if not self.columns:
                self.columns = unique_names([d.name for d in self._cur.description or ()])
        except psycopg2.Error as exc:
            raise self._fail(query_error(exc)) from None

    def interrupt(self) -> None:
        """Send a cancel request for the running statement (pg_cancel_backend's path)."""
        self.interrupted.set()
        self._conn.cancel()

    def close(self) -> None:
        """Roll back and close."""
        self._connector.close()


class MySQLStream(_Stream):
    """An unbuffered cursor in a READ ONLY transaction; cancel is KILL QUERY from a second connection."""

    def __init__(self, config: dict[str, Any], limits: Limits, sql: str) -> None:
        super().__init__()
        statement = _guard(sql, "mysql", limits)
        self._config, self._limits = config, limits
        self._connector = MySQLConnector(config, limits)
        self._conn = self._connector._connect()
        self._thread_id = self._conn.thread_id()  # type: ignore[no-untyped-call]
        self._statement = statement
        self.columns = []

    def batches(self, size: int) -> Iterator[Batch]:
        """Run the statement, then stream `size` rows at a time off the socket."""
        try:
            with self._conn.cursor() as setup:
                setup.execute("START TRANSACTION READ ONLY")
            self._cur = self._conn.cursor(pymysql.cursors.SSCursor)
            self._cur.execute(self._statement)
            self.columns = unique_names([d[0] for d in self._cur.description or ()])
            while rows := self._cur.fetchmany(size):
                yield rows
        except pymysql.MySQLError as exc:
            raise self._fail(mysql_error(exc)) from None

    def interrupt(self) -> None:
        """Kill the running statement, as the same account, from a fresh guarded connection."""
        self.interrupted.set()
        killer = MySQLConnector(self._config, self._limits)
        try:
            with killer._connect().cursor() as cur:
                cur.execute("KILL QUERY %s", (self._thread_id,))
        finally:
            killer.close()

    def close(self) -> None:
        """Drop the connection (closing an unfinished unbuffered result would read it all)."""
        self._connector.close()


class SQLiteStream(_Stream):
    """A read-only SQLite file; cancel is sqlite3's interrupt()."""

    def __init__(self, config: dict[str, Any], limits: Limits, sql: str) -> None:
        super().__init__()
        statement = _guard(sql, "sqlite", limits)
        self._connector = SQLiteConnector(config, limits)
        self._conn = self._connector._connect()
        self._statement = statement
        self.columns = []

    def batches(self, size: int) -> Iterator[Batch]:
        """Run the statement, then step it `size` rows at a time."""
        try:
            self._connector._start_clock()
            self._cur = self._conn.execute(self._statement)
            self.columns = unique_names([d[0] for d in self._cur.description or ()])
            while rows := self._cur.fetchmany(size):
                yield rows
        except sqlite3.Error as exc:
            raise self._fail(_sqlite_error(exc)) from None

    def interrupt(self) -> None:
        """Abort the running statement at its next step."""
        self.interrupted.set()
        self._conn.interrupt()

    def close(self) -> None:
        """Close the file."""
        self._connector.close()


class DuckDBStream(_Stream):
    """A file source or a dataset in DuckDB (its connector's table `data`); cancel is interrupt()."""

    def __init__(self, connector: TabularConnector, limits: Limits, sql: str) -> None:
        super().__init__()
        statement = _guard(sql, "duckdb", limits)
        self._connector = connector
        self._conn = self._connector._connect()
        self._timer = threading.Timer(limits.query_timeout_s, self._conn.interrupt)
        self._timer.daemon = True
        self._statement = statement
        self.columns = []

    def batches(self, size: int) -> Iterator[Batch]:
        """Run the statement, then fetch `size` rows at a time from the result."""
        try:
            self._timer.start()
            self._conn.execute(self._statement)
            self.columns = unique_names([d[0] for d in self._conn.description or ()])
            while rows := self._conn.fetchmany(size):
                yield rows
        except duckdb.Error as exc:
            raise self._fail(_duckdb_error(exc)) from None

    def interrupt(self) -> None:
        """Interrupt the running query."""
        self.interrupted.set()
        self._conn.interrupt()

    def close(self) -> None:
        """Stop the clock and drop the in-memory copy."""
        self._timer.cancel()
        self._connector.close()


def file_stream(kind: str, config: dict[str, Any], limits: Limits, sql: str) -> DuckDBStream:
    """Open a stream on a file source of type `kind`, loaded as its connector loads it."""
    return DuckDBStream(TabularConnector(kind, config, limits), limits, sql)


class ProfileStream(_Stream):
    """A dataset's column profile, as the dataset's profile route computes it: one row per column."""

    def __init__(self, connector: DatasetConnector) -> None:
        super().__init__()
        self._connector = connector
        self._conn = connector._connect()
        self.columns = ["name", "type", "nulls", "distinct", "min", "max", "mean"]

    def batches(self, size: int) -> Iterator[Batch]:
        """Compute the profile (one aggregate query) and yield it as one batch."""
        try:
            profile = self._connector.profile()
        except ConnectorError as exc:
            raise self._fail(exc) from None
        yield [[column[name] for name in self.columns] for column in profile]

    def interrupt(self) -> None:
        """Interrupt the aggregate query."""
        self.interrupted.set()
        self._conn.interrupt()

    def close(self) -> None:
        """Drop the view."""
        self._connector.close()


class RestStream(_Stream):
    """A REST path: one bounded request (REST_MAX_RESPONSE_BYTES, its timeout), one batch."""

    def __init__(self, config: dict[str, Any], limits: Limits, sql: str) -> None:
        super().__init__()
        connector = open_connector("rest_api", config, limits)
        try:
            result = connector.query(sql, limits.max_rows)
        finally:
            connector.close()
        self.columns = result.columns
        self._rows = [[row[c] for c in result.columns] for row in result.rows]

    def batches(self, size: int) -> Iterator[Batch]:
        """Yield the rows already read."""
        for start in range(0, len(self._rows), size):
            yield self._rows[start : start + size]

    def interrupt(self) -> None:
        """Nothing runs at the source once the answer is read."""
        self.interrupted.set()

    def close(self) -> None:
        """Nothing to release."""


Opener = Callable[[dict[str, Any], Limits, str], RowStream]
STREAMS: dict[str, Opener] = {
    "postgresql": PostgresStream,
    "mysql": MySQLStream,
    "sqlite": SQLiteStream,
    "rest_api": RestStream,
    **{name: partial(file_stream, name) for name, kind in KINDS.items() if kind.dialect == "duckdb"},
}
