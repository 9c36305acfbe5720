"""The read-only check: one statement, a plain read, parsed by sqlglot in the source's dialect.

This is the first of two locks; each connector also runs the statement where the database
itself refuses writes (read-only transaction, read-only file, locked engine), because a parser
can disagree with the server it guards.
"""

from __future__ import annotations

import logging
import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from datalab.connectors.base import ConnectorError

# Bounds the parser's CPU and memory, as Superset's SQL_MAX_PARSE_LENGTH does.
MAX_SQL_CHARS = 100_000

# Nodes that write, change session state, lock, or that sqlglot could not understand (Command).
_REFUSED_NODES: tuple[type[exp.Expression], ...] = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
    exp.Command,
    exp.Into,
    exp.Lock,
    exp.Set,
    exp.Pragma,
    exp.Attach,
    exp.Detach,
    exp.Copy,
    exp.Use,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
    exp.LoadData,
    exp.Grant,
    exp.Revoke,
    exp.Analyze,
    exp.Execute,
    exp.Kill,
    exp.Cache,
    exp.Uncache,
    exp.Refresh,
    exp.Comment,
    exp.Declare,
    exp.Export,
    exp.Install,
)

# Functions that read or write server files, reach other servers, run SQL given as a string,
# change settings or sequences, or load code. Sleeps are allowed: the database's own statement
# timeout bounds them.
REFUSED_FUNCTIONS = frozenset(
    {
        # PostgreSQL: server files, large objects, other servers, SQL in a string, settings.
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "pg_ls_logdir",
        "pg_ls_waldir",
        "pg_ls_tmpdir",
        "pg_ls_archive_statusdir",
        "pg_logdir_ls",
        "pg_file_write",
        "pg_file_rename",
        "pg_file_unlink",
        "lo_import",
        "lo_export",
        "lo_from_bytea",
        "lo_put",
        "lo_create",
        "lo_creat",
        "lo_open",
        "lo_unlink",
        "lo_truncate",
        "lowrite",
        "loread",
        "dblink",
        "dblink_exec",
        "dblink_connect",
        "dblink_connect_u",
        "dblink_send_query",
        "dblink_open",
        "dblink_fetch",
        "query_to_xml",
        "query_to_xmlschema",
        "query_to_xml_and_xmlschema",
        "cursor_to_xml",
        "cursor_to_xmlschema",
        "set_config",
        "nextval",
        "setval",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_switch_wal",
        "pg_promote",
        "pg_notify",
        "pg_advisory_lock",
        "pg_advisory_xact_lock",
        "pg_try_advisory_lock",
        # MySQL / MariaDB.
        "load_file",
        "benchmark",
        "get_lock",
        "release_lock",
        "release_all_locks",
        "master_pos_wait",
        "source_pos_wait",
        "sys_exec",
        "sys_eval",
        # SQLite.
        "load_extension",
        "readfile",
        "writefile",
        "edit",
        "fts3_tokenizer",
        # DuckDB: every reader of files or URLs, SQL in a string, the environment.
        "read_csv",
        "read_csv_auto",
        "read_parquet",
        "parquet_scan",
        "parquet_metadata",
        "parquet_schema",
        "parquet_file_metadata",
        "parquet_kv_metadata",
        "read_json",
        "read_json_auto",
        "read_json_objects",
        "read_json_objects_auto",
        "read_ndjson",
        "read_ndjson_auto",
        "read_ndjson_objects",
        "read_text",
        "read_blob",
        "read_xlsx",
        "sniff_csv",
        "glob",
        "query",
        "query_table",
        "getenv",
        "sqlite_scan",
        "sqlite_attach",
        "postgres_scan",
        "postgres_attach",
        "postgres_query",
        "mysql_scan",
        "mysql_query",
        "iceberg_scan",
        "delta_scan",
        "st_read",
    }
)

# DuckDB reads any table name that looks like a file or URL ("FROM 'x.csv'").
_FILE_LIKE = ("/", "\\", ".", ":", "*", "?")

_EXECUTABLE_COMMENT = re.compile(r"/\*M?!", re.IGNORECASE)

_DIALECTS = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite", "duckdb": "duckdb"}

# sqlglot logs the text of statements it falls back on; our own refusal message says enough.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


def _refuse(message: str) -> ConnectorError:
    return ConnectorError("QUERY_REFUSED", message)


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    return node.sql_name().lower()


def check_read_only(sql: str, dialect: str) -> str:
    """Refuse anything but one read-only SELECT; return the statement without a trailing `;`."""
    if len(sql) > MAX_SQL_CHARS:
        raise _refuse(f"The query is longer than {MAX_SQL_CHARS} characters.")
    # MySQL and MariaDB run the text of /*! ... */ and /*M! ... */ "comments" that the parser skips.
    if dialect == "mysql" and _EXECUTABLE_COMMENT.search(sql):
        raise _refuse("Executable comments (/*! ... */) are not allowed.")
    try:
        statements = [s for s in sqlglot.parse(sql, read=_DIALECTS[dialect]) if s is not None]
    except SqlglotError:
        raise _refuse("The query could not be parsed as SQL.") from None
    if not statements:
        raise _refuse("The query is empty.")
    if len(statements) > 1:
        raise _refuse("Only one statement is allowed.")
    statement = statements[0]
    root = statement.this if isinstance(statement, exp.Subquery) else statement
    if not isinstance(root, exp.Select | exp.SetOperation):
        raise _refuse("Only SELECT queries (or WITH ... SELECT) are allowed.")
    for node in statement.walk():
        if isinstance(node, exp.Into):
            raise _refuse("SELECT INTO is not allowed: queries are read-only.")
        if isinstance(node, exp.Lock):
            raise _refuse("Locking clauses (FOR UPDATE / FOR SHARE) are not allowed.")
        if isinstance(node, _REFUSED_NODES):
            raise _refuse("Only read-only queries are allowed; the query contains a write or a command.")
        if isinstance(node, exp.Func) and _function_name(node) in REFUSED_FUNCTIONS:
            raise _refuse(f"The function {_function_name(node)}() is not allowed.")
        if dialect == "duckdb" and isinstance(node, exp.Table):
            _check_duckdb_table(node)
    return sql.strip().rstrip(";").rstrip()


def _check_duckdb_table(table: exp.Table) -> None:
    name = table.this
    if isinstance(name, exp.Literal) or (
        isinstance(name, exp.Identifier) and any(ch in name.name for ch in _FILE_LIKE)
    ):
        raise _refuse("Reading files by name is not allowed; query the table named data.")
