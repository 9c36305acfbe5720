"""Tasks on datasets (query, profile, export), results in the object storage (folder and S3), sharing.

All on the in-process executor: the same task code the workers run (tests/test_task_workers.py
runs one dataset task on a real worker).
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from datalab.settings import Settings
from datalab.storage import RESULTS_PREFIX, ObjectStore
from datalab.storage.gc import collect_garbage
from datalab.tasks import state
from datalab.tasks.kinds import load_work
from datalab.tasks.runner import _Attempt, build_context
from fastapi_app.main import create_app
from shared_models import AnalysisResult, AnalysisTask, Role, User
from tests.conftest import S3_BUCKET, S3_CREDENTIALS
from tests.dataset_files import COLUMNS, good_file
from tests.fastapi_app.test_projects import Team, team  # noqa: F401 - the project fixture, shared
from tests.helpers import Accounts, audit_entries, error_of
from tests.sources import write_files
from tests.tasks_support import (
    FINAL,
    TASKS_URL,
    add_source,
    empty_store,
    post_task,
    result_objects,
    wait_for,
)

DATASETS = "/api/v1/datasets"
QUERY = "SELECT name, score FROM data WHERE score IS NOT NULL ORDER BY id"


@pytest.fixture(scope="module")
def s3_app(settings: Settings, migrated: None, s3_endpoint: str) -> FastAPI:
    """The app with STORAGE_URL on S3 (moto's server): datasets and task results go there."""
    s3 = {
        "storage_url": f"s3://{S3_BUCKET}/tasks",
        "s3_endpoint_url": s3_endpoint,
        "aws_region": S3_CREDENTIALS["region_name"],
        "aws_access_key_id": SecretStr(S3_CREDENTIALS["aws_access_key_id"]),
        "aws_secret_access_key": SecretStr(S3_CREDENTIALS["aws_secret_access_key"]),
    }
    return create_app(settings.model_copy(update=s3))


@pytest.fixture(params=["file", "s3"])
def stored(
    request: pytest.FixtureRequest, app: FastAPI, client: TestClient
) -> Iterator[tuple[TestClient, ObjectStore]]:
    """A client and the object store its datasets and task results go to: the default folder, or S3 (moto)."""
    if request.param == "file":
        chosen, store = client, app.state.runtime.storage
    else:
        s3_app = request.getfixturevalue("s3_app")
        chosen = TestClient(s3_app).__enter__()
        store = s3_app.state.runtime.storage
    try:
        yield chosen, store
    finally:
        if chosen is not client:
            chosen.__exit__(None, None, None)
        empty_store(store)


@pytest.fixture
def local_store(app: FastAPI, client: TestClient) -> Iterator[ObjectStore]:
    """The app's default object store (a folder), emptied of datasets and results afterwards."""
    store: ObjectStore = app.state.runtime.storage
    yield store
    empty_store(store)


def _dataset(client: TestClient, headers: dict[str, str], fmt: str = "csv") -> int:
    files = {"file": (f"rows.{fmt}", good_file(fmt))}
    response = client.post(DATASETS, files=files, data={"name": f"rows {fmt}"}, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_dataset_query_task_stores_what_the_dataset_query_answers(
    stored: tuple[TestClient, ObjectStore], analyst_headers: dict[str, str], session: Session
) -> None:
    client, store = stored
    dataset = _dataset(client, analyst_headers)
    task_id = post_task(client, analyst_headers, {"kind": "query", "dataset_id": dataset, "query": QUERY})
    done = wait_for(client, analyst_headers, task_id, FINAL)
    assert (done["status"], done["row_count"]) == ("succeeded", 2), done
    assert (done["dataset_id"], done["dataset_version"], done["data_source_id"]) == (dataset, 1, None)
    synchronous = client.post(f"{DATASETS}/{dataset}/query", json={"query": QUERY}, headers=analyst_headers)
    page = client.get(f"{TASKS_URL}/{task_id}/result", headers=analyst_headers).json()
    assert (
        page["data"]
        == synchronous.json()["data"]
        == [
            {"name": "ann", "score": 1.5},
            {"name": "cy", "score": 4.5},
        ]
    )
    # One object, in the object storage, under the task's key.
    assert result_objects(store, task_id) == [f"{RESULTS_PREFIX}task-{task_id}/1.parquet"]
    csv = client.get(f"{TASKS_URL}/{task_id}/download", headers=analyst_headers)
    assert csv.text.splitlines() == ['"name","score"', '"ann",1.5', '"cy",4.5']
    assert audit_entries(session, "task.submit")[0].details["dataset_id"] == dataset


def test_result_removed_from_storage_is_410(
    stored: tuple[TestClient, ObjectStore], analyst_headers: dict[str, str]
) -> None:
    client, store = stored
    dataset = _dataset(client, analyst_headers)
    task_id = post_task(client, analyst_headers, {"kind": "query", "dataset_id": dataset, "query": QUERY})
    wait_for(client, analyst_headers, task_id, FINAL)
    for key in result_objects(store, task_id):
        store.delete(key)
    for path in ("result", "download", "download?format=parquet"):
        error_of(client.get(f"{TASKS_URL}/{task_id}/{path}", headers=analyst_headers), 410, "RESULT_GONE")


def test_profile_task_stores_the_dataset_profile(
    client: TestClient, analyst_headers: dict[str, str], local_store: ObjectStore
) -> None:
    dataset = _dataset(client, analyst_headers, "parquet")
    task_id = post_task(client, analyst_headers, {"kind": "profile", "dataset_id": dataset})
    done = wait_for(client, analyst_headers, task_id, FINAL)
    assert (done["status"], done["kind"], done["row_count"]) == ("succeeded", "profile", 3), done
    page = client.get(f"{TASKS_URL}/{task_id}/result", headers=analyst_headers).json()
    profile = client.get(f"{DATASETS}/{dataset}/profile", headers=analyst_headers).json()
    assert [row["name"] for row in page["data"]] == COLUMNS
    assert page["data"] == profile["columns"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("on", ["dataset", "data_source"])
def test_export_downloads_in_the_asked_format(
    client: TestClient,
    analyst_headers: dict[str, str],
    settings: Settings,
    local_store: ObjectStore,
    fmt: str,
    on: str,
) -> None:
    if on == "dataset":
        body: dict[str, Any] = {"dataset_id": _dataset(client, analyst_headers), "query": QUERY}
    else:
        write_files(settings.source_data_dir)
        source = add_source(client, analyst_headers, "sqlite", {"path": "shop.db"})
        body = {
            "data_source_id": source,
            "query": (
                "SELECT name, CASE id WHEN 1 THEN 1.5 ELSE 4.5 END AS score FROM customers WHERE id <> 2"
            ),
        }
    task_id = post_task(client, analyst_headers, {"kind": "export", "format": fmt, **body})
    done = wait_for(client, analyst_headers, task_id, FINAL)
    assert (done["status"], done["format"], done["row_count"]) == ("succeeded", fmt, 2), done
    answer = client.get(f"{TASKS_URL}/{task_id}/download", headers=analyst_headers)
    assert answer.headers["content-disposition"].endswith(f'task-{task_id}.{fmt}"')
    if fmt == "csv":
        assert answer.headers["content-type"].startswith("text/csv")
        assert answer.text.splitlines()[0] == '"name","score"'
        assert len(answer.text.splitlines()) == 3
    else:
        assert pq.read_table(io.BytesIO(answer.content)).column("score").to_pylist() == [1.5, 4.5]
    # The other format is still there on request.
    other = "parquet" if fmt == "csv" else "csv"
    assert client.get(f"{TASKS_URL}/{task_id}/download?format={other}", headers=analyst_headers).is_success


@pytest.mark.parametrize(
    "query", ["COPY data TO '/tmp/x.csv'", "SELECT * FROM '/etc/passwd'", "DROP TABLE data"]
)
@pytest.mark.parametrize("kind", ["query", "export"])
def test_dataset_task_has_the_dataset_query_guard_403(
    client: TestClient, analyst_headers: dict[str, str], local_store: ObjectStore, query: str, kind: str
) -> None:
    dataset = _dataset(client, analyst_headers)
    synchronous = client.post(f"{DATASETS}/{dataset}/query", json={"query": query}, headers=analyst_headers)
    body = {"kind": kind, "dataset_id": dataset, "query": query, "format": "csv"}
    if kind == "query":
        del body["format"]
    response = client.post(TASKS_URL, json=body, headers=analyst_headers)
    assert synchronous.status_code == response.status_code == 403, response.text
    assert response.json()["error"]["code"] == synchronous.json()["error"]["code"]


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "query", "data_source_id": 1, "dataset_id": 1, "query": "SELECT 1"},
        {"kind": "query", "query": "SELECT 1"},
        {"kind": "export", "dataset_id": 1, "query": "SELECT 1", "format": "xlsx"},
        {"kind": "export", "dataset_id": 1, "query": "SELECT 1"},
        {"kind": "profile", "data_source_id": 1},
        {"kind": "profile", "dataset_id": 1, "query": "SELECT 1"},
        {"kind": "profile"},
        {"kind": "sample", "dataset_id": 1},
        {"dataset_id": 1, "query": "SELECT 1"},
    ],
)
def test_bad_task_bodies_are_422(
    client: TestClient, analyst_headers: dict[str, str], body: dict[str, Any]
) -> None:
    error_of(client.post(TASKS_URL, json=body, headers=analyst_headers), 422, "VALIDATION_FAILED")


def test_someone_elses_dataset_is_404(
    client: TestClient, analyst_headers: dict[str, str], accounts: Accounts, local_store: ObjectStore
) -> None:
    dataset = _dataset(client, analyst_headers)
    stranger = accounts.headers(accounts.create("analyst2@example.com", Role.ANALYST))
    for body in ({"kind": "profile"}, {"kind": "query", "query": "SELECT 1"}):
        response = client.post(TASKS_URL, json={**body, "dataset_id": dataset}, headers=stranger)
        error_of(response, 404, "NOT_FOUND")


def test_storage_gc_keeps_live_results_and_removes_deleted_tasks(
    stored: tuple[TestClient, ObjectStore], analyst_headers: dict[str, str], app: FastAPI, session: Session
) -> None:
    client, store = stored
    dataset = _dataset(client, analyst_headers)
    kept, dropped = (
        post_task(client, analyst_headers, {"kind": "profile", "dataset_id": dataset}) for _ in range(2)
    )
    for task_id in (kept, dropped):
        wait_for(client, analyst_headers, task_id, FINAL)
    # An object of an attempt that lost to another: no result row names it.
    stray = f"{RESULTS_PREFIX}task-{kept}/9.parquet"
    store.commit(store.put_temp(_spare_file(app)), stray)
    session.execute(delete(AnalysisTask).where(AnalysisTask.id == dropped))
    session.commit()
    report = collect_garbage(app.state.sessionmaker, store, grace_s=0)
    assert report.objects >= 2  # and leftovers of earlier tests in the folder
    assert not store.exists(stray)
    assert result_objects(store, kept) == [f"{RESULTS_PREFIX}task-{kept}/1.parquet"]
    assert result_objects(store, dropped) == []
    assert client.get(f"{TASKS_URL}/{kept}/result", headers=analyst_headers).json()["total"] == 3


def test_an_attempt_that_lost_its_task_leaves_no_object(
    app: FastAPI,
    client: TestClient,
    analyst_headers: dict[str, str],
    local_store: ObjectStore,
    session: Session,
) -> None:
    dataset = _dataset(client, analyst_headers)
    owner = session.scalars(select(User).where(User.email == "analyst@example.com")).one()
    # Not submitted through the API, whose executor would run it at once.
    task = AnalysisTask(
        owner_id=owner.id, kind="profile", status="queued", dataset_id=dataset, params={"version": 1}
    )
    session.add(task)
    session.commit()
    context = build_context(app.state.settings, app.state.sessionmaker, local_store)
    claims = []
    for _attempt in (1, 2):
        # A lease of a millisecond: the second delivery takes the task over from the first.
        time.sleep(0.01)
        with app.state.sessionmaker.begin() as db:
            claims.append(state.claim(db, task.id, worker="test", lease_s=0.001, max_attempts=3))
            work = load_work(db, context.cipher, task.id)
    assert [c.attempt for c in claims] == [1, 2]
    _Attempt(context, task.id, 1, work).run()  # fenced out: it must leave nothing behind
    assert result_objects(local_store, task.id) == []
    _Attempt(context, task.id, 2, work).run()
    session.expire_all()
    assert (task.status, task.attempts, task.row_count) == ("succeeded", 2, 3)
    assert result_objects(local_store, task.id) == [f"{RESULTS_PREFIX}task-{task.id}/2.parquet"]
    assert session.scalars(select(AnalysisResult.object_key)).all() == [
        result_objects(local_store, task.id)[0]
    ]


def _spare_file(app: FastAPI) -> Any:
    path = app.state.settings.results_dir / "stray.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PAR1")
    return path


def _editor(client: TestClient, shared: Team, accounts: Accounts) -> dict[str, str]:
    editor = accounts.create("editor@example.com", Role.ANALYST)
    members = f"/api/v1/projects/{shared.project}/members"
    added = client.post(members, json={"user_id": editor.id, "role": "editor"}, headers=shared.owner)
    assert added.status_code == 201, added.text
    return accounts.headers(editor)


def test_tasks_are_visible_through_the_project_of_their_source(
    client: TestClient,
    team: Team,  # noqa: F811 - the fixture imported above
    local_store: ObjectStore,
) -> None:
    on_source = post_task(
        client, team.owner, {"kind": "query", "data_source_id": team.source, "query": "SELECT * FROM data"}
    )
    on_dataset = post_task(client, team.owner, {"kind": "profile", "dataset_id": team.dataset})
    personal = post_task(client, team.owner, {"kind": "profile", "dataset_id": _dataset(client, team.owner)})
    for task_id in (on_source, on_dataset, personal):
        wait_for(client, team.owner, task_id, FINAL)
    for member in (team.reader, team.global_viewer):
        listed = client.get(TASKS_URL, headers=member).json()
        assert [t["id"] for t in listed["items"]] == [on_dataset, on_source]
        assert client.get(f"{TASKS_URL}/{on_source}/result", headers=member).json()["total"] == 1
        assert client.get(f"{TASKS_URL}/{personal}", headers=member).status_code == 404
    for path in ("", "/result", "/download"):
        for task_id in (on_source, on_dataset):
            response = client.get(f"{TASKS_URL}/{task_id}{path}", headers=team.outsider)
            error_of(response, 404, "NOT_FOUND")
    assert client.get(TASKS_URL, headers=team.outsider).json()["total"] == 0
    # The owner sees all three; a member's view follows the membership, read at each request.
    assert client.get(TASKS_URL, headers=team.owner).json()["total"] == 3
    assert client.delete(
        f"/api/v1/projects/{team.project}/members/{team.reader_user.id}", headers=team.owner
    ).is_success
    assert client.get(f"{TASKS_URL}/{on_source}", headers=team.reader).status_code == 404


def test_cancel_needs_the_right_to_query_the_source(
    client: TestClient,
    team: Team,  # noqa: F811 - the fixture imported above
    accounts: Accounts,
    local_store: ObjectStore,
) -> None:
    editor = _editor(client, team, accounts)
    # An editor may submit on the project's dataset; the owner's task is theirs to cancel too.
    theirs = post_task(client, editor, {"kind": "profile", "dataset_id": team.dataset})
    task_id = post_task(client, team.owner, {"kind": "profile", "dataset_id": team.dataset})
    for finished in (theirs, task_id):
        wait_for(client, team.owner, finished, FINAL)
    # Project viewers (an analyst who is a project viewer, a viewer who is a project editor) may not.
    for member in (team.reader, team.global_viewer):
        error_of(client.post(f"{TASKS_URL}/{task_id}/cancel", headers=member), 403, "FORBIDDEN")
    error_of(client.post(f"{TASKS_URL}/{task_id}/cancel", headers=team.outsider), 404, "NOT_FOUND")
    # Past the permission check, a finished task is the 409 it is for its owner.
    for allowed in (editor, team.owner):
        error_of(client.post(f"{TASKS_URL}/{task_id}/cancel", headers=allowed), 409, "TASK_FINISHED")
