"""Tasks on real Celery workers: Redis (a redis-server of our own) and RabbitMQ, killed and restarted.

Workers are `datalab worker` processes sharing the suite's database, keys and result folder;
the API submits through the broker. Starts are slow, so one Redis worker serves the module.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from kombu import Connection
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datalab.settings import Settings
from datalab.storage import open_storage
from datalab.tasks.celery_app import RUN_TASK, make_celery
from fastapi_app.main import create_app
from shared_models import AnalysisResult, AnalysisTask, AuditLog, RevokedToken, User
from tests.dataset_files import good_file
from tests.tasks_support import (
    FINAL,
    RedisServer,
    Worker,
    add_source,
    empty_store,
    post_task,
    postgres_task_source,
    result_objects,
    submit,
    wait_for,
    worker_env,
)

pytestmark = pytest.mark.postgres
# Long enough that heartbeats delayed by a loaded machine (SQLite writes queue) do not look dead.
LEASE_S = "5"
RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672//"


def _task_settings(settings: Settings, broker: str, queue: str) -> dict[str, Any]:
    return {
        "task_broker_url": broker,
        "task_queue": queue,
        "task_lease_s": LEASE_S,
        "task_max_attempts": "2",
        # A whole worker killed on Redis comes back after the visibility timeout: keep it short here.
        "task_visibility_timeout_s": "4",
        "task_broker_options": '{"unacked_restore_interval": 1, "unacked_restore_throttle": 1}',
    }


def _app_for(settings: Settings, values: dict[str, Any]) -> FastAPI:
    update = {
        "task_broker_url": SecretStr(values["task_broker_url"]),
        "task_queue": values["task_queue"],
        "task_lease_s": float(values["task_lease_s"]),
        "task_max_attempts": int(values["task_max_attempts"]),
        "task_visibility_timeout_s": float(values["task_visibility_timeout_s"]),
        "task_broker_options": {"unacked_restore_interval": 1, "unacked_restore_throttle": 1},
    }
    return create_app(settings.model_copy(update=update))


@pytest.fixture(scope="module")
def redis_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of this module's own."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def redis_config(settings: Settings, redis_broker: RedisServer) -> dict[str, Any]:
    """Task settings pointing at the module's Redis."""
    return _task_settings(settings, redis_broker.url, "h16-tasks")


@pytest.fixture(scope="module")
def redis_app(settings: Settings, migrated: None, redis_config: dict[str, Any]) -> FastAPI:
    """The app, submitting tasks through Redis."""
    return _app_for(settings, redis_config)


@pytest.fixture
def redis_client(redis_app: FastAPI, client: TestClient) -> Iterator[TestClient]:
    """A client of the Redis-backed app (tables, datasets and results are emptied after the test)."""
    with TestClient(redis_app) as test_client:
        yield test_client
    empty_store(redis_app.state.runtime.storage)


@pytest.fixture(scope="module")
def redis_worker(
    settings: Settings, redis_config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Worker]:
    """One worker (two processes, and beat every 2 s) on the module's Redis, shared by its tests."""
    env = worker_env(settings, **redis_config, task_maintenance_interval_s="2", audit_retention_days="30")
    worker = Worker(env, tmp_path_factory.mktemp("logs") / "b.log", concurrency=2, beat=True)
    worker.wait_ready()
    yield worker
    worker.stop()


@pytest.fixture
def pg_source(redis_client: TestClient, analyst_headers: dict[str, str]) -> int:
    """The tasks' PostgreSQL source."""
    return add_source(redis_client, analyst_headers, "postgresql", postgres_task_source())


def _results(session: Session, task_id: int) -> int:
    session.expire_all()
    return int(
        session.scalar(
            select(func.count()).select_from(AnalysisResult).where(AnalysisResult.task_id == task_id)
        )
        or 0
    )


def _objects(settings: Settings, task_id: int) -> list[str]:
    return result_objects(open_storage(settings), task_id)


def test_broker_restart_keeps_queued_tasks(
    request: pytest.FixtureRequest,
    redis_broker: RedisServer,
    redis_client: TestClient,
    analyst_headers: dict[str, str],
    pg_source: int,
) -> None:
    ids = [submit(redis_client, analyst_headers, pg_source, f"SELECT {n} AS n") for n in range(3)]
    deadline = time.monotonic() + 10
    while redis_broker.queue_length("h16-tasks") < len(ids):
        assert time.monotonic() < deadline, "the messages never reached the broker"
        time.sleep(0.05)
    redis_broker.stop()
    redis_broker.start()
    assert redis_broker.queue_length("h16-tasks") == len(ids)
    request.getfixturevalue("redis_worker")  # the first worker starts only now
    for n, task_id in enumerate(ids):
        body = wait_for(redis_client, analyst_headers, task_id, FINAL)
        assert (body["status"], body["row_count"]) == ("succeeded", 1)
        page = redis_client.get(f"/api/v1/tasks/{task_id}/result", headers=analyst_headers).json()
        assert page["data"] == [{"n": n}]


def test_worker_killed_mid_task_finishes_on_another_worker_once(
    redis_worker: Worker,
    redis_config: dict[str, Any],
    settings: Settings,
    redis_client: TestClient,
    analyst_headers: dict[str, str],
    pg_source: int,
    session: Session,
    tmp_path: Path,
) -> None:
    # The shared worker is busy elsewhere, so the doomed one surely takes the task first.
    redis_worker.stop()
    doomed = Worker(worker_env(settings, **redis_config), tmp_path / "a.log")
    doomed.wait_ready()
    query = "SELECT pg_sleep(3) AS slept, 42 AS answer"
    task_id = submit(redis_client, analyst_headers, pg_source, query)
    running = wait_for(redis_client, analyst_headers, task_id, {"running"})
    assert running["attempts"] == 1
    doomed.kill()
    second = Worker(worker_env(settings, **redis_config), tmp_path / "b.log")
    try:
        second.wait_ready()
        body = wait_for(redis_client, analyst_headers, task_id, FINAL, timeout=90)
    finally:
        second.stop()
        redis_worker.start()
        redis_worker.wait_ready()
    assert (body["status"], body["attempts"], body["row_count"]) == ("succeeded", 2, 1)
    assert _results(session, task_id) == 1
    # The killed attempt never reached the object storage; the second one's object is the result.
    assert _objects(settings, task_id) == [f"results/task-{task_id}/2.parquet"]


def test_a_task_delivered_twice_writes_one_result(
    redis_worker: Worker,
    redis_config: dict[str, Any],
    settings: Settings,
    redis_client: TestClient,
    analyst_headers: dict[str, str],
    pg_source: int,
    session: Session,
) -> None:
    task_id = submit(redis_client, analyst_headers, pg_source, "SELECT pg_sleep(1) AS slept")
    sender = make_celery(
        settings.model_copy(update={"task_broker_url": SecretStr(redis_config["task_broker_url"])})
    )
    # The same message again, twice: one copy while the first runs, one after it finished.
    sender.send_task(RUN_TASK, args=[task_id], queue="h16-tasks", task_id=f"analysis-{task_id}")
    body = wait_for(redis_client, analyst_headers, task_id, FINAL)
    sender.send_task(RUN_TASK, args=[task_id], queue="h16-tasks", task_id=f"analysis-{task_id}")
    finished_at = body["finished_at"]
    time.sleep(3 * float(LEASE_S) + 1)  # the busy copy's retry comes back after a lease
    sender.close()
    again = redis_client.get(f"/api/v1/tasks/{task_id}", headers=analyst_headers).json()
    assert (again["status"], again["attempts"], again["finished_at"]) == ("succeeded", 1, finished_at), (
        body["error"],
        again["error"],
        body["attempts"],
    )
    assert _results(session, task_id) == 1
    assert _objects(settings, task_id) == [f"results/task-{task_id}/1.parquet"]


def test_a_dataset_profile_runs_on_a_worker(
    redis_worker: Worker, redis_client: TestClient, analyst_headers: dict[str, str]
) -> None:
    files = {"file": ("rows.csv", good_file("csv"))}
    uploaded = redis_client.post(
        "/api/v1/datasets", files=files, data={"name": "rows"}, headers=analyst_headers
    )
    assert uploaded.status_code == 201, uploaded.text
    dataset = uploaded.json()["id"]
    task_id = post_task(redis_client, analyst_headers, {"kind": "profile", "dataset_id": dataset})
    body = wait_for(redis_client, analyst_headers, task_id, FINAL)
    assert (body["status"], body["row_count"]) == ("succeeded", 3), body
    page = redis_client.get(f"/api/v1/tasks/{task_id}/result", headers=analyst_headers).json()
    assert [row["name"] for row in page["data"]] == ["id", "name", "score"]


def test_a_task_whose_worker_keeps_dying_fails_worker_lost(
    redis_worker: Worker,
    redis_client: TestClient,
    analyst_headers: dict[str, str],
    pg_source: int,
    session: Session,
) -> None:
    task_id = submit(redis_client, analyst_headers, pg_source, "SELECT pg_sleep(20) AS slept")
    for attempt in (1, 2):
        deadline = time.monotonic() + 60
        while True:
            session.expire_all()
            task = session.get_one(AnalysisTask, task_id)
            if task.status == "running" and task.attempts == attempt:
                break
            assert time.monotonic() < deadline, f"attempt {attempt} never started: {task.status}"
            time.sleep(0.1)
        # The pool process running the task dies; its worker lives on and requeues the message.
        os.kill(int((task.worker or "").rsplit(":", 1)[1]), signal.SIGKILL)
    body = wait_for(redis_client, analyst_headers, task_id, FINAL, timeout=60)
    assert (body["status"], body["attempts"]) == ("failed", 2)
    assert body["error"]["code"] == "WORKER_LOST"
    assert _results(session, task_id) == 0


def test_rabbitmq_runs_tasks(
    settings: Settings, migrated: None, client: TestClient, analyst_headers: dict[str, str], tmp_path: Path
) -> None:
    queue = f"h16-tasks-{uuid.uuid4().hex[:8]}"
    try:
        with Connection(RABBIT_URL, connect_timeout=3) as probe:
            probe.connect()
    except OSError:
        pytest.skip("RabbitMQ does not answer on 127.0.0.1:5672")
    config = _task_settings(settings, RABBIT_URL, queue)
    app = _app_for(settings, config)
    worker = Worker(worker_env(settings, **config), tmp_path / "rabbit.log")
    try:
        with TestClient(app) as rabbit_client:
            source = add_source(rabbit_client, analyst_headers, "postgresql", postgres_task_source())
            worker.wait_ready()
            ids = [submit(rabbit_client, analyst_headers, source, f"SELECT {n} AS n") for n in range(3)]
            bodies = [wait_for(rabbit_client, analyst_headers, task_id, FINAL) for task_id in ids]
    finally:
        worker.stop()
        with Connection(RABBIT_URL) as connection:
            connection.default_channel.queue_delete(queue)  # type: ignore[attr-defined]
    assert [(b["status"], b["row_count"]) for b in bodies] == [("succeeded", 1)] * 3


def test_beat_runs_maintenance_on_the_worker(redis_worker: Worker, session: Session, user: User) -> None:
    old = datetime.now(UTC) - timedelta(days=60)
    session.add_all(
        [
            AuditLog(action="user.login", user_id=user.id, details={}, created_at=old),
            RevokedToken(jti="expired-jti", token_type="access", user_id=user.id, expires_at=old),
        ]
    )
    session.commit()
    deadline = time.monotonic() + 60
    while True:
        session.expire_all()
        left = [session.scalar(select(func.count()).select_from(model)) for model in (AuditLog, RevokedToken)]
        if left == [0, 0]:
            break
        assert time.monotonic() < deadline, (
            f"maintenance never ran: {left}\n{redis_worker.log.read_text()[-2000:]}"
        )
        time.sleep(0.2)
