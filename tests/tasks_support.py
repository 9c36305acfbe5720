"""Helpers for task tests: a PostgreSQL source database of their own, and waiting on a task's state."""

from __future__ import annotations

import time
from typing import Any

import psycopg2
import pytest
from fastapi.testclient import TestClient

TASKS_URL = "/api/v1/tasks"
# Apart from the connector tests' `datalab_src_b`, so the two can run at the same time.
TASK_SOURCE_DB = "datalab_src_tasks"
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
    admin.close()
    return {
        "host": "127.0.0.1",
        "port": 5432,
        "database": TASK_SOURCE_DB,
        "username": "postgres",
        "password": "",
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


def submit(client: TestClient, headers: dict[str, str], source_id: int, query: str) -> int:
    """Submit a query task and return its id."""
    response = client.post(
        TASKS_URL, json={"kind": "query", "data_source_id": source_id, "query": query}, headers=headers
    )
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


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
