"""Fixtures for the whole suite: one migrated database, the full ASGI app, users and tokens.

The database is SQLite in a temporary folder, or `TEST_DATABASE_URL` (e.g. PostgreSQL).
The schema is built by `alembic upgrade head`, so the migrations are tested too.

Isolation: every table is emptied after each test that touched the database. The
"outer transaction rolled back" recipe does not fit this app: requests run on
a2wsgi's and AnyIO's threads through each half's own session factory, and
replacing those factories would hide the very commits (and commit failures) the
contract tests must see.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from datalab import migrate
from datalab.settings import Settings, get_settings
from datalab.settings.sources import variables
from datalab.storage import FINAL_PREFIX, TEMP_PREFIX, ObjectStore
from fastapi_app.main import create_app
from shared_models import Role, User
from tests.helpers import Accounts
from tests.postgres import scratch_postgres
from tests.tables import empty_tables

S3_BUCKET = "datalab-test-datasets"

# Every address but loopback, as CIDRs: an explicit deny beats the loopback allow, so leave it out.
BEYOND_LOOPBACK = ",".join(
    str(network)
    for network in (
        *IPv4Network("0.0.0.0/0").address_exclude(IPv4Network("127.0.0.0/8")),
        *IPv6Network("::/0").address_exclude(IPv6Network("::1/128")),
    )
)


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember every skipped test, for the CI rule below."""
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI nothing may be skipped: a skip fails the run."""
    if os.environ.get("CI") and _skipped and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(f"\nCI forbids skipped tests; {len(_skipped)} skipped: {', '.join(_skipped[:5])}")  # noqa: T201


@pytest.fixture
def no_settings_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting comes from the environment, so a test sees only the values it passes."""
    for name in variables(Settings):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session", autouse=True)
def _source_accounts_dropped() -> Iterator[None]:
    """Drop the PostgreSQL and MariaDB sources (and their reader accounts) tests/sources.py made."""
    yield
    if "tests.sources" in sys.modules:
        sys.modules["tests.sources"].drop_source_accounts()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of the database the suite runs on."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'datalab_test.db'}"
    name = make_url(url).database or ""
    # The suite empties every table: refuse anything that is not plainly a test database.
    assert "test" in name, f"TEST_DATABASE_URL must name a test database, not {name!r}"
    return url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for tests: fast bcrypt, fresh secrets, nothing read from `.env`."""
    return Settings(
        _env_file=None,
        env="test",
        var_dir=Path(tmp_path_factory.mktemp("var")),
        database_url=database_url,
        jwt_secret_key=Fernet.generate_key().decode(),
        encryption_keys=Fernet.generate_key().decode(),
        bcrypt_rounds=10,
        # The suite signs in hundreds of times from one address; rate-limit tests build their own apps.
        rate_limit_enabled=False,
        # Connector tests reach real sources on this machine, which the default refuses.
        data_dir=Path(tmp_path_factory.mktemp("data")),
        data_source_allow_networks="127.0.0.0/8,::1/128",
        # Tests (schemathesis above all) make up hosts; no connector may reach beyond this machine.
        data_source_deny_networks=BEYOND_LOOPBACK,
        # Tests break ports on purpose; the guard would move those routes back to Flask under them.
        # Its own tests turn it on.
        rollback_enabled=False,
    )


@pytest.fixture(scope="session")
def migrated(settings: Settings) -> None:
    """Build the schema with the migrations, from empty."""
    migrate.downgrade(settings, "base")
    migrate.upgrade(settings)


@pytest.fixture(scope="session")
def app(settings: Settings, migrated: None) -> FastAPI:
    """The whole ASGI app: FastAPI with the legacy Flask app mounted."""
    return create_app(settings)


@pytest.fixture
def _clean_tables(app: FastAPI) -> Iterator[None]:
    yield
    empty_tables(app.state.engine)


@pytest.fixture
def client(app: FastAPI, _clean_tables: None) -> Iterator[TestClient]:
    """An HTTP client for the whole app, as old and new clients see it."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def session(app: FastAPI, _clean_tables: None) -> Iterator[Session]:
    """A database session for arranging data and checking what requests wrote."""
    with app.state.sessionmaker() as db_session:
        yield db_session


@pytest.fixture
def flask_app(app: FastAPI) -> Flask:
    """The legacy Flask app that the ASGI app mounts."""
    return app.state.flask_app  # type: ignore[no-any-return]


@pytest.fixture
def accounts(app: FastAPI, session: Session) -> Accounts:
    """A helper that creates users and signs them in."""
    return Accounts(app, session)


@pytest.fixture
def user(accounts: Accounts) -> User:
    """A user with the `user` role."""
    return accounts.create("user@example.com", Role.USER)


@pytest.fixture
def admin(accounts: Accounts) -> User:
    """A user with the `admin` role."""
    return accounts.create("admin@example.com", Role.ADMIN)


@pytest.fixture
def user_headers(accounts: Accounts, user: User) -> dict[str, str]:
    """Authorization headers with an access token for `user`."""
    return accounts.headers(user)


@pytest.fixture
def admin_headers(accounts: Accounts, admin: User) -> dict[str, str]:
    """Authorization headers with an access token for `admin`."""
    return accounts.headers(admin)


@pytest.fixture
def other(accounts: Accounts) -> User:
    """A second user with the `user` role."""
    return accounts.create("other@example.com", Role.USER)


@pytest.fixture
def other_headers(accounts: Accounts, other: User) -> dict[str, str]:
    """Authorization headers for `other`."""
    return accounts.headers(other)


@pytest.fixture
def viewer(accounts: Accounts) -> User:
    """A user with the read-only `viewer` role."""
    return accounts.create("viewer@example.com", Role.VIEWER)


@pytest.fixture
def viewer_headers(accounts: Accounts, viewer: User) -> dict[str, str]:
    """Authorization headers for `viewer`."""
    return accounts.headers(viewer)


@pytest.fixture
def analyst_headers(accounts: Accounts) -> dict[str, str]:
    """Authorization headers for a user with the `analyst` role."""
    return accounts.headers(accounts.create("analyst@example.com", Role.ANALYST))


@pytest.fixture
def lenient_client(app: FastAPI, client: TestClient) -> Iterator[TestClient]:
    """A client that reports server errors as the 500 answers clients get, instead of raising them."""
    with TestClient(app, raise_server_exceptions=False) as lenient:
        yield lenient


@pytest.fixture
def cli_env(settings: Settings) -> Iterator[dict[str, str]]:
    """Environment that points the CLI at the test database."""
    get_settings.cache_clear()
    yield {
        "ENV": "test",
        "VAR_DIR": str(settings.var_dir),
        "DATABASE_URL": settings.database.database_url,
        "JWT_SECRET_KEY": settings.security.jwt_secret,
        "ENCRYPTION_KEYS": ",".join(settings.security.fernet_keys),
        "BCRYPT_ROUNDS": "10",
    }
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible HTTP server (moto's), started once on a free loopback port, with a bucket."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_CREDENTIALS["region_name"],
        aws_access_key_id=S3_CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=S3_CREDENTIALS["aws_secret_access_key"],
    ).create_bucket(Bucket=S3_BUCKET)
    yield endpoint
    server.stop()


S3_CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "test", "aws_secret_access_key": "test"}


@pytest.fixture(params=["file", "s3"])
def object_store(request: pytest.FixtureRequest, app: FastAPI) -> Iterator[ObjectStore]:
    """The app's object store, once the default folder and once S3 (moto); emptied afterwards."""
    runtime = app.state.runtime
    store: ObjectStore = runtime.storage
    if request.param == "s3":
        from datalab.storage.s3 import S3Store

        endpoint = request.getfixturevalue("s3_endpoint")
        store = S3Store(
            S3_BUCKET,
            "suite",
            endpoint_url=endpoint,
            region=S3_CREDENTIALS["region_name"],
            access_key_id=S3_CREDENTIALS["aws_access_key_id"],
            secret_access_key=S3_CREDENTIALS["aws_secret_access_key"],
        )
        app.state.runtime = replace(runtime, storage=store)
    try:
        yield store
    finally:
        app.state.runtime = runtime
        for prefix in (TEMP_PREFIX, FINAL_PREFIX):
            for item in list(store.list(prefix)):
                store.delete(item.key)


@pytest.fixture
def scratch_postgres_url() -> Iterator[str]:
    """A brand-new PostgreSQL database, dropped afterwards."""
    with scratch_postgres("datalab_migration") as url:
        yield url
