"""Contract tests for GET /api/audit-logs and the entries data sources and integrations write."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared_models import AuditLog, Role, User
from tests.helpers import Accounts

URL = "/api/audit-logs"
SECRET = "Audit-Must-Never-See-This-9"
ENTRY_KEYS = {
    "id",
    "user_id",
    "action",
    "resource_type",
    "resource_id",
    "details",
    "ip_address",
    "request_id",
    "created_at",
}


def create_source(client: TestClient, headers: dict[str, str], name: str = "warehouse") -> Any:
    """Create a data source whose config holds `SECRET`, and return its JSON."""
    config = {"host": "db", "database": "sales", "username": "reporter", "password": SECRET}
    body = {"name": name, "type": "mysql", "config": config}
    response = client.post("/api/data-sources", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def create_integration(client: TestClient, headers: dict[str, str]) -> Any:
    """Create an integration whose config holds `SECRET`, and return its JSON."""
    body = {"name": "alerts", "provider": "slack", "config": {"token": SECRET, "channel": "#ops"}}
    response = client.post("/api/integrations", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def entries(client: TestClient, headers: dict[str, str], **params: Any) -> list[Any]:
    """Return the audit entries the API lists for `params`."""
    response = client.get(URL, params={"per_page": 100, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["audit_logs"]  # type: ignore[no-any-return]


def test_list_audit_logs_admin_200_contract_object(
    client: TestClient, user: User, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    source = create_source(client, {**user_headers, "X-Request-ID": "req-create-42"})

    response = client.get(URL, params={"action": "data_source.create"}, headers=admin_headers)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"audit_logs", "total", "page", "per_page"}
    assert (body["total"], body["page"], body["per_page"]) == (1, 1, 20)
    [entry] = body["audit_logs"]
    assert set(entry) == ENTRY_KEYS
    assert isinstance(entry["id"], int)
    assert entry["user_id"] == user.id
    assert entry["action"] == "data_source.create"
    assert entry["resource_type"] == "data_source"
    assert entry["resource_id"] == str(source["id"])
    assert isinstance(entry["details"], dict)
    assert entry["ip_address"] == "testclient"
    assert entry["request_id"] == "req-create-42"
    assert entry["created_at"].endswith("+00:00")
    assert datetime.fromisoformat(entry["created_at"]).utcoffset() is not None


def test_list_audit_logs_request_id_matches_response_header(
    client: TestClient, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    response = client.post(
        "/api/data-sources",
        json={"name": "n", "type": "csv", "config": {"path": "n.csv"}},
        headers=user_headers,
    )

    [entry] = entries(client, admin_headers, action="data_source.create")
    assert entry["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.USER, Role.ANALYST])
def test_list_audit_logs_non_admin_403(client: TestClient, accounts: Accounts, role: Role) -> None:
    member = accounts.create(f"{role.value}@example.com", role)

    response = client.get(URL, headers=accounts.headers(member))

    assert response.status_code == 403
    assert response.json() == {"msg": "Insufficient permissions"}


def test_list_audit_logs_without_token_401(client: TestClient) -> None:
    response = client.get(URL)

    assert response.status_code == 401
    assert response.json() == {"msg": "Missing Authorization Header"}


def test_list_audit_logs_newest_first(
    client: TestClient, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    source = create_source(client, user_headers)
    client.put(f"/api/data-sources/{source['id']}", json={"description": "d"}, headers=user_headers)
    client.delete(f"/api/data-sources/{source['id']}", headers=user_headers)

    listed = entries(client, admin_headers)

    actions = [e["action"] for e in listed if e["action"].startswith("data_source.")]
    assert actions == ["data_source.delete", "data_source.update", "data_source.create"]
    times = [e["created_at"] for e in listed]
    assert times == sorted(times, reverse=True)


def test_list_audit_logs_admin_sees_every_user(
    client: TestClient,
    user: User,
    admin: User,
    user_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    create_source(client, user_headers, name="users")
    create_source(client, admin_headers, name="admins")

    listed = entries(client, admin_headers, action="data_source.create")

    assert [e["user_id"] for e in listed] == [admin.id, user.id]


def test_list_audit_logs_user_id_filter(
    client: TestClient, user: User, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    create_source(client, user_headers)
    create_source(client, admin_headers)

    listed = entries(client, admin_headers, user_id=user.id)

    assert listed
    assert {e["user_id"] for e in listed} == {user.id}
    assert "data_source.create" in [e["action"] for e in listed]


def test_list_audit_logs_action_filter(
    client: TestClient, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    create_source(client, user_headers, name="a")
    create_source(client, user_headers, name="b")
    create_integration(client, user_headers)

    response = client.get(URL, params={"action": "data_source.create"}, headers=admin_headers)

    assert [e["action"] for e in response.json()["audit_logs"]] == ["data_source.create"] * 2
    assert response.json()["total"] == 2


def test_list_audit_logs_unknown_action_empty(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.get(URL, params={"action": "no.such_action"}, headers=admin_headers)

    assert response.status_code == 200
    assert response.json() == {"audit_logs": [], "total": 0, "page": 1, "per_page": 20}


def test_list_audit_logs_pagination(
    client: TestClient, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    for n in range(3):
        create_source(client, user_headers, name=f"s{n}")
    everything = entries(client, admin_headers, action="data_source.create")

    pages = [
        client.get(
            URL, params={"action": "data_source.create", "per_page": 2, "page": p}, headers=admin_headers
        )
        for p in (1, 2)
    ]

    assert [e["id"] for p in pages for e in p.json()["audit_logs"]] == [e["id"] for e in everything]
    assert [(p.json()["total"], p.json()["page"], p.json()["per_page"]) for p in pages] == [
        (3, 1, 2),
        (3, 2, 2),
    ]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("user_id", "abc"),
        ("user_id", "0"),
        ("user_id", "-1"),
        ("user_id", "99999999999999999999"),
        ("action", "x" * 65),
        ("per_page", "0"),
        ("per_page", "101"),
        ("page", "abc"),
    ],
)
def test_list_audit_logs_bad_query_400(
    client: TestClient, admin_headers: dict[str, str], param: str, value: str
) -> None:
    response = client.get(URL, params={param: value}, headers=admin_headers)

    assert response.status_code == 400
    assert response.json()["msg"].startswith(f"{param}: ")


def test_audit_data_source_lifecycle_actions(
    client: TestClient, user: User, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    source = create_source(client, user_headers)
    client.put(f"/api/data-sources/{source['id']}", json={"name": "renamed"}, headers=user_headers)
    client.delete(f"/api/data-sources/{source['id']}", headers=user_headers)

    listed = [e for e in entries(client, admin_headers) if e["resource_type"] == "data_source"]

    assert [(e["action"], e["user_id"], e["resource_id"]) for e in listed] == [
        ("data_source.delete", user.id, str(source["id"])),
        ("data_source.update", user.id, str(source["id"])),
        ("data_source.create", user.id, str(source["id"])),
    ]


def test_audit_integration_lifecycle_actions(
    client: TestClient, user: User, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    integration = create_integration(client, user_headers)
    client.delete(f"/api/integrations/{integration['id']}", headers=user_headers)

    listed = [e for e in entries(client, admin_headers) if e["resource_type"] == "integration"]

    assert [(e["action"], e["user_id"], e["resource_id"]) for e in listed] == [
        ("integration.delete", user.id, str(integration["id"])),
        ("integration.create", user.id, str(integration["id"])),
    ]


def test_audit_admin_delete_records_admin_as_actor(
    client: TestClient, admin: User, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    source = create_source(client, user_headers)
    client.delete(f"/api/data-sources/{source['id']}", headers=admin_headers)

    [entry] = entries(client, admin_headers, action="data_source.delete")

    assert (entry["user_id"], entry["resource_id"]) == (admin.id, str(source["id"]))


def test_audit_never_stores_config_secrets(
    client: TestClient, session: Session, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    source = create_source(client, user_headers)
    new_config = {**source["config"], "password": SECRET + "-new"}
    updated = client.put(
        f"/api/data-sources/{source['id']}", json={"config": new_config}, headers=user_headers
    )
    assert updated.status_code == 200, updated.text
    client.delete(f"/api/data-sources/{source['id']}", headers=user_headers)
    integration = create_integration(client, user_headers)
    client.delete(f"/api/integrations/{integration['id']}", headers=user_headers)

    response = client.get(URL, params={"per_page": 100}, headers=admin_headers)

    assert response.json()["total"] >= 5
    assert SECRET not in response.text
    session.expire_all()
    rows = session.scalars(select(AuditLog)).all()
    stored = json.dumps([[r.action, r.resource_type, r.resource_id, r.details] for r in rows])
    assert SECRET not in stored
