"""Who a source may connect as: privileged accounts refused, the app's own database refused
however its server is spelled, other databases on that server readable by other roles."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from datalab.connectors import ConnectorError, Limits, open_connector
from tests.datalab.connectors.conftest import SOURCE_DB, mysql_admin, pg_admin

PASSWORD = "Account-Pass-3"
PG_ROLES = {
    "super": "SUPERUSER",
    "reads_files": "IN ROLE pg_read_server_files",
    "writes_files": "IN ROLE pg_write_server_files",
    "runs_programs": "IN ROLE pg_execute_server_program",
    "inherits_files": "IN ROLE {group}",
}
MYSQL_GRANTS = {
    "file": "FILE ON *.*",
    "super": "SUPER ON *.*",
    "process": "PROCESS ON *.*",
    "all": "ALL PRIVILEGES ON *.*",
}


@pytest.fixture(scope="module")
def pg_roles(pg_source: dict[str, Any]) -> Iterator[dict[str, str]]:
    """Privileged PostgreSQL login roles, by kind; dropped afterwards."""
    names = {kind: f"{SOURCE_DB}_{kind}" for kind in PG_ROLES}
    group = f"{SOURCE_DB}_file_group"
    admin = pg_admin()
    with admin.cursor() as cur:
        cur.execute(f"CREATE ROLE {group} IN ROLE pg_read_server_files")
        for kind, name in names.items():
            cur.execute(
                f"CREATE ROLE {name} LOGIN PASSWORD %s {PG_ROLES[kind].format(group=group)}", (PASSWORD,)
            )
    yield names
    with admin.cursor() as cur:
        for name in [*names.values(), group]:
            cur.execute(f"DROP ROLE IF EXISTS {name}")
    admin.close()


@pytest.fixture(scope="module")
def mysql_users(mysql_source: dict[str, Any]) -> Iterator[dict[str, str]]:
    """MariaDB accounts holding one global privilege each, by kind; dropped afterwards."""
    names = {kind: f"{SOURCE_DB}_{kind}" for kind in MYSQL_GRANTS}
    admin = mysql_admin()
    with admin.cursor() as cur:
        for kind, name in names.items():
            cur.execute(f"DROP USER IF EXISTS '{name}'@'%'")
            cur.execute(f"CREATE USER '{name}'@'%' IDENTIFIED BY '{PASSWORD}'")
            cur.execute(f"GRANT {MYSQL_GRANTS[kind]} TO '{name}'@'%'")
            cur.execute(f"GRANT SELECT ON {SOURCE_DB}.* TO '{name}'@'%'")
    yield names
    with admin.cursor() as cur:
        for name in names.values():
            cur.execute(f"DROP USER IF EXISTS '{name}'@'%'")
    admin.close()


def _refused_everywhere(source_type: str, config: dict[str, Any], limits: Limits) -> None:
    connector = open_connector(source_type, config, limits)
    try:
        result = connector.test()
        assert (result.success, result.error_code) == (False, "PRIVILEGED_ACCOUNT")
        assert "read-only role" in result.message
        for work in (connector.schema, lambda: connector.query("SELECT 1", 1)):
            with pytest.raises(ConnectorError) as caught:
                work()
            assert caught.value.code == "PRIVILEGED_ACCOUNT"
    finally:
        connector.close()


@pytest.mark.parametrize("kind", list(PG_ROLES))
def test_privileged_postgres_roles_refused(
    pg_source: dict[str, Any], pg_roles: dict[str, str], limits: Limits, kind: str
) -> None:
    config = {**pg_source, "username": pg_roles[kind], "password": PASSWORD}
    _refused_everywhere("postgresql", config, limits)


@pytest.mark.parametrize("kind", list(MYSQL_GRANTS))
def test_privileged_mysql_accounts_refused(
    mysql_source: dict[str, Any], mysql_users: dict[str, str], limits: Limits, kind: str
) -> None:
    config = {**mysql_source, "username": mysql_users[kind], "password": PASSWORD}
    _refused_everywhere("mysql", config, limits)


def test_root_and_postgres_refused(
    pg_source: dict[str, Any], mysql_source: dict[str, Any], limits: Limits
) -> None:
    _refused_everywhere("postgresql", {**pg_source, "username": "postgres", "password": ""}, limits)
    _refused_everywhere("mysql", {**mysql_source, "username": "root", "password": ""}, limits)


def test_operator_may_allow_privileged_accounts(
    pg_source: dict[str, Any], pg_roles: dict[str, str], mysql_source: dict[str, Any], limits: Limits
) -> None:
    unsafe = replace(limits, allow_privileged=True)
    for source_type, config in [
        ("postgresql", {**pg_source, "username": pg_roles["super"], "password": PASSWORD}),
        ("mysql", {**mysql_source, "username": "root", "password": ""}),
    ]:
        connector = open_connector(source_type, config, unsafe)
        try:
            assert connector.test().success
            assert connector.query("SELECT 1 AS one", 1).rows == [{"one": 1}]
        finally:
            connector.close()


def test_read_only_roles_connect(
    pg_source: dict[str, Any], mysql_source: dict[str, Any], limits: Limits
) -> None:
    for source_type, config in [("postgresql", pg_source), ("mysql", mysql_source)]:
        connector = open_connector(source_type, config, limits)
        try:
            assert connector.test().success
        finally:
            connector.close()


@pytest.fixture(scope="module")
def app_database(pg_source: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """A stand-in for the app's own database on the local server, with its own role."""
    name = f"{SOURCE_DB}_app"
    admin = pg_admin()
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cur.execute(f"DROP ROLE IF EXISTS {name}")
        cur.execute(f"CREATE ROLE {name} LOGIN PASSWORD %s", (PASSWORD,))
        cur.execute(f"CREATE DATABASE {name} OWNER {name}")
    yield name, name
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cur.execute(f"DROP ROLE IF EXISTS {name}")
    admin.close()


def _as_app(limits: Limits, app: tuple[str, str], spelled: str) -> Limits:
    """Limits of an app whose own database is `app`, its host written as `spelled`."""
    database, role = app
    return replace(
        limits,
        own_databases=((spelled, 5432, database),),
        own_role=role,
        own_postgres_url=f"postgresql://{role}:{PASSWORD}@127.0.0.1:5432/{database}",
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "127.1"])
@pytest.mark.parametrize("own_spelling", ["127.0.0.1", "localhost", "db.internal.invalid"])
def test_app_database_refused_however_the_server_is_spelled(
    pg_source: dict[str, Any], app_database: tuple[str, str], limits: Limits, host: str, own_spelling: str
) -> None:
    """The app names its server one way (even by a name only its own network resolves); a source
    names it another way: the server's system_identifier still says it is the same one."""
    config = {**pg_source, "host": host, "database": app_database[0]}
    result = open_connector("postgresql", config, _as_app(limits, app_database, own_spelling)).test()
    assert (result.success, result.error_code) == (False, "HOST_REFUSED")
    assert result.message == "This is the application's own database."


def test_app_role_refused_on_another_database_of_its_server(
    pg_source: dict[str, Any], app_database: tuple[str, str], limits: Limits
) -> None:
    config = {**pg_source, "username": app_database[1], "password": PASSWORD}
    result = open_connector("postgresql", config, _as_app(limits, app_database, "db.internal.invalid")).test()
    assert (result.success, result.error_code) == (False, "HOST_REFUSED")


def test_other_role_reads_another_database_of_the_app_server(
    pg_source: dict[str, Any], app_database: tuple[str, str], limits: Limits
) -> None:
    connector = open_connector("postgresql", pg_source, _as_app(limits, app_database, "localhost"))
    try:
        assert connector.test().success
        assert connector.query("SELECT count(*) AS n FROM customers", 1).rows == [{"n": 3}]
    finally:
        connector.close()


def test_mysql_file_privilege_through_a_default_role_refused(
    mysql_source: dict[str, Any], limits: Limits
) -> None:
    user, role = f"{SOURCE_DB}_via_role", f"{SOURCE_DB}_file_role"
    admin = mysql_admin()
    try:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            cur.execute(f"DROP ROLE IF EXISTS {role}")
            cur.execute(f"CREATE ROLE {role}")
            cur.execute(f"GRANT FILE ON *.* TO {role}")
            cur.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{PASSWORD}'")
            cur.execute(f"GRANT SELECT ON {SOURCE_DB}.* TO '{user}'@'%'")
            cur.execute(f"GRANT {role} TO '{user}'@'%'")
            cur.execute(f"SET DEFAULT ROLE {role} FOR '{user}'@'%'")
        _refused_everywhere("mysql", {**mysql_source, "username": user, "password": PASSWORD}, limits)
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            cur.execute(f"DROP ROLE IF EXISTS {role}")
        admin.close()
