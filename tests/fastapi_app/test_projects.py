"""Projects, members and what each kind of member may do to shared datasets and data sources.

Cast: `owner` (global analyst) creates the project and its resources; `reader` is a global
analyst with the project role viewer; `global_viewer` has the global role viewer and the project
role editor; `outsider` is a global analyst in no project. Every route is tried for each.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session

from datalab.storage import FINAL_PREFIX, TEMP_PREFIX
from shared_models import Role, User
from tests.dataset_files import good_file
from tests.helpers import Accounts, audit_entries, error_of

PROJECTS = "/api/v1/projects"
DATASETS = "/api/v1/datasets"
SOURCES = "/api/v1/data-sources"


@dataclass
class Team:
    """A project with one dataset and one data source, and the people around it."""

    project: int
    dataset: int
    source: int
    owner: dict[str, str]
    owner_id: int
    reader: dict[str, str]
    reader_user: User
    global_viewer: dict[str, str]
    outsider: dict[str, str]


def _upload(client: TestClient, headers: dict[str, str], fmt: str = "csv", **data: Any) -> Response:
    files = {"file": (f"rows.{fmt}", good_file(fmt))}
    return client.post(DATASETS, files=files, data={"name": f"shared {fmt}", **data}, headers=headers)


@pytest.fixture
def team(client: TestClient, app: FastAPI, accounts: Accounts) -> Iterator[Team]:
    """A project as described above, built through the API."""
    owner_user = accounts.create("owner@example.com", Role.ANALYST)
    owner = accounts.headers(owner_user)
    reader_user = accounts.create("reader@example.com", Role.ANALYST)
    viewer_user = accounts.create("gviewer@example.com", Role.VIEWER)
    outsider = accounts.headers(accounts.create("outsider@example.com", Role.ANALYST))
    project = client.post(PROJECTS, json={"name": "Sales"}, headers=owner).json()["id"]
    members = f"{PROJECTS}/{project}/members"
    added = client.post(members, json={"email": "Reader@example.com", "role": "viewer"}, headers=owner)
    assert added.status_code == 201, added.text
    added = client.post(members, json={"user_id": viewer_user.id, "role": "editor"}, headers=owner)
    assert added.status_code == 201, added.text
    dataset = _upload(client, owner, project_id=str(project))
    assert dataset.status_code == 201, dataset.text
    (app.state.settings.source_data_dir / "team.csv").write_text("id,name\n1,a\n")
    body = {"name": "team csv", "type": "csv", "config": {"path": "team.csv"}, "project_id": project}
    source = client.post(SOURCES, json=body, headers=owner)
    assert source.status_code == 201, source.text
    yield Team(
        project=project,
        dataset=dataset.json()["id"],
        source=source.json()["id"],
        owner=owner,
        owner_id=owner_user.id,
        reader=accounts.headers(reader_user),
        reader_user=reader_user,
        global_viewer=accounts.headers(viewer_user),
        outsider=outsider,
    )
    store = app.state.runtime.storage
    for prefix in (TEMP_PREFIX, FINAL_PREFIX):
        for item in list(store.list(prefix)):
            store.delete(item.key)


def _call(client: TestClient, team: Team, headers: dict[str, str], method: str, path: str) -> Response:
    url = path.format(
        d=f"{DATASETS}/{team.dataset}",
        s=f"{SOURCES}/{team.source}",
        p=f"{PROJECTS}/{team.project}",
        m=team.owner_id,
    )
    if path.endswith("/versions") and method == "POST":
        return client.post(url, files={"file": ("v.csv", good_file("csv"))}, headers=headers)
    if path.endswith("/query"):
        return client.post(url, json={"query": "SELECT count(*) AS n FROM data"}, headers=headers)
    if path.endswith("/members") and method == "POST":
        return client.post(url, json={"email": "owner@example.com", "role": "editor"}, headers=headers)
    if method == "PATCH":
        body = {"role": "viewer"} if "/members/" in path else {"description": "changed"}
        return client.patch(url, json=body, headers=headers)
    return client.request(method, url, headers=headers)


DATASET_READS = [
    ("GET", "{d}"),
    ("GET", "{d}/versions"),
    ("GET", "{d}/preview"),
    ("GET", "{d}/profile"),
    ("GET", "{d}/download"),
]
DATASET_QUERY = [("POST", "{d}/query")]
DATASET_CHANGES = [("POST", "{d}/versions"), ("DELETE", "{d}")]
SOURCE_READS = [("GET", "{s}")]
SOURCE_USES = [("POST", "{s}/test"), ("GET", "{s}/schema"), ("POST", "{s}/query")]
SOURCE_CHANGES = [("PATCH", "{s}"), ("DELETE", "{s}")]
PROJECT_READS = [("GET", "{p}"), ("GET", "{p}/members")]
PROJECT_CHANGES = [
    ("PATCH", "{p}"),
    ("POST", "{p}/members"),
    ("PATCH", "{p}/members/{m}"),
    ("DELETE", "{p}"),
]
EVERY_ROUTE = (
    DATASET_READS + DATASET_QUERY + DATASET_CHANGES + SOURCE_READS + SOURCE_USES + SOURCE_CHANGES
    + PROJECT_READS + PROJECT_CHANGES
)  # fmt: skip


@pytest.mark.parametrize(("method", "path"), EVERY_ROUTE)
def test_non_member_gets_404_on_every_route(client: TestClient, team: Team, method: str, path: str) -> None:
    error_of(_call(client, team, team.outsider, method, path), 404, "NOT_FOUND")


@pytest.mark.parametrize(("method", "path"), DATASET_READS + SOURCE_READS + PROJECT_READS)
@pytest.mark.parametrize("who", ["reader", "global_viewer", "owner"])
def test_members_read_what_the_project_shares(
    client: TestClient, team: Team, method: str, path: str, who: str
) -> None:
    response = _call(client, team, getattr(team, who), method, path)

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("method", "path"), DATASET_QUERY + DATASET_CHANGES + SOURCE_USES + SOURCE_CHANGES + PROJECT_CHANGES
)
@pytest.mark.parametrize("who", ["reader", "global_viewer"])
def test_project_viewer_and_global_viewer_change_nothing_403(
    client: TestClient, team: Team, method: str, path: str, who: str
) -> None:
    error_of(_call(client, team, getattr(team, who), method, path), 403, "FORBIDDEN")


@pytest.mark.parametrize(("method", "path"), DATASET_QUERY + SOURCE_USES)
def test_owner_queries_the_shared_resources(client: TestClient, team: Team, method: str, path: str) -> None:
    response = _call(client, team, team.owner, method, path)

    assert response.status_code == 200, response.text


def test_global_viewer_creates_nothing_403(client: TestClient, team: Team) -> None:
    error_of(client.post(PROJECTS, json={"name": "Mine"}, headers=team.global_viewer), 403, "FORBIDDEN")
    error_of(_upload(client, team.global_viewer, project_id=str(team.project)), 403, "FORBIDDEN")


def test_project_viewer_cannot_upload_into_the_project_403(client: TestClient, team: Team) -> None:
    error_of(_upload(client, team.reader, project_id=str(team.project)), 403, "FORBIDDEN")


def test_outsider_cannot_upload_into_the_project_404(client: TestClient, team: Team) -> None:
    error_of(_upload(client, team.outsider, project_id=str(team.project)), 404, "NOT_FOUND")


def test_lists_by_project_for_members_only(client: TestClient, team: Team) -> None:
    for url, item in ((DATASETS, team.dataset), (SOURCES, team.source)):
        listed = client.get(f"{url}?project_id={team.project}", headers=team.reader)
        assert [i["id"] for i in listed.json()["items"]] == [item]
        assert client.get(url, headers=team.reader).json()["items"] == []
        error_of(client.get(f"{url}?project_id={team.project}", headers=team.outsider), 404, "NOT_FOUND")
    assert [p["id"] for p in client.get(PROJECTS, headers=team.reader).json()["items"]] == [team.project]
    assert client.get(PROJECTS, headers=team.outsider).json()["items"] == []


def test_removed_member_loses_access_on_next_request(client: TestClient, team: Team) -> None:
    dataset = f"{DATASETS}/{team.dataset}"
    assert client.get(dataset, headers=team.reader).status_code == 200

    removed = client.delete(f"{PROJECTS}/{team.project}/members/{team.reader_user.id}", headers=team.owner)

    assert removed.status_code == 204
    error_of(client.get(dataset, headers=team.reader), 404, "NOT_FOUND")
    error_of(client.get(f"{SOURCES}/{team.source}", headers=team.reader), 404, "NOT_FOUND")


def test_promoted_member_may_then_query(client: TestClient, team: Team) -> None:
    url = f"{PROJECTS}/{team.project}/members/{team.reader_user.id}"
    assert client.patch(url, json={"role": "editor"}, headers=team.owner).status_code == 200

    response = _call(client, team, team.reader, "POST", "{d}/query")

    assert response.json()["data"] == [{"n": 3}]


def test_last_owner_cannot_leave_409(client: TestClient, team: Team, session: Session) -> None:
    owner_id = client.get(f"{PROJECTS}/{team.project}/members", headers=team.owner).json()["items"][0][
        "user_id"
    ]

    error_of(
        client.delete(f"{PROJECTS}/{team.project}/members/{owner_id}", headers=team.owner), 409, "CONFLICT"
    )


def test_every_project_change_is_audited(client: TestClient, team: Team, session: Session) -> None:
    client.patch(f"{PROJECTS}/{team.project}", json={"name": "Sales EU"}, headers=team.owner)
    client.delete(f"{PROJECTS}/{team.project}", headers=team.owner)

    actions = ["project.create", "project.member_add", "project.update", "project.delete", "dataset.create"]
    assert all(audit_entries(session, action) for action in actions)
    assert len(audit_entries(session, "project.member_add")) == 2
    error_of(client.get(f"{DATASETS}/{team.dataset}", headers=team.owner), 404, "NOT_FOUND")


def test_add_member_unknown_user_409_and_twice_409(client: TestClient, team: Team) -> None:
    members = f"{PROJECTS}/{team.project}/members"
    unknown = client.post(members, json={"email": "nobody@example.com"}, headers=team.owner)
    error_of(unknown, 409, "NO_SUCH_USER")
    again = client.post(members, json={"email": "reader@example.com"}, headers=team.owner)
    error_of(again, 409, "CONFLICT")


def test_add_member_needs_exactly_one_of_id_and_email_422(client: TestClient, team: Team) -> None:
    members = f"{PROJECTS}/{team.project}/members"
    response = client.post(members, json={"role": "viewer"}, headers=team.owner)

    assert response.status_code == 422


def test_team_flow_csv_and_parquet_shared_read_only(client: TestClient, team: Team) -> None:
    parquet = _upload(client, team.owner, "parquet", project_id=str(team.project))
    assert parquet.status_code == 201, parquet.text
    url = f"{DATASETS}/{parquet.json()['id']}"
    asked = {"query": "SELECT sum(id) AS s FROM data"}

    assert client.post(f"{url}/query", json=asked, headers=team.owner).json()["data"] == [{"s": 6}]
    assert client.get(f"{url}/profile", headers=team.reader).status_code == 200
    assert client.get(f"{url}/download", headers=team.reader).content == good_file("parquet")
    error_of(client.delete(url, headers=team.reader), 403, "FORBIDDEN")
