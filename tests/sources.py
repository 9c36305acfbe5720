"""Real data sources for the connection route tests: databases, files and a REST API on 127.0.0.1.

Each helper builds its source from scratch and returns the config a data source needs.
PostgreSQL and MariaDB get a database of their own (`datalab_src_b_<pid>`), never the app's,
read through a plain account made for it (a superuser or root would be refused as privileged);
`drop_source_accounts` removes both at the end of the session.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg2
import pymysql
import pytest

from tests.source_files import write_tabular_files

# Per test process: the servers are shared, and one run must not drop another run's source.
SOURCE_DB = f"datalab_src_b_{os.getpid()}"
READER = (f"{SOURCE_DB}_reader", "Reader-Pass-2")
# Privileged accounts the query guards must refuse: a PostgreSQL superuser that is not the app's
# own role (which is refused for being the app's), and MariaDB's root.
PRIVILEGED = {"postgresql": (f"{SOURCE_DB}_super", "Super-Pass-4"), "mysql": ("root", "")}
API_TOKEN = "Api-Token-Plaintext-Secret"
CUSTOMERS = [
    {"id": 1, "email": "ada@example.com", "name": "Ada"},
    {"id": 2, "email": "bob@example.com", "name": "Bob"},
    {"id": 3, "email": "cy@example.com", "name": None},
]
_ROWS_SQL = (
    "INSERT INTO customers (id, email, name) VALUES"
    " (1, 'ada@example.com', 'Ada'), (2, 'bob@example.com', 'Bob'), (3, 'cy@example.com', NULL)"
)


def postgres_source() -> dict[str, Any]:
    """Create the PostgreSQL source database afresh; skip when no server answers."""
    try:
        admin = psycopg2.connect(
            host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=3
        )
    except psycopg2.OperationalError:
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    admin.autocommit = True
    user, password = READER
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {SOURCE_DB} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {SOURCE_DB}")
        cur.execute(f"DROP ROLE IF EXISTS {user}")
        cur.execute(f"CREATE ROLE {user} LOGIN PASSWORD %s", (password,))
        superuser, super_password = PRIVILEGED["postgresql"]
        cur.execute(f"DROP ROLE IF EXISTS {superuser}")
        cur.execute(f"CREATE ROLE {superuser} SUPERUSER LOGIN PASSWORD %s", (super_password,))
    admin.close()
    with postgres_connection() as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE customers (id integer PRIMARY KEY, email text NOT NULL UNIQUE, name text,"
            " joined date DEFAULT '2024-01-31', balance numeric(10, 2) DEFAULT 12.50)"
        )
        cur.execute(_ROWS_SQL)
        # Every privilege on the table: the read-only guards, not the grants, must stop writes.
        cur.execute(f"GRANT ALL ON customers TO {user}")
        cur.execute(f"GRANT CREATE ON SCHEMA public TO {user}")
    return {"host": "127.0.0.1", "port": 5432, "database": SOURCE_DB, "username": user, "password": password}


def postgres_connection() -> Any:
    """Open a direct connection to the PostgreSQL source, to check what is really stored."""
    return psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=SOURCE_DB, connect_timeout=3)


def mysql_source() -> dict[str, Any]:
    """Create the MariaDB source database afresh; skip when no server answers."""
    try:
        admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", connect_timeout=3)
    except pymysql.err.OperationalError:
        pytest.skip("MariaDB does not answer on 127.0.0.1:3306")
    user, password = READER
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {SOURCE_DB}")
        cur.execute(f"CREATE DATABASE {SOURCE_DB}")
        cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        cur.execute(f"GRANT ALL PRIVILEGES ON {SOURCE_DB}.* TO '{user}'@'%'")
        cur.execute(f"USE {SOURCE_DB}")
        cur.execute(
            "CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE,"
            " name VARCHAR(100) NULL) ENGINE=InnoDB"
        )
        cur.execute(_ROWS_SQL)
    admin.commit()
    admin.close()
    return {"host": "127.0.0.1", "port": 3306, "database": SOURCE_DB, "username": user, "password": password}


def privileged_config(source_type: str, config: dict[str, Any]) -> dict[str, Any]:
    """Return `config` connecting as the source server's privileged account instead of the reader."""
    username, password = PRIVILEGED[source_type]
    return {**config, "username": username, "password": password}


def drop_source_accounts() -> None:
    """Drop the source databases and their accounts on both servers, where they answer."""
    user = READER[0]
    try:
        admin = psycopg2.connect(
            host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=3
        )
    except psycopg2.OperationalError:
        pass
    else:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {SOURCE_DB} WITH (FORCE)")
            cur.execute(f"DROP ROLE IF EXISTS {user}")
            cur.execute(f"DROP ROLE IF EXISTS {PRIVILEGED['postgresql'][0]}")
        admin.close()
    try:
        conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", connect_timeout=3)
    except pymysql.err.OperationalError:
        return
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {SOURCE_DB}")
        cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
    conn.close()


def mysql_count(table: str = "customers") -> int:
    """Count the rows of a MariaDB source table directly."""
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database=SOURCE_DB)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - a fixed test table name
            row = cur.fetchone()
    finally:
        conn.close()
    assert row is not None
    return int(row[0])


def write_files(data_dir: Path) -> None:
    """Write the SQLite source and each file source (customers.<type>, broken.<type>) into the data folder."""
    data_dir.mkdir(parents=True, exist_ok=True)
    database = data_dir / "shop.db"
    database.unlink(missing_ok=True)
    conn = sqlite3.connect(database)
    with conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT)")
        conn.execute(_ROWS_SQL)
    conn.close()
    write_tabular_files(data_dir)


def sqlite_count(data_dir: Path) -> int:
    """Count the customers of the SQLite source directly."""
    conn = sqlite3.connect(data_dir / "shop.db")
    try:
        return int(conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0])
    finally:
        conn.close()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        """Keep test output quiet."""

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        """Answer /customers (token required) and /slow (stalls first)."""
        if self.headers.get("Authorization") != f"Bearer {API_TOKEN}":
            self._json({"error": "unauthorized"}, 401)
        elif self.path.startswith("/slow"):
            self.server.stall.wait(timeout=30)
            self._json(CUSTOMERS)
        else:
            self._json(CUSTOMERS)

    def _json(self, payload: Any, status: int = 200) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stall: threading.Event


class RestServer:
    """A JSON API on a free port of 127.0.0.1; `release()` ends every stalled answer."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stall = threading.Event()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def config(self) -> dict[str, Any]:
        """Return the data-source config of this API."""
        return {"base_url": self.url, "headers": {"Authorization": f"Bearer {API_TOKEN}"}}

    def release(self) -> None:
        """Let every stalled request answer."""
        self._server.stall.set()

    def close(self) -> None:
        """Stop serving and free the port."""
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    """Return what `call` returns and the seconds it took."""
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started
