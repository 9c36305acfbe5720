"""/api/v1/datasets: every format through its whole life, on both storage backends; bad files refused."""

from __future__ import annotations

import hashlib

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session

from datalab.storage import FINAL_PREFIX, TEMP_PREFIX, ObjectStore
from shared_models import Dataset, DatasetVersion
from tests.dataset_files import COLUMNS, FORMATS, bad_file, empty_workbook, good_file, zip_bomb
from tests.helpers import audit_entries, count, error_of

URL = "/api/v1/datasets"


def upload(client: TestClient, headers: dict[str, str], fmt: str, content: bytes, **fields: str) -> Response:
    """POST a file as multipart/form-data, named after its format."""
    data = {"name": f"rows {fmt}", **fields}
    return client.post(URL, files={"file": (f"rows.{fmt}", content)}, data=data, headers=headers)


def stored_keys(store: ObjectStore) -> list[str]:
    """Every object key in the store, temporary or committed."""
    return sorted(item.key for prefix in (TEMP_PREFIX, FINAL_PREFIX) for item in store.list(prefix))


@pytest.mark.parametrize("fmt", FORMATS)
def test_dataset_lifecycle_every_format(
    client: TestClient,
    session: Session,
    analyst_headers: dict[str, str],
    object_store: ObjectStore,
    fmt: str,
) -> None:
    content = good_file(fmt)
    created = upload(client, analyst_headers, fmt, content, description="three rows")

    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {
        "id", "name", "description", "format", "size_bytes", "sha256", "version", "row_count",
        "columns", "project_id", "owner_id", "created_at", "updated_at",
    }  # fmt: skip
    assert (body["format"], body["version"], body["row_count"]) == (fmt, 1, 3)
    assert (body["size_bytes"], body["sha256"]) == (len(content), hashlib.sha256(content).hexdigest())
    assert [c["name"] for c in body["columns"]] == COLUMNS
    assert body["project_id"] is None
    dataset = f"{URL}/{body['id']}"
    assert len(stored_keys(object_store)) == 1
    assert all(key.startswith(FINAL_PREFIX) for key in stored_keys(object_store))

    assert client.get(dataset, headers=analyst_headers).json() == body

    preview = client.get(f"{dataset}/preview?limit=2", headers=analyst_headers)
    assert preview.status_code == 200, preview.text
    assert preview.json()["columns"] == COLUMNS
    assert [row["name"] for row in preview.json()["data"]] == ["ann", "bob"]

    profile = client.get(f"{dataset}/profile", headers=analyst_headers)
    assert profile.status_code == 200, profile.text
    by_name = {c["name"]: c for c in profile.json()["columns"]}
    assert by_name["score"]["nulls"] == 1
    assert by_name["score"]["mean"] == pytest.approx(3.0)
    assert (str(by_name["id"]["min"]), str(by_name["id"]["max"])) == ("1", "3")
    assert by_name["name"]["distinct"] == 3
    assert by_name["name"]["mean"] is None

    query = client.post(
        f"{dataset}/query",
        json={"query": "SELECT count(*) AS n, max(score) AS top FROM data"},
        headers=analyst_headers,
    )
    assert query.status_code == 200, query.text
    assert query.json()["data"] == [{"n": 3, "top": 4.5}]
    assert audit_entries(session, "dataset.query")[-1].details["query"].startswith("SELECT count(*)")

    download = client.get(f"{dataset}/download", headers=analyst_headers)
    assert download.status_code == 200
    assert download.content == content
    assert download.headers["X-Checksum-SHA256"] == hashlib.sha256(content).hexdigest()
    assert download.headers["ETag"] == f'"{hashlib.sha256(content).hexdigest()}"'

    second = good_file("csv") + b"4,dee,2.0\n"
    added = client.post(f"{dataset}/versions", files={"file": ("more.csv", second)}, headers=analyst_headers)
    assert added.status_code == 201, added.text
    assert (added.json()["version"], added.json()["row_count"], added.json()["format"]) == (2, 4, "csv")
    versions = client.get(f"{dataset}/versions", headers=analyst_headers).json()["items"]
    assert [v["version"] for v in versions] == [2, 1]
    assert client.get(f"{dataset}/download", headers=analyst_headers).content == second
    assert client.get(f"{dataset}/download?version=1", headers=analyst_headers).content == content
    first = client.post(
        f"{dataset}/query?version=1",
        json={"query": "SELECT count(*) AS n FROM data"},
        headers=analyst_headers,
    )
    assert first.json()["data"] == [{"n": 3}]
    assert len(stored_keys(object_store)) == 2

    assert client.delete(dataset, headers=analyst_headers).status_code == 204
    assert client.get(dataset, headers=analyst_headers).status_code == 404
    assert stored_keys(object_store) == []
    assert count(session, DatasetVersion) == 0
    assert [e.action for e in audit_entries(session, "dataset.delete")] == ["dataset.delete"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_malformed_file_422_leaves_nothing(
    client: TestClient,
    app: FastAPI,
    session: Session,
    analyst_headers: dict[str, str],
    object_store: ObjectStore,
    fmt: str,
) -> None:
    response = upload(client, analyst_headers, fmt, bad_file(fmt))

    error_of(response, 422, "DATASET_INVALID")
    assert count(session, Dataset) == 0
    assert stored_keys(object_store) == []
    spool = app.state.settings.upload_spool_dir
    assert not spool.exists() or list(spool.iterdir()) == []


def test_empty_workbook_422_leaves_no_spool_file(
    client: TestClient,
    app: FastAPI,
    session: Session,
    analyst_headers: dict[str, str],
    object_store: ObjectStore,
) -> None:
    error_of(upload(client, analyst_headers, "xlsx", empty_workbook()), 422, "DATASET_INVALID")

    assert count(session, Dataset) == 0
    assert list(app.state.settings.upload_spool_dir.iterdir()) == []


def test_content_not_matching_declared_type_422(
    client: TestClient, session: Session, analyst_headers: dict[str, str], object_store: ObjectStore
) -> None:
    response = client.post(
        URL, files={"file": ("rows.csv", good_file("parquet"))}, data={"name": "x"}, headers=analyst_headers
    )

    error_of(response, 422, "DATASET_INVALID")
    assert count(session, Dataset) == 0


def test_zip_bomb_xlsx_422(
    client: TestClient, session: Session, analyst_headers: dict[str, str], object_store: ObjectStore
) -> None:
    bomb = zip_bomb()
    assert len(bomb) < 1024 * 1024

    error = error_of(upload(client, analyst_headers, "xlsx", bomb), 422, "DATASET_INVALID")

    assert "zip bomb" in error["message"]
    assert count(session, Dataset) == 0
    assert stored_keys(object_store) == []


def test_upload_over_dataset_max_bytes_413(
    client: TestClient, app: FastAPI, session: Session, analyst_headers: dict[str, str]
) -> None:
    limit = app.state.settings.storage.dataset_max_bytes
    app.state.settings.storage.dataset_max_bytes = 10_000
    try:
        response = upload(client, analyst_headers, "csv", good_file("csv") * 1000)
    finally:
        app.state.settings.storage.dataset_max_bytes = limit

    error_of(response, 413, "PAYLOAD_TOO_LARGE")
    assert count(session, Dataset) == 0


def test_upload_larger_than_general_body_limit_is_accepted(
    client: TestClient, app: FastAPI, analyst_headers: dict[str, str]
) -> None:
    content = good_file("csv") + b"".join(b"%d,row,1.0\n" % i for i in range(200_000))
    assert len(content) > app.state.settings.edges.max_body_bytes

    response = upload(client, analyst_headers, "csv", content)

    assert response.status_code == 201, response.text
    assert response.json()["row_count"] == 200_003


@pytest.mark.parametrize(
    ("data", "field"),
    [({}, "name"), ({"name": "   "}, "name"), ({"name": "x", "project_id": "abc"}, "project_id")],
)
def test_upload_bad_fields_422(
    client: TestClient, session: Session, analyst_headers: dict[str, str], data: dict[str, str], field: str
) -> None:
    response = client.post(
        URL, files={"file": ("rows.csv", good_file("csv"))}, data=data, headers=analyst_headers
    )

    error = error_of(response, 422, "INVALID_INPUT")
    assert error["details"][0]["field"] == field
    assert count(session, Dataset) == 0


def test_upload_without_multipart_422(client: TestClient, analyst_headers: dict[str, str]) -> None:
    response = client.post(URL, content=b"id\n1\n", headers={**analyst_headers, "Content-Type": "text/csv"})

    error_of(response, 422, "DATASET_INVALID")


def test_query_write_refused_403(
    client: TestClient, session: Session, analyst_headers: dict[str, str], object_store: ObjectStore
) -> None:
    created = upload(client, analyst_headers, "csv", good_file("csv")).json()

    response = client.post(
        f"{URL}/{created['id']}/query", json={"query": "COPY data TO '/tmp/x.csv'"}, headers=analyst_headers
    )

    error_of(response, 403, "QUERY_REFUSED")
    # The refusal keeps its audit entry (keep_changes), one of it.
    [entry] = audit_entries(session, "dataset.query")
    assert (entry.details["success"], entry.details["error_code"]) == (False, "QUERY_REFUSED")


def test_query_cannot_read_other_files_403(
    client: TestClient, analyst_headers: dict[str, str], object_store: ObjectStore
) -> None:
    created = upload(client, analyst_headers, "csv", good_file("csv")).json()

    response = client.post(
        f"{URL}/{created['id']}/query", json={"query": "SELECT * FROM '/etc/passwd'"}, headers=analyst_headers
    )

    assert response.status_code == 403, response.text


def test_unknown_version_404(
    client: TestClient, analyst_headers: dict[str, str], object_store: ObjectStore
) -> None:
    created = upload(client, analyst_headers, "csv", good_file("csv")).json()

    error_of(client.get(f"{URL}/{created['id']}?version=9", headers=analyst_headers), 404, "NOT_FOUND")
