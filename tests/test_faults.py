"""Faults: the database stops under traffic and starts again, without restarting the app.

The test runs a PostgreSQL cluster of its own (initdb, pg_ctl) on a spare port, so it
can stop it hard (`pg_ctl stop -m immediate`, as a crash would) without touching the
shared server.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from datalab import migrate
from datalab.settings import Settings
from shared_models import AuditLog, User
from tests.edge_apps import edge_app, free_port
from tests.helpers import PASSWORD, Accounts

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DATABASE = "datalab_faults_test"
LEGACY_DOWN = {"msg": "Service unavailable: the database does not answer"}


def _as_postgres(*args: str) -> list[str]:
    # PostgreSQL refuses to run as root.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else list(args)


@dataclass
class Cluster:
    """A PostgreSQL cluster of the test's own."""

    folder: Path
    port: int

    def pg_ctl(self, *args: str) -> None:
        """Run pg_ctl on this cluster and wait for it to finish."""
        command = _as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(self.folder / "data"), "-w", "-t", "30", *args
        )
        subprocess.run(command, check=True, capture_output=True, timeout=60)  # noqa: S603

    def start(self) -> None:
        """Start the server on its port, listening on 127.0.0.1 only."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off"
        self.pg_ctl("-l", str(self.folder / "server.log"), "-o", options, "start")

    def crash(self) -> None:
        """Stop the server at once, as a crash would (recovery runs at the next start)."""
        self.pg_ctl("-m", "immediate", "stop")

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the test database."""
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{DATABASE}"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A fresh cluster with a migrated database; stopped and removed afterwards."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"no PostgreSQL binaries in {PG_BIN}")
    folder = Path(tempfile.mkdtemp(prefix="datalab-faults-"))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    initdb = [
        str(PG_BIN / "initdb"),
        "-D",
        str(folder / "data"),
        "-A",
        "trust",
        "-U",
        "postgres",
        "--no-sync",
    ]
    subprocess.run(_as_postgres(*initdb), check=True, capture_output=True, timeout=120)  # noqa: S603
    server = Cluster(folder, free_port())
    server.start()
    try:
        admin = psycopg2.connect(f"postgresql://postgres@127.0.0.1:{server.port}/postgres", connect_timeout=5)
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {DATABASE}")
        admin.close()
        yield server
    finally:
        try:
            server.pg_ctl("-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Traffic:
    """Sign-ups on both halves in a loop on a thread of its own, each answer recorded."""

    client: TestClient
    answers: list[tuple[str, int, object]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """Register new accounts, alternating /api and /api/v1, until stopped."""
        n = 0
        while not self.stop.is_set():
            path = ("/api/auth/register", "/api/v1/auth/register")[n % 2]
            email = f"t{n}@example.com"
            response = self.client.post(path, json={"email": email, "password": PASSWORD})
            self.answers.append((email, response.status_code, response.json()))
            n += 1
            time.sleep(0.02)

    def count(self, status: int) -> int:
        """Return how many answers had `status`."""
        return sum(1 for _, code, _ in self.answers if code == status)


def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.05)


@pytest.mark.postgres
def test_database_outage_is_503_on_both_halves_and_service_resumes(
    cluster: Cluster, settings: Settings
) -> None:
    overrides = {"database_url": cluster.url, "rate_limit_enabled": False, "health_timeout": 1.0}
    migrate.upgrade(Settings(_env_file=None, env="test", database_url=cluster.url, var_dir=settings.var_dir))
    with edge_app(settings, **overrides) as app, TestClient(app, raise_server_exceptions=False) as client:
        headers = _signed_in(app)
        traffic = Traffic(TestClient(app, raise_server_exceptions=False))
        worker = threading.Thread(target=traffic.run, daemon=True)
        worker.start()
        try:
            _wait_for(lambda: traffic.count(201) >= 4, 30, "sign-ups before the outage")
            cluster.crash()
            before_outage = len(traffic.answers)

            ready = client.get("/health/ready")
            assert (ready.status_code, ready.json()["status"]) == (503, "unavailable")
            legacy = client.get("/api/users/me", headers=headers)
            assert (legacy.status_code, legacy.json()) == (503, LEGACY_DOWN)
            v1 = client.get("/api/v1/auth/profile", headers=headers)
            assert (v1.status_code, v1.json()["error"]["code"]) == (503, "DATABASE_UNAVAILABLE")
            _wait_for(lambda: len(traffic.answers) >= before_outage + 6, 30, "sign-ups during the outage")

            cluster.start()
            # No restart of the app: the pools ping connections before use and reconnect.
            _wait_for(lambda: client.get("/health/ready").status_code == 200, 30, "ready again")
            resumed = traffic.count(201)
            _wait_for(lambda: traffic.count(201) >= resumed + 4, 30, "sign-ups after the outage")
        finally:
            traffic.stop.set()
            worker.join(timeout=30)
        assert client.get("/api/users/me", headers=headers).status_code == 200
        assert client.get("/api/v1/auth/profile", headers=headers).status_code == 200
        _assert_whole_rows(app, traffic)


def _signed_in(app: FastAPI) -> dict[str, str]:
    with app.state.sessionmaker() as session:
        accounts = Accounts(app, session)
        return accounts.headers(accounts.create("steady@example.com"))


def _assert_whole_rows(app: FastAPI, traffic: Traffic) -> None:
    statuses = {status for _, status, _ in traffic.answers}
    assert statuses <= {201, 503}, statuses
    assert traffic.count(503) >= 3
    for _, status, body in traffic.answers:
        if status == 503:
            assert body == LEGACY_DOWN or body["error"]["code"] == "DATABASE_UNAVAILABLE"  # type: ignore[index]
    with app.state.sessionmaker() as session:
        emails = set(session.scalars(select(User.email).where(User.email.like("t%@example.com"))))
        registered = session.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "user.register")
        )
    assert {email for email, status, _ in traffic.answers if status == 201} <= emails
    # A user row and its audit entry are one transaction: both or neither, never half.
    assert registered == len(emails)
