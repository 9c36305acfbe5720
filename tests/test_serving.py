"""Serving at scale: the production command with 2 worker processes on PostgreSQL and Redis.

The real server runs as a subprocess on a free 127.0.0.1 port (`tests.serving`).
"""

from __future__ import annotations

import http.client
import json
import os
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import redis
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from datalab import migrate
from datalab.passwords import PasswordHasher
from datalab.settings import Settings
from shared_models import Role, User
from tests.helpers import PASSWORD, REVOKED
from tests.postgres import scratch_postgres
from tests.serving import Server, call, production_server

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/6"
LOGIN_LIMIT = 5
METRICS_TOKEN = "serving-metrics-token-0123456789"
EMAIL = "worker@example.com"


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A scratch PostgreSQL database, migrated, with one user; dropped afterwards."""
    with scratch_postgres("datalab_serving") as url:
        migrate.upgrade(Settings(_env_file=None, env="test", database_url=url, var_dir=Path("/nonexistent")))
        engine = create_engine(url)
        with Session(engine) as session:
            session.add(
                User(email=EMAIL, password_hash=PasswordHasher(10).hash(PASSWORD), role=Role.USER.value)
            )
            session.commit()
        engine.dispose()
        yield url


@pytest.fixture(scope="module")
def redis_db() -> Iterator[redis.Redis]:
    """Redis database 6, emptied before and after."""
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        connection.ping()
    except redis.ConnectionError:
        pytest.skip("Redis does not answer at 127.0.0.1:6379")
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


@pytest.fixture(scope="module")
def server(
    database_url: str, redis_db: redis.Redis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The production command with 2 workers, stopped (its whole process group) afterwards."""
    folder = tmp_path_factory.mktemp("serving")
    (folder / "prometheus").mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "VIRTUAL_ENV"}},
        "ENV": "production",
        "DATABASE_URL": database_url,
        "JWT_SECRET_KEY": Fernet.generate_key().decode(),
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "BCRYPT_ROUNDS": "10",
        "REDIS_URL": REDIS_URL,
        "RATE_LIMIT_LOGIN": f"{LOGIN_LIMIT}/minute",
        "ALLOWED_HOSTS": "127.0.0.1",
        "METRICS_TOKEN": METRICS_TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(folder / "prometheus"),
        "LOG_FORMAT": "json",
        "DB_POOL_SIZE": "3",
        "WSGI_WORKERS": "4",
    }
    with production_server(env, folder) as server:
        yield server


@pytest.fixture(scope="module")
def pids(server: Server) -> list[int]:
    """The two worker pids, each seen answering (new connections until both are seen, bounded)."""
    seen: set[int] = set()
    for _ in range(200):
        connection, pid = server.connect()
        connection.close()
        seen.add(pid)
        if len(seen) == 2:
            return sorted(seen)
    raise AssertionError(f"only workers {seen} answered 200 new connections")


@pytest.mark.postgres
def test_token_revoked_through_one_worker_is_refused_by_the_other(
    server: Server, pids: list[int], redis_db: redis.Redis
) -> None:
    with closing(server.connection_to(pids[0])) as first, closing(server.connection_to(pids[1])) as second:
        _revoke_through_one_refused_by_other(first, second)
    redis_db.flushdb()  # give the next test a fresh login budget


def _revoke_through_one_refused_by_other(
    first: http.client.HTTPConnection, second: http.client.HTTPConnection
) -> None:
    tokens = call(first, "POST", "/api/v1/auth/login", {"email": EMAIL, "password": PASSWORD}).body
    access = tokens["access_token"]
    assert call(second, "GET", "/api/users/me", token=access).status == 200
    assert call(first, "POST", "/api/auth/logout", token=access).status == 200
    legacy = call(second, "GET", "/api/users/me", token=access)
    assert (legacy.status, legacy.body) == (401, REVOKED)
    v1 = call(second, "GET", "/api/v1/auth/profile", token=access)
    assert (v1.status, v1.body["error"]["code"]) == (401, "TOKEN_REVOKED")


@pytest.mark.postgres
def test_login_limit_holds_across_workers(server: Server, pids: list[int], redis_db: redis.Redis) -> None:
    redis_db.flushdb()
    answers: list[tuple[int, int]] = []
    paths = ("/api/auth/login", "/api/v1/auth/login")
    # New connections until both workers have refused at least once (bounded).
    for attempt in range(120):
        connection, pid = server.connect()
        with closing(connection):
            answer = call(connection, "POST", paths[attempt % 2], {"email": EMAIL, "password": PASSWORD})
        answers.append((pid, answer.status))
        if answer.status == 429:
            assert int(answer.headers["retry-after"]) >= 1
        refused_by = {p for p, status in answers if status == 429}
        if len(answers) >= 2 * LOGIN_LIMIT and refused_by == set(pids):
            break
    statuses = [status for _, status in answers]
    assert statuses.count(200) == LOGIN_LIMIT
    assert set(statuses) == {200, 429}
    assert {p for p, status in answers if status == 429} == set(pids)
    assert {p for p, _ in answers} == set(pids)

    # The metrics of both workers are summed (prometheus multiprocess mode).
    with closing(http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)) as metrics:
        metrics.request("GET", "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        text = metrics.getresponse().read().decode()
    refused = sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "datalab_http_requests_total" and sample.labels["status"] == "429"
    )
    assert refused == statuses.count(429)


@pytest.mark.postgres
def test_server_logs_are_json_lines_with_request_ids(server: Server, pids: list[int]) -> None:
    connection, _ = server.connect()
    with closing(connection):
        connection.request("GET", "/api/health", headers={"X-Request-ID": "serving-log-1"})
        connection.getresponse().read()
    deadline = time.monotonic() + 5
    while "serving-log-1" not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = [json.loads(line) for line in server.log.read_text().splitlines() if line.strip()]
    access = [line for line in lines if line.get("request_id") == "serving-log-1"]
    assert [line["route"] for line in access] == ["/api/health"]
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's own lines, as JSON
