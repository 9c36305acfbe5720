"""PostgreSQL through psycopg2: every statement in a READ ONLY transaction with a statement timeout."""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from datalab.connectors import sql_guard
from datalab.connectors.accounts import check_postgres_account
from datalab.connectors.base import ConnectorError, Limits, QueryResult, SchemaInfo, Table, TestResult
from datalab.connectors.bounded import POSTGRES_SIZE, bounded_sql, describe_sql
from datalab.connectors.network import check_database, checked_address
from datalab.connectors.postgresql_schema import read_schema
from datalab.connectors.rows import Rows, collect, elapsed_ms, row_cap

_SSL_MODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
# Never let libpq pick up the server's own credentials for a user's host.
_NO_FILE = "/nonexistent/datalab-no-client-file"


def _connection_error(exc: psycopg2.Error) -> ConnectorError:
    text = str(exc).lower()
    if "password authentication failed" in text or "no password supplied" in text:
        return ConnectorError("BAD_CREDENTIALS", "The user name or password was refused.")
    if "role" in text and "does not exist" in text:
        return ConnectorError("BAD_CREDENTIALS", "The user name or password was refused.")
    if "database" in text and "does not exist" in text:
        return ConnectorError("NO_SUCH_DATABASE", "The database does not exist on the server.")
    if "timeout expired" in text or "timed out" in text:
        return ConnectorError("TIMEOUT", "The server did not answer in time.")
    if "ssl" in text:
        return ConnectorError("UNREACHABLE", "The TLS connection could not be established (check sslmode).")
    if "no pg_hba.conf entry" in text or "permission denied" in text:
        return ConnectorError("BAD_CREDENTIALS", "The server refused this user or database.")
    return ConnectorError("UNREACHABLE", "The server could not be reached (connection refused or no route).")


def query_error(exc: psycopg2.Error) -> ConnectorError:
    """Map an error raised while a statement ran to a clear message without internals."""
    if isinstance(exc, psycopg2.errors.QueryCanceled):
        return ConnectorError("TIMEOUT", "The query ran past the time limit and was cancelled.")
    if isinstance(exc, psycopg2.errors.ReadOnlySqlTransaction):
        return ConnectorError("QUERY_REFUSED", "The database refused a write: queries are read-only.")
    if isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError) and exc.pgcode is None:
        return ConnectorError("UNREACHABLE", "The connection to the server was lost.")
    message = getattr(getattr(exc, "diag", None), "message_primary", None) or "The query failed."
    # SQLSTATE class 42 (syntax error or access rule violation) is the query's own mistake, but for
    # 42501 (insufficient privilege), which is the source's permissions.
    pgcode = exc.pgcode or ""
    code = "QUERY_INVALID" if pgcode.startswith("42") and pgcode != "42501" else "QUERY_FAILED"
    return ConnectorError(code, message.splitlines()[0][:300])


class PostgresConnector:
    """A PostgreSQL source; connects on first use, to the address the network guard checked."""

    def __init__(self, config: dict[str, Any], limits: Limits) -> None:
        self._config = config
        self._limits = limits
        self._conn: psycopg2.extensions.connection | None = None

    def _connect(self) -> psycopg2.extensions.connection:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        host, port = str(self._config["host"]), int(self._config.get("port") or 5432)
        database = str(self._config["database"])
        address = checked_address(host, port, self._limits)
        check_database(address, port, database, self._limits)
        sslmode = str(self._config.get("sslmode") or "prefer")
        if sslmode not in _SSL_MODES:
            raise ConnectorError("UNREACHABLE", "sslmode is not one PostgreSQL knows.")
        timeout_ms = int(self._limits.query_timeout_s * 1000)
        try:
            conn = psycopg2.connect(
                host=host,  # kept for TLS verification; the connection goes to hostaddr
                hostaddr=address,
                port=port,
                dbname=database,
                user=str(self._config.get("username") or ""),
                password=str(self._config.get("password") or ""),
                sslmode=sslmode,
                connect_timeout=max(2, int(self._limits.connect_timeout_s)),
                passfile=_NO_FILE,
                sslcert=_NO_FILE,
                sslkey=_NO_FILE,
                gssencmode="disable",
                application_name="datalab",
                # standard_conforming_strings: string literals end where the SQL check saw them end.
                options=(
                    f"-c default_transaction_read_only=on -c statement_timeout={timeout_ms}"
                    " -c standard_conforming_strings=on"
                ),
            )
        except psycopg2.Error as exc:
            raise _connection_error(exc) from None
        conn.set_session(readonly=True)
        try:
            with conn, conn.cursor() as cur:
                check_postgres_account(cur, self._limits)
        except (ConnectorError, psycopg2.Error) as exc:
            conn.close()
            raise (exc if isinstance(exc, ConnectorError) else query_error(exc)) from None
        self._conn = conn
        return conn

    def test(self) -> TestResult:
        """Connect and read the server version."""
        started = time.perf_counter()
        try:
            conn = self._connect()
            with conn:
                with conn.cursor() as cur:
                    cur.execute("SELECT version(), current_database(), current_user")
                    version, database, user = cur.fetchone() or ("", "", "")
        except ConnectorError as exc:
            return TestResult(False, exc.message, elapsed_ms(started), error_code=exc.code)
        except psycopg2.Error as exc:
            err = query_error(exc)
            return TestResult(False, err.message, elapsed_ms(started), error_code=err.code)
        metadata = {"server_version": str(version).split(",")[0], "database": database, "user": user}
        return TestResult(True, "Connected.", elapsed_ms(started), metadata)

    def schema(self) -> SchemaInfo:
        """Read tables, views, columns, indexes and constraints outside the system schemas."""
        conn = self._connect()
        try:
            with conn:
                with conn.cursor() as cur:
                    tables: list[Table] = read_schema(cur)
        except psycopg2.Error as exc:
            raise query_error(exc) from None
        return SchemaInfo(tables=tables)

    def query(self, sql: str, limit: int) -> QueryResult:
        """Run one read-only SELECT through a server-side cursor, within the row and byte caps."""
        extra = self._limits.extra_functions.get("postgresql", frozenset())
        statement = sql_guard.check_read_only(sql, "postgresql", extra)
        cap = row_cap(limit, self._limits)
        max_bytes = self._limits.max_query_bytes
        conn = self._connect()
        started = time.perf_counter()
        try:
            # `with conn` is one transaction, READ ONLY by the session; rolled back on error.
            with conn:
                timeout_ms = int(self._limits.query_timeout_s * 1000)
                with conn.cursor() as setup:
                    setup.execute("SET LOCAL statement_timeout = %s", (timeout_ms,))
                    setup.execute(describe_sql(statement))
                    names = [d.name for d in setup.description or ()]
                rows = Rows(names, cap, max_bytes)
                # A named cursor is DECLARE ... CURSOR FOR <statement>: the server accepts only a
                # SELECT or VALUES there, and sends just the rows we fetch, not the whole result.
                # The statement is wrapped so the server sends no row past the byte cap (bounded.py).
                with conn.cursor(name=f"datalab_{uuid.uuid4().hex}") as cur:
                    # A statement without columns (SELECT FROM t) has nothing to measure or wrap.
                    cur.execute(
                        bounded_sql(statement, len(names), max_bytes, POSTGRES_SIZE) if names else statement
                    )
                    collect(rows, cur.fetchmany, sized=bool(names))
        except psycopg2.Error as exc:
            raise query_error(exc) from None
        return rows.result(started)

    def close(self) -> None:
        """Close the connection if one is open."""
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None
