"""MySQL and MariaDB through PyMySQL: read-only transactions, a statement time limit, no multi-statements."""

from __future__ import annotations

import ssl
import time
from typing import Any

import pymysql
import pymysql.cursors

from datalab.connectors import sql_guard
from datalab.connectors.accounts import check_mysql_account
from datalab.connectors.base import ConnectorError, Limits, QueryResult, SchemaInfo, TestResult
from datalab.connectors.mysql_schema import read_schema
from datalab.connectors.network import check_database, checked_address
from datalab.connectors.rows import Rows, collect, elapsed_ms, row_cap

_TIMEOUTS = {1969, 3024, 2013}  # MariaDB max_statement_time, MySQL max_execution_time, lost during query
# The query's own mistakes: no such table, unknown column, syntax, ambiguous column, no such function.
_INVALID = {1146, 1054, 1064, 1052, 1305}


def mysql_error(exc: pymysql.MySQLError) -> ConnectorError:
    """Map a PyMySQL error to a clear message; the server's text only where it names no host or user."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    text = str(exc.args[1]) if len(exc.args) > 1 else ""
    if code in (1045, 1698):
        return ConnectorError("BAD_CREDENTIALS", "The user name or password was refused.")
    if code == 1044:
        return ConnectorError("BAD_CREDENTIALS", "This user may not open that database.")
    if code == 1049:
        return ConnectorError("NO_SUCH_DATABASE", "The database does not exist on the server.")
    if code in _TIMEOUTS or "timed out" in text:
        return ConnectorError("TIMEOUT", "The server did not answer in time.")
    if code == 1792:
        return ConnectorError("QUERY_REFUSED", "The database refused a write: queries are read-only.")
    if code in (2003, 2006, 2014) or code >= 2000 or isinstance(exc, pymysql.OperationalError) and code == 0:
        return ConnectorError("UNREACHABLE", "The server could not be reached (connection refused or lost).")
    code_name = "QUERY_INVALID" if code in _INVALID else "QUERY_FAILED"
    return ConnectorError(code_name, text.splitlines()[0][:300] if text else "The query failed.")


def _ssl_context(mode: str) -> ssl.SSLContext | None:
    if mode in ("", "disable"):
        return None
    context = ssl.create_default_context()
    if mode == "require":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif mode == "verify-ca":
        # The connection goes to the checked IP, so the name cannot be matched; the CA still is.
        context.check_hostname = False
    else:
        raise ConnectorError("UNREACHABLE", "sslmode for MySQL is one of disable, require, verify-ca.")
    return context


def _abandon(cursor: pymysql.cursors.SSCursor) -> None:
    pending = getattr(cursor, "_result", None)
    if pending is not None:
        pending.unbuffered_active = False
    cursor.connection = None  # type: ignore[assignment]


class MySQLConnector:
    """A MySQL or MariaDB source; connects on first use, to the address the network guard checked."""

    def __init__(self, config: dict[str, Any], limits: Limits) -> None:
        self._config = config
        self._limits = limits
        self._conn: pymysql.connections.Connection[Any] | None = None

    def _connect(self) -> pymysql.connections.Connection[Any]:
        if self._conn is not None and self._conn.open:
            return self._conn
        host, port = str(self._config["host"]), int(self._config.get("port") or 3306)
        database = str(self._config["database"])
        address = checked_address(host, port, self._limits)
        check_database(address, port, database, self._limits)
        timeout = self._limits.query_timeout_s
        try:
            conn = pymysql.connect(
                host=address,
                port=port,
                user=str(self._config.get("username") or ""),
                password=str(self._config.get("password") or ""),
                database=database,
                connect_timeout=max(1.0, self._limits.connect_timeout_s),
                # The server stops the statement at `timeout`; the socket gives up a little later.
                read_timeout=timeout + 2,
                write_timeout=timeout + 2,
                ssl=_ssl_context(str(self._config.get("sslmode") or "")),
                local_infile=False,
                autocommit=False,
                charset="utf8mb4",
            )
            with conn.cursor() as cur:
                cur.execute("SET SESSION TRANSACTION READ ONLY")
                # Backslashes escape in string literals, as the SQL check parsed them.
                cur.execute("SET SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '')")
                if "mariadb" in conn.get_server_info().lower():  # type: ignore[no-untyped-call]
                    cur.execute("SET SESSION max_statement_time = %s", (timeout,))
                else:
                    cur.execute("SET SESSION max_execution_time = %s", (int(timeout * 1000),))
                check_mysql_account(cur, self._limits)
        except ConnectorError:
            conn.close()
            raise
        except pymysql.MySQLError as exc:
            raise mysql_error(exc) from None
        self._conn = conn
        return conn

    def test(self) -> TestResult:
        """Connect and read the server version."""
        started = time.perf_counter()
        try:
            conn = self._connect()
            with conn.cursor() as cur:
                cur.execute("SELECT VERSION(), DATABASE(), CURRENT_USER()")
                version, database, user = cur.fetchone() or ("", "", "")
            conn.rollback()
        except ConnectorError as exc:
            return TestResult(False, exc.message, elapsed_ms(started), error_code=exc.code)
        except pymysql.MySQLError as exc:
            err = mysql_error(exc)
            return TestResult(False, err.message, elapsed_ms(started), error_code=err.code)
        metadata = {"server_version": version, "database": database, "user": str(user).split("@")[0]}
        return TestResult(True, "Connected.", elapsed_ms(started), metadata)

    def schema(self) -> SchemaInfo:
        """Read the tables, views, columns, indexes and constraints of the connected database."""
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute("START TRANSACTION READ ONLY")
                tables = read_schema(cur)
            conn.rollback()
        except pymysql.MySQLError as exc:
            self.close()
            raise mysql_error(exc) from None
        return SchemaInfo(tables=tables)

    def query(self, sql: str, limit: int) -> QueryResult:
        """Run one read-only SELECT in a READ ONLY transaction, streaming at most limit+1 rows."""
        statement = sql_guard.check_read_only(sql, "mysql", self._limits.extra_functions.get("mysql", ()))
        cap = row_cap(limit, self._limits)
        conn = self._connect()
        started = time.perf_counter()
        try:
            with conn.cursor() as setup:
                setup.execute("START TRANSACTION READ ONLY")
            # Unbuffered: only the rows we fetch cross the wire, in batches the byte cap sizes.
            # MySQL sends a row whole; its size is bounded by the server's max_allowed_packet.
            cur = conn.cursor(pymysql.cursors.SSCursor)
            cur.execute(statement)
            rows = Rows([d[0] for d in cur.description or ()], cap, self._limits.max_query_bytes)
            collect(rows, cur.fetchmany)
        except pymysql.MySQLError as exc:
            self.close()
            raise mysql_error(exc) from None
        except ConnectorError:
            _abandon(cur)
            self.close()
            raise
        result = rows.result(started)
        if result.has_more:
            # MySQL cannot stop a result midway: closing the cursor would read every remaining row.
            # Dropping the connection does not; the result is marked done so nothing reads it later.
            _abandon(cur)
            self.close()
        else:
            cur.close()
            conn.rollback()
        return result

    def close(self) -> None:
        """Close the connection if one is open."""
        if self._conn is not None:
            try:
                self._conn.close()
            except pymysql.MySQLError:
                pass  # already gone: the server sees the socket close
            self._conn = None
