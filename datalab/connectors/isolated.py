"""File sources (CSV, JSON, Parquet, XLSX) run in a child process with bounded memory, not in the server.

DuckDB runs in process and computes every value a query asks for, whatever our wrapper then
sends: `SELECT repeat('x', 100000000) FROM range(4)` grew the server by 480 MB even with the
byte cap, and DuckDB's memory_limit does not count such strings. So each operation on a file
source runs in a child forked from a forkserver (a clean process with DuckDB already
imported: no fork of the threaded server), under RLIMIT_DATA. A query past that fails inside
the child as DuckDB's own "Out of Memory" error; the server only ever receives the answer,
already cut at QUERY_MAX_BYTES. The SQL guard still runs here, in the server, before the child.
"""

from __future__ import annotations

import multiprocessing
import resource
from functools import lru_cache
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext
from typing import Any

from datalab.connectors import sql_guard
from datalab.connectors.base import ConnectorError, Limits, QueryResult, SchemaInfo, TestResult

# A child's address space for data: the interpreter and DuckDB, the file loaded (twice, as text
# and as a table), DuckDB's own 256 MB, and a few answers' worth of rows.
BASE_BYTES = 512 * 1024 * 1024
# Seconds past the connector's own timeouts before a silent child is killed.
GRACE_S = 2.0


@lru_cache(maxsize=1)
def _context() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["duckdb", "datalab.connectors.tabular"])
    return context


def child_memory(limits: Limits) -> int:
    """The data bytes one child may map."""
    return BASE_BYTES + 2 * limits.max_file_bytes + 4 * limits.max_query_bytes


def _serve(
    answer: Connection, kind: str, config: dict[str, Any], limits: Limits, call: tuple[Any, ...]
) -> None:
    memory = child_memory(limits)
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    from datalab.connectors.tabular import TabularConnector

    connector = TabularConnector(kind, config, limits)
    try:
        method, *args = call
        answer.send(("ok", getattr(connector, method)(*args)))
    except ConnectorError as exc:
        answer.send(("error", exc.code, exc.message))
    except MemoryError:
        answer.send(("error", "QUERY_FAILED", "Out of Memory: the query needs more than a source may use."))
    finally:
        connector.close()
        answer.close()


class IsolatedTabular:
    """A file source DuckDB reads (csv, json, parquet, xlsx), each operation in a bounded child process."""

    def __init__(self, kind: str, config: dict[str, Any], limits: Limits) -> None:
        self._kind = kind
        self._config = dict(config)
        self._limits = limits

    def _call(self, *call: Any) -> Any:
        context = _context()
        receive, send = context.Pipe(duplex=False)
        child = context.Process(target=_serve, args=(send, self._kind, self._config, self._limits, call))
        child.start()
        send.close()
        try:
            wait = self._limits.connect_timeout_s + self._limits.query_timeout_s + GRACE_S
            if not receive.poll(wait):
                raise ConnectorError("TIMEOUT", "The query ran past the time limit and was stopped.")
            outcome = receive.recv()
        except EOFError:
            # The child died without answering (killed for its memory, or a crash in the engine).
            raise ConnectorError(
                "QUERY_FAILED", "The query stopped: it needed more than a source may use."
            ) from None
        finally:
            receive.close()
            child.kill()
            child.join(5)
            child.close()
        if outcome[0] == "error":
            raise ConnectorError(outcome[1], outcome[2])
        return outcome[1]

    def test(self) -> TestResult:
        """Load the file in a child and count its rows."""
        try:
            result: TestResult = self._call("test")
        except ConnectorError as exc:
            return TestResult(False, exc.message, 0.0, error_code=exc.code)
        return result

    def schema(self) -> SchemaInfo:
        """The single table `data`, described in a child."""
        info: SchemaInfo = self._call("schema")
        return info

    def query(self, sql: str, limit: int) -> QueryResult:
        """Check `sql` here, then run it in a child."""
        statement = sql_guard.check_read_only(sql, "duckdb")
        result: QueryResult = self._call("query_checked", statement, limit)
        return result

    def close(self) -> None:
        """Nothing stays open: each child ends with its operation."""
