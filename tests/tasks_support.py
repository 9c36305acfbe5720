"""Helpers for task tests: a PostgreSQL source database of their own, and waiting on a task's state."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import redis
from fastapi.testclient import TestClient

from datalab.settings import Settings
from datalab.storage import FINAL_PREFIX, RESULTS_PREFIX, TEMP_PREFIX, ObjectStore

TASKS_URL = "/api/v1/tasks"
# Apart from the connector tests' `datalab_src_b`, so the two can run at the same time.
TASK_SOURCE_DB = "datalab_src_tasks"
TASK_READER = "datalab_src_tasks_reader"
FINAL = {"succeeded", "failed", "cancelled"}


def postgres_task_source() -> dict[str, Any]:
    """Create (once) the PostgreSQL source database for task tests; skip when no server answers."""
    try:
        admin = psycopg2.connect(
            host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=3
        )
    except psycopg2.OperationalError:
        pytest.skip("PostgreSQL does not answer on 127.0.0.1:5432")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (TASK_SOURCE_DB,))
        if cur.fetchone() is None:
            cur.execute(f"CREATE DATABASE {TASK_SOURCE_DB}")
        # A plain role: connectors refuse superusers (PRIVILEGED_ACCOUNT).
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (TASK_READER,))
        if cur.fetchone() is None:
            cur.execute(f"CREATE ROLE {TASK_READER} LOGIN PASSWORD 'Task-Reader-1'")
        cur.execute(f"GRANT CONNECT ON DATABASE {TASK_SOURCE_DB} TO {TASK_READER}")
    admin.close()
    return {
        "host": "127.0.0.1",
        "port": 5432,
        "database": TASK_SOURCE_DB,
        "username": TASK_READER,
        "password": "Task-Reader-1",
    }


def active_queries(marker: str) -> int:
    """Count statements still running on the task source whose text contains `marker`."""
    conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND state = 'active'"
                " AND query LIKE %s AND pid <> pg_backend_pid()",
                (TASK_SOURCE_DB, f"%{marker}%"),
            )
            row = cur.fetchone()
    finally:
        conn.close()
    return int(row[0]) if row else 0


def add_source(client: TestClient, headers: dict[str, str], source_type: str, config: dict[str, Any]) -> int:
    """Create a data source through the v1 API and return its id."""
    body = {"name": f"{source_type} task source", "type": source_type, "config": config}
    response = client.post("/api/v1/data-sources", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def post_task(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> int:
    """Submit a task and return its id."""
    response = client.post(TASKS_URL, json=body, headers=headers)
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


def submit(client: TestClient, headers: dict[str, str], source_id: int, query: str) -> int:
    """Submit a query task on a data source and return its id."""
    return post_task(client, headers, {"kind": "query", "data_source_id": source_id, "query": query})


def empty_store(store: ObjectStore) -> None:
    """Remove every dataset, upload and task result object from `store`."""
    for prefix in (TEMP_PREFIX, FINAL_PREFIX, RESULTS_PREFIX):
        for item in list(store.list(prefix)):
            store.delete(item.key)


def result_objects(store: ObjectStore, task_id: int) -> list[str]:
    """The keys of the task's result objects in the object storage."""
    return sorted(item.key for item in store.list(f"{RESULTS_PREFIX}task-{task_id}/"))


def wait_for(
    client: TestClient, headers: dict[str, str], task_id: int, statuses: set[str], timeout: float = 60
) -> dict[str, Any]:
    """Poll the task until its status is one of `statuses`; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(f"{TASKS_URL}/{task_id}", headers=headers).json()
        if body["status"] in statuses:
            return body
        assert time.monotonic() < deadline, f"task {task_id} stayed {body['status']}: {body}"
        time.sleep(0.05)


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """Our own redis-server on a spare port; its append-only file keeps messages over a restart."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        self.folder = folder
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        """The broker URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [  # noqa: S607 - found on the PATH, as the skip above checked
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.folder),
                "--save", "",
                "--appendonly", "yes",
                "--appendfsync", "always",
            ],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 15
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM: the append-only file is complete)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=15)
            self.process = None

    def queue_length(self, queue: str) -> int:
        """Messages waiting in `queue`."""
        client = redis.Redis(port=self.port)
        try:
            return int(client.llen(queue))
        finally:
            client.close()


class Worker:
    """A `datalab worker` process in its own session, so the test can kill it and its children."""

    def __init__(self, env: dict[str, str], log: Path, *, concurrency: int = 1, beat: bool = False) -> None:
        self.command = [
            str(Path(sys.executable).parent / "datalab"),
            "worker",
            f"--concurrency={concurrency}",
        ]
        self.command += ["--beat"] if beat else []
        self.env, self.log = {**os.environ, **env}, log
        self.start()

    def start(self) -> None:
        """Start (or start again) the worker process."""
        self.log.write_bytes(b"")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own entry point
                self.command, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until the worker says it is ready to take tasks."""
        deadline = time.monotonic() + timeout
        while b" ready." not in self.log.read_bytes():
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, "worker did not become ready"
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once, as an OOM killer or a lost host would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=15)

    def stop(self) -> None:
        """Stop the worker (warm shutdown), or kill it if it does not stop in time."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


def worker_env(settings: Settings, **tasks: str) -> dict[str, str]:
    """Environment for a worker process sharing the test app's database, keys and folders."""
    return {
        "ENV": "test",
        "VAR_DIR": str(settings.var_dir),
        "DATA_DIR": str(settings.source_data_dir),
        "DATABASE_URL": settings.database.database_url,
        "JWT_SECRET_KEY": settings.security.jwt_secret,
        "DATA_ENCRYPTION_KEYS": ",".join(settings.security.fernet_keys),
        "DATA_SOURCE_ALLOW_NETWORKS": "127.0.0.0/8",
        "DATA_SOURCE_DENY_NETWORKS": "",
        **{name.upper(): value for name, value in tasks.items()},
    }
