"""Real sources for connector tests: PostgreSQL and MariaDB databases, files, a local REST server.

Loopback is refused by default, so these tests allow 127.0.0.0/8 and ::1 through Limits, as
the brief for the test environment says. Nothing here touches the app's TEST_DATABASE_URL.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg2
import pymysql
import pytest

from datalab.connectors import Limits
from tests.datalab.connectors.rest_server import RestServer
from tests.source_files import write_tabular_files

# Named per test process: engineers and CI jobs share these servers, and one run's teardown
# must not drop another run's database or accounts.
SOURCE_DB = f"datalab_src_a_{os.getpid()}"
MYSQL_READER = (f"{SOURCE_DB}_reader", "Reader-Pass-1")
# A plain login role (no superuser, no file roles) with every privilege on the source's tables:
# the read-only guards, not the grants, must stop writes.
PG_READER = (f"{SOURCE_DB}_reader", "Reader-Pass-1")
LOOPBACK = ("127.0.0.0/8", "::1/128")

_PG_SCHEMA = """
CREATE TABLE customers (
    id serial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name text
);
CREATE TABLE orders (
    id serial PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    amount numeric(10, 2) NOT NULL CHECK (amount >= 0)
);
CREATE INDEX orders_customer_idx ON orders (customer_id);
CREATE SEQUENCE counter;
INSERT INTO customers (email, name) VALUES ('ada@example.com', 'Ada'), ('bob@example.com', 'Bob'),
    ('cy@example.com', NULL);
INSERT INTO orders (customer_id, amount) VALUES (1, 10.50), (1, 3.25), (2, 99.99), (3, 0), (3, 7);
"""

_MYSQL_SCHEMA = [
    "CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE,"
    " name VARCHAR(100) NULL) ENGINE=InnoDB",
    "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL,"
    " amount DECIMAL(10,2) NOT NULL, INDEX orders_customer_idx (customer_id),"
    " CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id)) ENGINE=InnoDB",
    "INSERT INTO customers (email, name) VALUES ('ada@example.com', 'Ada'), ('bob@example.com', 'Bob'),"
    " ('cy@example.com', NULL)",
    "INSERT INTO orders (customer_id, amount) VALUES (1, 10.50), (1, 3.25), (2, 99.99), (3, 0), (3, 7)",
]

CUSTOMERS = [
    {"id": 1, "email": "ada@example.com", "name": "Ada"},
    {"id": 2, "email": "bob@example.com", "name": "Bob"},
    {"id": 3, "email": "cy@example.com", "name": None},
]


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The jail: a SQLite database and customers.<type> (and broken.<type>) of every file type."""
    root = tmp_path_factory.mktemp("data")
    with sqlite3.connect(root / "shop.db") as conn:
        conn.executescript(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT);"
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL"
            " REFERENCES customers (id), amount REAL NOT NULL CHECK (amount >= 0));"
            "CREATE INDEX orders_customer_idx ON orders (customer_id);"
            "INSERT INTO customers (email, name) VALUES ('ada@example.com', 'Ada'),"
            " ('bob@example.com', 'Bob'), ('cy@example.com', NULL);"
            "INSERT INTO orders (customer_id, amount)"
            " VALUES (1, 10.5), (1, 3.25), (2, 99.99), (3, 0), (3, 7);"
        )
    conn.close()
    write_tabular_files(root)
    (root / "numbers.csv").write_text("n\n" + "".join(f"{i}\n" for i in range(1, 51)))
    (root / "sub").mkdir()
    (root / "sub" / "nested.csv").write_text("a\n1\n")
    return root


@pytest.fixture(scope="session")
def limits(data_dir: Path) -> Limits:
    """Limits for tests: loopback allowed, short timeouts, a small row and byte cap."""
    return Limits(
        query_timeout_s=1.0,
        max_rows=20,
        connect_timeout_s=3.0,
        max_response_bytes=64 * 1024,
        data_dir=data_dir,
        allow_networks=LOOPBACK,
    )


@pytest.fixture(scope="session")
def strict_limits(limits: Limits) -> Limits:
    """The same limits with the default network rules: loopback refused."""
    return replace(limits, allow_networks=())


def pg_admin(dbname: str = "postgres") -> Any:
    """An autocommit connection as the postgres superuser, to set up and inspect sources."""
    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=dbname, connect_timeout=3)
    conn.autocommit = True
    return conn


@pytest.fixture(scope="session")
def pg_source() -> Iterator[dict[str, Any]]:
    """A fresh PostgreSQL database with customers and orders; its connector config."""
    try:
        admin = pg_admin()
    except psycopg2.OperationalError:
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {SOURCE_DB} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {SOURCE_DB}")
        cur.execute(f"DROP ROLE IF EXISTS {PG_READER[0]}")
        cur.execute(f"CREATE ROLE {PG_READER[0]} LOGIN PASSWORD %s", (PG_READER[1],))
    source = pg_admin(SOURCE_DB)
    with source.cursor() as cur:
        cur.execute(_PG_SCHEMA)
        cur.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {PG_READER[0]}")
        cur.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {PG_READER[0]}")
        cur.execute(f"GRANT CREATE ON SCHEMA public TO {PG_READER[0]}")
    source.close()
    user, password = PG_READER
    yield {"host": "127.0.0.1", "port": 5432, "database": SOURCE_DB, "username": user, "password": password}
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {SOURCE_DB} WITH (FORCE)")
        cur.execute(f"DROP ROLE IF EXISTS {PG_READER[0]}")
    admin.close()


def pg_counts() -> dict[str, int]:
    """Row counts of the PostgreSQL source, read by the admin, not by the connector."""
    conn = pg_admin(SOURCE_DB)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders),"
            " (SELECT last_value FROM counter), (SELECT count(*) FROM pg_tables WHERE schemaname = 'public')"
        )
        row = cur.fetchone()
    conn.close()
    assert row is not None
    return {"customers": row[0], "orders": row[1], "counter": row[2], "tables": row[3]}


def mysql_admin(database: str | None = None) -> pymysql.connections.Connection[Any]:
    """An autocommit connection as MariaDB root, to set up and inspect sources."""
    return pymysql.connect(
        host="127.0.0.1",
        port=3306,
        user="root",
        password="",
        database=database,
        connect_timeout=3,
        autocommit=True,
    )


@pytest.fixture(scope="session")
def mysql_source() -> Iterator[dict[str, Any]]:
    """A fresh MariaDB database and a reader account with a password; its connector config."""
    try:
        admin = mysql_admin()
    except pymysql.MySQLError:
        pytest.skip("MariaDB does not answer on 127.0.0.1:3306")
    user, password = MYSQL_READER
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {SOURCE_DB}")
        cur.execute(f"CREATE DATABASE {SOURCE_DB}")
        cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
        cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'")
        # Every privilege on the source: the read-only guards, not the grants, must stop writes.
        cur.execute(f"GRANT ALL PRIVILEGES ON {SOURCE_DB}.* TO '{user}'@'%'")
        cur.execute(f"USE {SOURCE_DB}")
        for statement in _MYSQL_SCHEMA:
            cur.execute(statement)
    yield {"host": "127.0.0.1", "port": 3306, "database": SOURCE_DB, "username": user, "password": password}
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {SOURCE_DB}")
        cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
    admin.close()


def mysql_counts() -> dict[str, int]:
    """Row and table counts of the MariaDB source, read by the admin."""
    conn = mysql_admin(SOURCE_DB)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders),"
            " (SELECT count(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE())"
        )
        row = cur.fetchone()
    conn.close()
    assert row is not None
    return {"customers": row[0], "orders": row[1], "tables": row[2]}


@pytest.fixture(scope="session")
def rest_server() -> Iterator[RestServer]:
    """A JSON API on a free port of 127.0.0.1, with redirects, huge and slow answers."""
    server = RestServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def other_rest_server() -> Iterator[RestServer]:
    """A second API on another port: another origin, to catch credentials sent across."""
    server = RestServer()
    yield server
    server.close()


def pg_snapshot() -> dict[str, Any]:
    """What a hostile query could change on the PostgreSQL server, read by the admin.

    Tables and row counts of the source, its sequence, large objects, replication slots and
    origins, role and database settings, the server's settings as a new session sees them,
    ALTER SYSTEM entries, statistics reset times and the source's roles.
    """
    queries = {
        "tables": "SELECT table_schema, table_name FROM information_schema.tables"
        " WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
        "counts": "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM orders),"
        " (SELECT last_value FROM counter)",
        "large_objects": "SELECT count(*) FROM pg_largeobject_metadata",
        "slots": "SELECT slot_name FROM pg_replication_slots ORDER BY 1",
        "origins": "SELECT roname FROM pg_replication_origin ORDER BY 1",
        "role_settings": "SELECT setdatabase, setrole, setconfig FROM pg_db_role_setting ORDER BY 1, 2",
        "settings": "SELECT name, setting FROM pg_settings ORDER BY 1",
        "file_settings": "SELECT name, setting FROM pg_file_settings ORDER BY 1",
        "stats_reset": "SELECT (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()),"
        " (SELECT stats_reset FROM pg_stat_bgwriter)",
        "roles": "SELECT rolname, rolsuper FROM pg_roles WHERE rolname LIKE 'datalab_src_a%' ORDER BY 1",
        "prepared": "SELECT count(*) FROM pg_prepared_xacts",
    }
    conn = pg_admin(SOURCE_DB)
    try:
        with conn.cursor() as cur:
            found = {}
            for key, sql in queries.items():
                cur.execute(sql)
                found[key] = cur.fetchall()
    finally:
        conn.close()
    return found


def mysql_snapshot() -> dict[str, Any]:
    """What a hostile query could change on MariaDB: the source's tables and rows, global
    variables (the GTID positions other clients move excepted), accounts and UDFs."""
    conn = mysql_admin(SOURCE_DB)
    found: dict[str, Any] = {}
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
            found["tables"] = sorted(cur.fetchall())
            cur.execute("SELECT (SELECT COUNT(*) FROM customers), (SELECT COUNT(*) FROM orders)")
            found["counts"] = cur.fetchall()
            cur.execute("SHOW GLOBAL VARIABLES")
            found["variables"] = sorted(row for row in cur.fetchall() if not str(row[0]).startswith("gtid_"))
            cur.execute("SELECT User, Host FROM mysql.user WHERE User LIKE 'datalab%' ORDER BY 1, 2")
            found["users"] = cur.fetchall()
            cur.execute("SELECT name FROM mysql.func ORDER BY 1")
            found["functions"] = cur.fetchall()
    finally:
        conn.close()
    return found


def files_snapshot(root: Path, extra: list[str]) -> dict[str, str | None]:
    """SHA-256 of every file under `root`, and whether each of `extra` exists."""
    found: dict[str, str | None] = {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }
    found.update({path: "present" if Path(path).exists() else None for path in extra})
    return found
