"""Who a source connects as: never a privileged account, never the application's own database.

A superuser or a member of pg_read_server_files / pg_write_server_files /
pg_execute_server_program (PostgreSQL), or an account with FILE, SUPER or PROCESS (MySQL),
can read server files or other sessions whatever the query guard allows, so such sources are
refused unless DATA_SOURCE_ALLOW_PRIVILEGED says otherwise. Both checks run right after
connecting, before anything else.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import psycopg2
from sqlalchemy.engine import make_url

from datalab.connectors.base import ConnectorError, Limits

log = logging.getLogger(__name__)

PRIVILEGED_MESSAGE = (
    "This account is privileged ({why}); connect as a read-only role with SELECT rights only."
)
_PG_FILE_ROLES = ("pg_read_server_files", "pg_write_server_files", "pg_execute_server_program")
_PG_ACCOUNT = """
SELECT current_database(), current_user, (SELECT system_identifier FROM pg_control_system()),
       r.rolsuper,
       pg_has_role(current_user, 'pg_read_server_files', 'MEMBER'),
       pg_has_role(current_user, 'pg_write_server_files', 'MEMBER'),
       pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER')
FROM pg_roles r WHERE r.rolname = current_user
"""
_MYSQL_PRIVILEGES = ("ALL PRIVILEGES", "FILE", "SUPER", "PROCESS")
_GLOBAL_GRANT = re.compile(r"^GRANT (.+?) ON \*\.\* TO ", re.IGNORECASE)
# system_identifier of the app's own PostgreSQL, by URL; looked up once per process.
_own_identifiers: dict[str, str] = {}


def own_system_identifier(url: str) -> str | None:
    """Return the system_identifier of the server at `url` (the app's own), or None if unknown."""
    if not url:
        return None
    if url in _own_identifiers:
        return _own_identifiers[url]
    parsed = make_url(url)
    try:
        conn = psycopg2.connect(
            host=parsed.host,
            port=parsed.port or 5432,
            user=parsed.username,
            password=parsed.password,
            dbname=parsed.database,
            connect_timeout=3,
        )
    except psycopg2.Error:
        log.warning("accounts: the app's own database did not answer; its server is recognised by name only")
        return None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT system_identifier FROM pg_control_system()")
            row = cur.fetchone()
    finally:
        conn.close()
    _own_identifiers[url] = str(row[0]) if row else ""
    return _own_identifiers[url] or None


def check_postgres_account(cur: Any, limits: Limits) -> None:
    """Refuse the app's own database or role on its server, and privileged roles."""
    cur.execute(_PG_ACCOUNT)
    row = cur.fetchone()
    if row is None:
        raise ConnectorError("BAD_CREDENTIALS", "The server did not describe this role.")
    database, user, identifier, superuser, *file_roles = row
    own = own_system_identifier(limits.own_postgres_url)
    if own is not None and str(identifier) == own:
        own_names = {name for _host, _port, name in limits.own_databases}
        if database in own_names or (limits.own_role and user == limits.own_role):
            raise ConnectorError("HOST_REFUSED", "This is the application's own database.")
    if limits.allow_privileged:
        return
    reasons = ["superuser"] if superuser else []
    reasons += [
        f"member of {role}" for role, member in zip(_PG_FILE_ROLES, file_roles, strict=True) if member
    ]
    if reasons:
        raise ConnectorError("PRIVILEGED_ACCOUNT", PRIVILEGED_MESSAGE.format(why=", ".join(reasons)))


def check_mysql_account(cur: Any, limits: Limits) -> None:
    """Refuse an account holding FILE, SUPER or PROCESS (or ALL PRIVILEGES) on *.*."""
    if limits.allow_privileged:
        return
    cur.execute("SHOW GRANTS")
    held: set[str] = set()
    for (line,) in cur.fetchall():
        match = _GLOBAL_GRANT.match(str(line))
        if match:
            granted = {p.strip().upper() for p in match.group(1).split(",")}
            held |= {p for p in _MYSQL_PRIVILEGES if p in granted}
    if held:
        why = "holds " + ", ".join(sorted(held))
        raise ConnectorError("PRIVILEGED_ACCOUNT", PRIVILEGED_MESSAGE.format(why=why))
