"""Tasks seen from outside: /metrics (by state and kind, queue depth, run times), /health/ready's broker."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from kombu import Connection
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session

from datalab.settings import Settings
from shared_models import AnalysisTask, User
from tests.edge_apps import edge_client
from tests.sources import write_files
from tests.tasks_support import FINAL, RedisServer, add_source, free_port, submit, wait_for

TOKEN = "metrics-token-0123456789abcdef"
RABBIT_URL = "amqp://guest:guest@127.0.0.1:5672//"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def observed(settings: Settings, _clean_tables: None) -> Iterator[TestClient]:
    """A client of an app (local executor) whose metrics are readable with TOKEN."""
    with edge_client(settings, metrics_token=TOKEN) as client:
        yield client


def _samples(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_metrics_count_tasks_by_state_and_kind_with_run_times(
    observed: TestClient, analyst_headers: dict[str, str], settings: Settings, session: Session, user: User
) -> None:
    write_files(settings.source_data_dir)
    source = add_source(observed, analyst_headers, "sqlite", {"path": "shop.db"})
    for query in ("SELECT 1 AS one", "SELECT 2 AS two", "SELECT nope FROM customers"):
        wait_for(observed, analyst_headers, submit(observed, analyst_headers, source, query), FINAL)
    session.add(AnalysisTask(owner_id=user.id, kind="query", status="queued", query="SELECT 3", params={}))
    session.commit()
    samples = _samples(observed)
    assert samples[("datalab_tasks", frozenset({("state", "succeeded"), ("kind", "query")}))] == 2
    assert samples[("datalab_tasks", frozenset({("state", "failed"), ("kind", "query")}))] == 1
    assert samples[("datalab_task_queue_depth", frozenset({("source", "table")}))] == 1
    succeeded = frozenset({("kind", "query"), ("state", "succeeded")})
    assert samples[("datalab_task_run_seconds_count", succeeded)] == 2
    assert samples[("datalab_task_run_seconds_bucket", succeeded | {("le", "+Inf")})] == 2
    assert samples[("datalab_task_run_seconds_sum", succeeded)] > 0


@pytest.mark.usefixtures("_clean_tables")
def test_ready_reports_the_broker_without_failing_on_it(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with edge_client(settings) as local:
        assert local.get("/health/ready").json()["checks"]["broker"] == {
            "status": "not_configured",
            "executor": "local",
        }
    with edge_client(settings, task_broker_url=f"redis://127.0.0.1:{free_port()}/0") as gone:
        ready = gone.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["broker"]["status"] == "down"
    server = RedisServer(tmp_path_factory.mktemp("redis-health"))
    try:
        with edge_client(settings, task_broker_url=server.url, metrics_token=TOKEN) as up:
            broker = up.get("/health/ready").json()["checks"]["broker"]
            samples = _samples(up)
    finally:
        server.stop()
    assert (broker["status"], broker["executor"]) == ("ok", "celery")
    assert samples[("datalab_task_queue_depth", frozenset({("source", "broker")}))] == 0


def test_metrics_read_the_queue_depth_of_an_amqp_broker(
    settings: Settings, analyst_headers: dict[str, str]
) -> None:
    try:
        with Connection(RABBIT_URL, connect_timeout=3) as probe:
            probe.connect()
    except OSError:
        pytest.skip("RabbitMQ does not answer on 127.0.0.1:5672")
    queue = f"h16-depth-{uuid.uuid4().hex[:8]}"
    write_files(settings.source_data_dir)
    broker = frozenset({("source", "broker")})
    try:
        # No worker consumes the queue: what is submitted waits there.
        with edge_client(settings, task_broker_url=RABBIT_URL, task_queue=queue, metrics_token=TOKEN) as up:
            assert _samples(up)[("datalab_task_queue_depth", broker)] == 0  # no queue declared yet
            source = add_source(up, analyst_headers, "sqlite", {"path": "shop.db"})
            for n in range(3):
                submit(up, analyst_headers, source, f"SELECT {n} AS n")
            samples = _samples(up)
    finally:
        with Connection(RABBIT_URL) as connection:
            connection.default_channel.queue_delete(queue)  # type: ignore[attr-defined]
    assert samples[("datalab_task_queue_depth", broker)] == 3
    assert samples[("datalab_task_queue_depth", frozenset({("source", "table")}))] == 3
