"""Contract tests for POST /api/data-sources/<id>/test: it really connects and records the outcome."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from datalab.settings import Settings
from shared_models import DataSource, Role, User
from tests.helpers import FORBIDDEN, audit_entries
from tests.sources import mysql_source, postgres_source, write_files

URL = "/api/data-sources"
NOT_FOUND = {"msg": "Data source not found"}


@pytest.fixture(scope="module")
def files(settings: Settings) -> None:
    """The SQLite, CSV and JSON sources, in the data folder."""
    write_files(settings.source_data_dir)


def create(client: TestClient, headers: dict[str, str], source_type: str, config: dict[str, Any]) -> int:
    """Create a source through the legacy API and return its id."""
    body = {"name": f"{source_type} source", "type": source_type, "config": config}
    response = client.post(URL, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def stored(session: Session, source_id: int) -> DataSource:
    """Return the row as the database holds it now."""
    session.expire_all()
    return session.get_one(DataSource, source_id)


@pytest.mark.parametrize(
    ("source_type", "config"),
    [
        ("sqlite", {"path": "shop.db"}),
        ("csv", {"path": "customers.csv"}),
        ("json", {"path": "customers.json"}),
    ],
)
def test_file_source_connects_200(
    client: TestClient,
    session: Session,
    files: None,
    user_headers: dict[str, str],
    source_type: str,
    config: dict[str, Any],
) -> None:
    source_id = create(client, user_headers, source_type, config)

    response = client.post(f"{URL}/{source_id}/test", headers=user_headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"success", "message", "latency_ms"}
    assert body["success"] is True
    assert isinstance(body["latency_ms"], int | float)
    row = stored(session, source_id)
    assert (row.status, row.error_message, row.last_test is not None) == ("connected", None, True)
    [entry] = audit_entries(session, "data_source.test")
    assert (entry.resource_id, entry.details["success"]) == (str(source_id), True)


@pytest.mark.parametrize("source_type", ["postgresql", "mysql"])
def test_database_source_connects_and_then_fails_200(
    client: TestClient, session: Session, user_headers: dict[str, str], source_type: str
) -> None:
    config = postgres_source() if source_type == "postgresql" else mysql_source()
    source_id = create(client, user_headers, source_type, config)
    assert client.post(f"{URL}/{source_id}/test", headers=user_headers).json()["success"] is True

    wrong = {**config, "database": "no_such_database_b"}
    client.put(f"{URL}/{source_id}", json={"config": wrong}, headers=user_headers)
    response = client.post(f"{URL}/{source_id}/test", headers=user_headers)

    # A source that does not connect is still a 200: success false, with a reason.
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is False
    assert "no_such_database_b" in body["message"] or "database" in body["message"].lower()
    row = stored(session, source_id)
    assert (row.status, row.error_message) == ("failed", body["message"])
    assert [e.details["success"] for e in audit_entries(session, "data_source.test")] == [True, False]


def test_only_owner_or_admin(
    client: TestClient,
    files: None,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    source_id = create(client, user_headers, "csv", {"path": "customers.csv"})
    response = client.post(f"{URL}/{source_id}/test", headers=other_headers)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert client.post(f"{URL}/{source_id}/test", headers=admin_headers).json()["success"] is True
    assert client.post(f"{URL}/999999/test", headers=user_headers).status_code == 404


def test_viewer_owner_403(
    client: TestClient, session: Session, files: None, user: User, user_headers: dict[str, str]
) -> None:
    # Viewers are read-only: a user demoted after creating a source may no longer test it.
    source_id = create(client, user_headers, "csv", {"path": "customers.csv"})
    user.role = Role.VIEWER.value
    session.commit()
    response = client.post(f"{URL}/{source_id}/test", headers=user_headers)
    assert (response.status_code, response.json()) == (403, FORBIDDEN)


def test_without_token_401(client: TestClient) -> None:
    assert client.post(f"{URL}/1/test").status_code == 401


@pytest.mark.parametrize(
    ("source_type", "config", "message"),
    [
        ("postgresql", {"host": "db", "database": "d", "username": "u", "port": 0}, "config.port: "),
        ("postgresql", {"host": "db", "database": "d"}, "config.username: is required"),
        ("mysql", {"host": "db;rm", "database": "d", "username": "u"}, "config.host: "),
        ("csv", {"path": "/etc/passwd"}, "config.path: "),
        ("json", {"path": "a/../../b.json"}, "config.path: "),
        ("sqlite", {"path": "a.db", "mode": "rw"}, "config.mode: unknown field"),
        ("rest_api", {"base_url": "ftp://example.com"}, "config.base_url: "),
        ("rest_api", {"base_url": "https://user:pw@example.com"}, "config.base_url: "),
        ("rest_api", {"base_url": "https://example.com", "headers": {"Host": "x"}}, "config.headers."),
        ("rest_api", {"base_url": "https://example.com", "timeout": 0}, "config.timeout: "),
    ],
)
def test_create_with_bad_config_400_names_field(
    client: TestClient, user_headers: dict[str, str], source_type: str, config: dict[str, Any], message: str
) -> None:
    body = {"name": "bad", "type": source_type, "config": config}
    response = client.post(URL, json=body, headers=user_headers)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"msg"}
    assert response.json()["msg"].startswith(message)


def test_update_type_must_fit_stored_config_409(
    client: TestClient, files: None, user_headers: dict[str, str]
) -> None:
    source_id = create(client, user_headers, "csv", {"path": "customers.csv"})
    response = client.put(f"{URL}/{source_id}", json={"type": "mysql"}, headers=user_headers)
    assert (response.status_code, response.json()) == (
        409,
        {"msg": "config.host: is required (for a mysql source)"},
    )
    response = client.put(f"{URL}/{source_id}", json={"type": "json"}, headers=user_headers)
    assert response.status_code == 200, response.text
