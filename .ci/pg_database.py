"""Create or drop a scratch PostgreSQL database for a CI run: `pg_database.py create|drop NAME`."""

from __future__ import annotations

import os
import re
import sys

import psycopg2

ADMIN_URL = os.environ.get("PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def main() -> None:
    """Create or drop the database named on the command line."""
    action, name = sys.argv[1], sys.argv[2]
    if action not in {"create", "drop"} or not re.fullmatch(r"[a-z0-9_]+", name):
        raise SystemExit("usage: pg_database.py create|drop NAME")
    connection = psycopg2.connect(ADMIN_URL, connect_timeout=5)
    connection.autocommit = True
    with connection.cursor() as cursor:
        if action == "create":
            cursor.execute(f"DROP DATABASE IF EXISTS {name}")
            cursor.execute(f"CREATE DATABASE {name}")
        else:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    connection.close()


if __name__ == "__main__":
    main()
