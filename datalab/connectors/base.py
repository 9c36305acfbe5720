"""The connector interface every data-source type implements, and what it answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Limits:
    """Bounds every connector works within, taken from the settings."""

    query_timeout_s: float = 30.0
    max_rows: int = 1000
    connect_timeout_s: float = 10.0
    max_response_bytes: int = 10 * 1024 * 1024
    data_dir: Path = Path("data")
    allow_networks: tuple[str, ...] = ()
    deny_networks: tuple[str, ...] = ()
    # host:port pairs of the application's own database: refused unless an allowed network covers them.
    own_endpoints: tuple[tuple[str, int], ...] = ()
    own_files: tuple[Path, ...] = ()
    # (host, port, database name) of the application's own databases: refused even when allowed.
    own_databases: tuple[tuple[str, int, str], ...] = ()
    # The app's own PostgreSQL (URL with its credentials, to read its system_identifier) and role:
    # on that server the app's database and role are refused however the host is spelled.
    own_postgres_url: str = field(default="", repr=False)
    own_role: str = ""
    # Functions an operator allows beyond the built-in list, per dialect (QUERY_EXTRA_FUNCTIONS).
    extra_functions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # DATA_SOURCE_ALLOW_PRIVILEGED: let superusers and file/process-capable accounts connect.
    allow_privileged: bool = False
    # A csv/json file is loaded whole into an in-memory engine; bigger files are refused.
    max_file_bytes: int = 100 * 1024 * 1024
    # The rows of one answer (and a schema answer) hold at most this many bytes of JSON.
    max_query_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class TestResult:
    """The outcome of a connection test."""

    success: bool
    message: str
    latency_ms: float
    metadata: dict[str, Any] = field(default_factory=dict)
    # The ConnectorError code when the test failed, None on success.
    error_code: str | None = None


@dataclass(frozen=True)
class Column:
    """One column of a table: name, type as the source names it, nullability."""

    name: str
    type: str
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    """One table (or view) with its columns, indexes and constraints."""

    name: str
    columns: list[Column]
    schema: str | None = None
    indexes: list[dict[str, Any]] = field(default_factory=list)
    constraints: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class SchemaInfo:
    """What a source holds; `truncated` is "bytes" when the tables were cut at the byte cap."""

    tables: list[Table]
    truncated: str | None = None


@dataclass(frozen=True)
class QueryResult:
    """Rows of a read-only query, cut at the row or the byte cap (`truncated` says which)."""

    columns: list[str]
    rows: list[dict[str, Any]]
    row_count: int
    execution_time_ms: float
    has_more: bool
    truncated: str | None = None


class ConnectorError(Exception):
    """A failure a user can act on; `message` is safe to show (no internals, no secrets).

    `code` is stable: BAD_CREDENTIALS, UNREACHABLE, TIMEOUT, NO_SUCH_DATABASE,
    QUERY_REFUSED, QUERY_INVALID, QUERY_FAILED, HOST_REFUSED, PATH_REFUSED, RESPONSE_TOO_LARGE, BAD_RESPONSE,
    PRIVILEGED_ACCOUNT.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Connector(Protocol):
    """One open connection to a data source; blocking, meant to run off the event loop."""

    def test(self) -> TestResult:
        """Connect, run a trivial probe, and report; never raises ConnectorError."""
        ...

    def schema(self) -> SchemaInfo:
        """Describe the tables, columns, indexes and constraints."""
        ...

    def query(self, sql: str, limit: int) -> QueryResult:
        """Run one read-only statement and return at most `limit` rows."""
        ...

    def close(self) -> None:
        """Release the connection; safe to call twice."""
        ...
