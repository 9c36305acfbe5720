"""A scratch PostgreSQL database of a test's own, for tests that count server-side things."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
import pytest

PG_ADMIN_URL = os.environ.get("PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """Yield the SQLAlchemy URL of a brand-new PostgreSQL database, dropped afterwards."""
    try:
        admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server answers at {PG_ADMIN_URL.split('@')[-1]}: {exc}".strip())
    admin.autocommit = True
    name = f"{prefix}_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def connections_named(application_name: str) -> int:
    """Count the server's connections whose application_name is `application_name`."""
    admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)
    try:
        with admin.cursor() as cursor:
            query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
            cursor.execute(query, (application_name,))
            row = cursor.fetchone()
            return int(row[0]) if row else 0
    finally:
        admin.close()
