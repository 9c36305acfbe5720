"""The scratch database: created, migrated, seeded in bulk, resized between runs, dropped."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import bcrypt
import psycopg2
from psycopg2.extensions import connection as Connection

from datalab import migrate
from datalab.crypto import ConfigCipher
from datalab.settings import Settings

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
NAME = re.compile(r"datalab_bench[a-z0-9_]*")
PASSWORD = "Bench-Pass-1"  # noqa: S105 - a scratch account in a scratch database
USER_EMAIL = "bench@example.com"
OWN_SOURCES = 50
OTHER_OWNERS = 200
# The password hash's own cost decides what a login spends, so each login run has its account.
LOGIN_EMAILS = {10: "login10@example.com", 12: "login12@example.com"}
CONFIG = {
    "host": "db.internal",
    "port": 5432,
    "database": "sales",
    "username": "reader",
    "password": "s3cret",
}
COLUMNS = (
    "owner_id, name, type, status, description, tags, is_active, config_encrypted,"
    " usage_count, created_at, updated_at"
)


def database_url(name: str) -> str:
    """Return the SQLAlchemy URL of the scratch database `name`."""
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"


def _check_name(name: str) -> None:
    if not NAME.fullmatch(name):
        raise ValueError(f"the scratch database's name must start with datalab_bench, not {name!r}")


def create_database(name: str) -> None:
    """Create `name` afresh (dropping a leftover of an earlier run)."""
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", name)
    _admin(f"CREATE DATABASE {name}", name)


def drop_database(name: str) -> None:
    """Drop `name`, closing whatever is still connected to it."""
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", name)


def _admin(sql: str, name: str) -> None:
    _check_name(name)  # the name is checked against a strict pattern: it cannot inject
    connection = psycopg2.connect(ADMIN_DSN)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


@dataclass
class Dataset:
    """The seeded rows: the caller with 50 sources, other owners, and the login accounts."""

    database: str
    connection: Connection
    cipher: ConfigCipher
    user_id: int = 0
    others: list[int] = field(default_factory=list)
    filler: int = 0

    @property
    def rows(self) -> int:
        """Return how many data sources the table holds."""
        return OWN_SOURCES + self.filler

    def server_version(self) -> str:
        """Return PostgreSQL's version line."""
        with self.connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            row = cursor.fetchone()
        self.connection.commit()
        return str(row[0]) if row else "?"

    def resize(self, rows: int) -> None:
        """Add or remove other owners' sources until the table holds `rows`, then analyse it."""
        wanted = max(0, rows - OWN_SOURCES)
        if wanted == self.filler:
            return
        with self.connection.cursor() as cursor:
            if wanted > self.filler:
                cursor.copy_expert(f"COPY data_source ({COLUMNS}) FROM STDIN", self._filler(wanted))
            else:
                cursor.execute(
                    "DELETE FROM data_source WHERE id IN (SELECT id FROM data_source"
                    " WHERE owner_id <> %s ORDER BY id DESC LIMIT %s)",
                    (self.user_id, self.filler - wanted),
                )
        self.connection.commit()
        self.filler = wanted
        self.analyse()

    def analyse(self) -> None:
        """Vacuum and analyse the seeded tables, so plans match their size."""
        self.connection.autocommit = True
        try:
            with self.connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE data_source")
                cursor.execute("VACUUM ANALYZE user_account")
        finally:
            self.connection.autocommit = False

    def _filler(self, wanted: int) -> io.StringIO:
        # One ciphertext serves every filler row: decrypting it costs the same as a distinct one.
        secret = self.cipher.encrypt(CONFIG)
        now = datetime.now(UTC).isoformat()
        lines = (
            f"{self.others[n % len(self.others)]}\tsource-{n}\tpostgresql\tpending\t\\N\t"
            f'["bench"]\tt\t{secret}\t0\t{now}\t{now}\n'
            for n in range(self.filler, wanted)
        )
        return io.StringIO("".join(lines))


def seed(settings: Settings, name: str) -> Dataset:
    """Migrate `name` and insert the benchmark's users and the caller's 50 sources."""
    migrate.upgrade(settings)
    connection = psycopg2.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={name}")
    data = Dataset(name, connection, ConfigCipher(settings.security.fernet_keys))
    now = datetime.now(UTC)
    with connection.cursor() as cursor:
        insert = (
            "INSERT INTO user_account (email, password_hash, role, is_active, timezone, language,"
            " created_at, updated_at) VALUES (%s, %s, 'user', true, 'UTC', 'en', %s, %s) RETURNING id"
        )
        cursor.execute(insert, (USER_EMAIL, _hash(10), now, now))
        data.user_id = _returned_id(cursor)
        for rounds, email in LOGIN_EMAILS.items():
            cursor.execute(insert, (email, _hash(rounds), now, now))
        # Nobody signs in as the other owners: a hash that is not bcrypt never matches.
        others = [(f"owner{n}@example.com", "!", now, now) for n in range(OTHER_OWNERS)]
        cursor.executemany(insert.replace(" RETURNING id", ""), others)
        cursor.execute("SELECT id FROM user_account WHERE email LIKE 'owner%%' ORDER BY id")
        data.others = [row[0] for row in cursor.fetchall()]
        own = [
            (data.user_id, f"mine-{n}", "postgresql", "pending", None, json.dumps(["bench"]), True,
             data.cipher.encrypt(CONFIG), 0, now, now)
            for n in range(OWN_SOURCES)
        ]  # fmt: skip
        placeholders = ", ".join(["%s"] * len(own[0]))
        cursor.executemany(f"INSERT INTO data_source ({COLUMNS}) VALUES ({placeholders})", own)  # noqa: S608
    connection.commit()
    return data


def _hash(rounds: int) -> str:
    return bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds)).decode("ascii")


def _returned_id(cursor: psycopg2.extensions.cursor) -> int:
    row = cursor.fetchone()
    assert row is not None
    return int(row[0])
