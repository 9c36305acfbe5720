"""/api/v1/tasks on the in-process executor: submit, watch, page, download, cancel, access."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datalab.settings import Settings
from fastapi_app.main import create_app
from shared_models import AnalysisResult, AnalysisTask, Role
from tests.helpers import Accounts, audit_entries, error_of
from tests.sources import mysql_source, write_files
from tests.tasks_support import (
    FINAL,
    TASKS_URL,
    active_queries,
    add_source,
    postgres_task_source,
    submit,
    wait_for,
)

CUSTOMERS = "SELECT id, email, name FROM customers ORDER BY id"


@pytest.fixture
def sqlite_source(client: TestClient, analyst_headers: dict[str, str], settings: Settings) -> int:
    """A SQLite source with three customers, owned by the analyst."""
    write_files(settings.source_data_dir)
    return add_source(client, analyst_headers, "sqlite", {"path": "shop.db"})


@pytest.fixture
def pg_source(client: TestClient, analyst_headers: dict[str, str]) -> int:
    """The tasks' PostgreSQL source, owned by the analyst."""
    return add_source(client, analyst_headers, "postgresql", postgres_task_source())


def test_submit_answers_202_with_location_and_runs(
    client: TestClient, analyst_headers: dict[str, str], sqlite_source: int, session: Session
) -> None:
    response = client.post(
        TASKS_URL,
        json={"kind": "query", "data_source_id": sqlite_source, "query": CUSTOMERS},
        headers=analyst_headers,
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"id", "kind", "status", "created_at"}
    assert (body["kind"], body["status"]) == ("query", "queued")
    assert response.headers["Location"] == f"{TASKS_URL}/{body['id']}"
    done = wait_for(client, analyst_headers, body["id"], FINAL)
    assert done["status"] == "succeeded", done
    assert (done["row_count"], done["progress"], done["error"]) == (3, 1.0, None)
    assert done["result_bytes"] > 0
    assert done["started_at"]
    assert done["finished_at"]
    page = client.get(f"{TASKS_URL}/{body['id']}/result?limit=2&offset=1", headers=analyst_headers).json()
    assert page["columns"] == ["id", "email", "name"]
    assert page["data"] == [
        {"id": 2, "email": "bob@example.com", "name": "Bob"},
        {"id": 3, "email": "cy@example.com", "name": None},
    ]
    assert (page["total"], page["has_more"]) == (3, False)
    assert len(audit_entries(session, "task.submit")) == 1


def test_downloads_csv_and_parquet(
    client: TestClient, analyst_headers: dict[str, str], sqlite_source: int
) -> None:
    task_id = submit(client, analyst_headers, sqlite_source, CUSTOMERS)
    wait_for(client, analyst_headers, task_id, FINAL)
    csv = client.get(f"{TASKS_URL}/{task_id}/download?format=csv", headers=analyst_headers)
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0] == '"id","email","name"'
    assert len(lines) == 4
    parquet = client.get(f"{TASKS_URL}/{task_id}/download?format=parquet", headers=analyst_headers)
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.column("email").to_pylist() == ["ada@example.com", "bob@example.com", "cy@example.com"]


@pytest.mark.postgres
def test_large_postgres_result_is_paged_and_downloaded(
    client: TestClient, analyst_headers: dict[str, str], pg_source: int, session: Session
) -> None:
    rows = 120_000
    query = (
        "SELECT g AS id, g * 1.5 AS half, 'row ' || g AS label, DATE '2024-01-01' + (g % 365) AS day"
        " FROM generate_series(1, 120000) AS g ORDER BY g"
    )
    task_id = submit(client, analyst_headers, pg_source, query)
    done = wait_for(client, analyst_headers, task_id, FINAL, timeout=120)
    assert (done["status"], done["row_count"], done["truncated"]) == ("succeeded", rows, None)
    page = client.get(f"{TASKS_URL}/{task_id}/result?limit=3&offset=99998", headers=analyst_headers).json()
    assert [r["id"] for r in page["data"]] == [99_999, 100_000, 100_001]
    assert page["data"][0] == {"id": 99_999, "half": "149998.5", "label": "row 99999", "day": "2024-12-20"}
    csv = client.get(f"{TASKS_URL}/{task_id}/download", headers=analyst_headers)
    assert csv.text.count("\n") == rows + 1
    results = session.scalars(select(AnalysisResult).where(AnalysisResult.task_id == task_id)).all()
    assert [(r.row_count, r.object_key) for r in results] == [(rows, f"results/task-{task_id}/1.parquet")]


def test_whole_number_ids_written_as_floats_are_accepted(
    client: TestClient, analyst_headers: dict[str, str], sqlite_source: int
) -> None:
    body = {"kind": "query", "data_source_id": float(sqlite_source), "query": CUSTOMERS}
    assert client.post(TASKS_URL, json=body, headers=analyst_headers).status_code == 202
    body["data_source_id"] = sqlite_source + 0.5
    assert client.post(TASKS_URL, json=body, headers=analyst_headers).status_code == 422


def test_write_query_is_refused_before_queueing(
    client: TestClient, analyst_headers: dict[str, str], sqlite_source: int, session: Session
) -> None:
    response = client.post(
        TASKS_URL,
        json={"kind": "query", "data_source_id": sqlite_source, "query": "DELETE FROM customers"},
        headers=analyst_headers,
    )
    error_of(response, 403, "QUERY_REFUSED")
    assert session.scalar(select(func.count()).select_from(AnalysisTask)) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "profile", "data_source_id": 1, "query": "SELECT 1"},
        {"kind": "query", "data_source_id": 0, "query": "SELECT 1"},
        {"kind": "query", "data_source_id": 1, "query": "   "},
        {"kind": "query", "data_source_id": 1, "query": "SELECT 1", "owner_id": 5},
    ],
)
def test_bad_bodies_are_422(
    client: TestClient, analyst_headers: dict[str, str], body: dict[str, Any]
) -> None:
    response = client.post(TASKS_URL, json=body, headers=analyst_headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"]


def test_viewer_cannot_submit(client: TestClient, viewer_headers: dict[str, str]) -> None:
    response = client.post(
        TASKS_URL, json={"kind": "query", "data_source_id": 1, "query": "SELECT 1"}, headers=viewer_headers
    )
    assert response.status_code == 403


def test_someone_elses_task_is_404_and_admins_see_all(
    client: TestClient,
    analyst_headers: dict[str, str],
    other_headers: dict[str, str],
    admin_headers: dict[str, str],
    sqlite_source: int,
    accounts: Accounts,
) -> None:
    task_id = submit(client, analyst_headers, sqlite_source, CUSTOMERS)
    wait_for(client, analyst_headers, task_id, FINAL)
    for path in ("", "/result", "/download"):
        assert client.get(f"{TASKS_URL}/{task_id}{path}", headers=other_headers).status_code == 404
    assert client.post(f"{TASKS_URL}/{task_id}/cancel", headers=other_headers).status_code == 404
    assert client.get(TASKS_URL, headers=other_headers).json()["total"] == 0
    assert client.get(f"{TASKS_URL}?all=true", headers=other_headers).status_code == 403
    mine = client.get(TASKS_URL, headers=analyst_headers).json()
    assert [t["id"] for t in mine["items"]] == [task_id]
    everyone = client.get(f"{TASKS_URL}?all=true", headers=admin_headers).json()
    assert [t["id"] for t in everyone["items"]] == [task_id]
    assert client.get(f"{TASKS_URL}/{task_id}", headers=admin_headers).status_code == 200
    # The source belongs to the analyst: another analyst cannot run tasks on it either.
    second = accounts.headers(accounts.create("analyst2@example.com", Role.ANALYST))
    response = client.post(
        TASKS_URL,
        json={"kind": "query", "data_source_id": sqlite_source, "query": CUSTOMERS},
        headers=second,
    )
    error_of(response, 404, "NOT_FOUND")


def test_finished_task_cannot_be_cancelled_and_unfinished_has_no_result(
    client: TestClient, analyst_headers: dict[str, str], sqlite_source: int
) -> None:
    task_id = submit(client, analyst_headers, sqlite_source, CUSTOMERS)
    wait_for(client, analyst_headers, task_id, FINAL)
    response = client.post(f"{TASKS_URL}/{task_id}/cancel", headers=analyst_headers)
    error_of(response, 409, "TASK_FINISHED")
    failed = submit(client, analyst_headers, sqlite_source, "SELECT nope FROM customers")
    body = wait_for(client, analyst_headers, failed, FINAL)
    assert body["status"] == "failed"
    assert body["error"]["code"] == "QUERY_INVALID"  # the query's own mistake
    response = client.get(f"{TASKS_URL}/{failed}/result", headers=analyst_headers)
    error_of(response, 409, "RESULT_NOT_READY")


SLOW = {
    "postgresql": "SELECT pg_sleep(60) AS slept, 'cancel-me-pg' AS marker",
    "mysql": "SELECT SLEEP(60) AS slept",
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    "csv": "SELECT count(*) FROM data a, data b, data c, data d, data e, data f, data g, data h, data i,"
    " data j, data k, data l, data m, data n, data o, data p, data q, data r, data s, data t, data u",
}


def _slow_source(client: TestClient, headers: dict[str, str], kind: str, settings: Settings) -> int:
    if kind == "postgresql":
        return add_source(client, headers, kind, postgres_task_source())
    if kind == "mysql":
        return add_source(client, headers, kind, mysql_source())
    write_files(settings.source_data_dir)
    return add_source(client, headers, kind, {"path": "shop.db" if kind == "sqlite" else "customers.csv"})


@pytest.mark.parametrize("kind", list(SLOW))
def test_cancel_interrupts_a_running_query_at_the_source(
    client: TestClient, analyst_headers: dict[str, str], settings: Settings, kind: str, session: Session
) -> None:
    source_id = _slow_source(client, analyst_headers, kind, settings)
    task_id = submit(client, analyst_headers, source_id, SLOW[kind])
    wait_for(client, analyst_headers, task_id, {"running"})
    time.sleep(0.3)  # let the statement reach the server
    asked = time.monotonic()
    response = client.post(f"{TASKS_URL}/{task_id}/cancel", headers=analyst_headers)
    assert response.status_code == 200
    assert response.json()["cancel_requested"] is True
    body = wait_for(client, analyst_headers, task_id, FINAL, timeout=10)
    took = time.monotonic() - asked
    assert body["status"] == "cancelled", body
    print(f"{kind}: cancelled {took:.2f} s after the request")  # noqa: T201 - the measured number
    if kind == "postgresql":
        assert active_queries("cancel-me-pg") == 0
    assert len(audit_entries(session, "task.cancel")) == 1


@pytest.mark.postgres
def test_cancelled_queued_task_never_starts(
    client: TestClient, analyst_headers: dict[str, str], pg_source: int, app: FastAPI
) -> None:
    threads = app.state.settings.tasks.task_local_threads
    blockers = [submit(client, analyst_headers, pg_source, "SELECT pg_sleep(30)") for _ in range(threads)]
    for blocker in blockers:
        wait_for(client, analyst_headers, blocker, {"running"})
    queued = submit(client, analyst_headers, pg_source, "SELECT 1 AS one")
    response = client.post(f"{TASKS_URL}/{queued}/cancel", headers=analyst_headers)
    assert response.json()["status"] == "cancelled"
    for blocker in blockers:
        client.post(f"{TASKS_URL}/{blocker}/cancel", headers=analyst_headers)
        wait_for(client, analyst_headers, blocker, FINAL, timeout=10)
    time.sleep(0.5)  # the pool has had its chance to pick the cancelled task up
    body = client.get(f"{TASKS_URL}/{queued}", headers=analyst_headers).json()
    assert (body["status"], body["started_at"], body["attempts"]) == ("cancelled", None, 0)


@pytest.fixture
def capped_client(settings: Settings, migrated: None, client: TestClient) -> Iterator[TestClient]:
    """A client for an app whose tasks keep at most 25 rows."""
    capped = create_app(settings.model_copy(update={"task_max_rows": 25}))
    with TestClient(capped) as test_client:
        yield test_client


@pytest.mark.postgres
def test_row_cap_cuts_the_result(
    capped_client: TestClient, analyst_headers: dict[str, str], pg_source: int
) -> None:
    task_id = submit(capped_client, analyst_headers, pg_source, "SELECT g FROM generate_series(1, 1000) g")
    body = wait_for(capped_client, analyst_headers, task_id, FINAL)
    assert (body["status"], body["row_count"], body["truncated"]) == ("succeeded", 25, "rows")
