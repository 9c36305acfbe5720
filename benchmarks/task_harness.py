"""A scratch installation for task benchmarks: PostgreSQL app database, own redis-server, workers.

Reuses the test suite's process helpers (`tests/tasks_support.py`): the same redis-server and
`datalab worker` wrappers the delivery tests use.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import create_engine, text

from datalab import migrate
from datalab.passwords import PasswordHasher
from datalab.services import sessions
from datalab.settings import Settings
from fastapi_app.main import create_app
from shared_models import Role, User
from tests.tasks_support import RedisServer, Worker, add_source, postgres_task_source, worker_env

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"
QUEUE = "bench-tasks"


@dataclass
class Bench:
    """A running scratch installation."""

    settings: Settings
    redis: RedisServer
    client: TestClient
    headers: dict[str, str]
    source_id: int
    folder: Path

    def worker(self, name: str, concurrency: int = 1) -> Worker:
        """Start a worker and wait until it is ready."""
        worker = Worker(
            worker_env(self.settings, **_task_env(self.settings)),
            self.folder / f"{name}.log",
            concurrency=concurrency,
        )
        worker.wait_ready(timeout=120)
        return worker

    def sql(self, statement: str, **params: Any) -> list[tuple[Any, ...]]:
        """Run a statement (with bound `params`) on the app database and return its rows."""
        engine = create_engine(self.settings.database.database_url)
        try:
            with engine.begin() as connection:
                result = connection.execute(text(statement), params)
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            engine.dispose()


def _task_env(settings: Settings) -> dict[str, str]:
    assert settings.tasks.task_broker_url is not None
    return {"task_broker_url": settings.tasks.task_broker_url.get_secret_value(), "task_queue": QUEUE}


def _database(name: str, action: str) -> None:
    admin = psycopg2.connect(ADMIN_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if action == "create":
            cur.execute(f"CREATE DATABASE {name}")
    admin.close()


@contextmanager
def installation(folder: Path, name: str = "datalab_bench_tasks") -> Iterator[Bench]:
    """Create, migrate and serve a scratch installation; drop it afterwards."""
    _database(name, "create")
    redis = RedisServer(folder)
    settings = Settings(
        _env_file=None,
        env="test",
        var_dir=folder / "var",
        database_url=f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}",
        jwt_secret_key=Fernet.generate_key().decode(),
        encryption_keys=Fernet.generate_key().decode(),
        bcrypt_rounds=10,
        rate_limit_enabled=False,
        data_source_allow_networks="127.0.0.0/8",
        task_broker_url=SecretStr(redis.url),
        task_queue=QUEUE,
        log_level="WARNING",
    )
    migrate.upgrade(settings)
    app = create_app(settings)
    try:
        with TestClient(app) as client, app.state.sessionmaker() as session:
            user = User(
                email="bench@example.com",
                password_hash=PasswordHasher(10).hash("Bench-Pass-1"),
                role=Role.ANALYST.value,
                is_active=True,
            )
            session.add(user)
            session.commit()
            pair = sessions.sign_in(session, settings, user)
            session.commit()
            headers = {"Authorization": f"Bearer {pair.access.token}"}
            source_id = add_source(client, headers, "postgresql", postgres_task_source())
            yield Bench(settings, redis, client, headers, source_id, folder)
    finally:
        redis.stop()
        time.sleep(0.5)
        _database(name, "drop")


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants, in MiB (from /proc)."""
    total = 0
    for child in [pid, *_descendants(pid)]:
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in map(int, children):
        found += [child, *_descendants(child)]
    return found
