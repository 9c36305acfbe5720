"""Contract tests for /api/integrations: list, create and soft delete."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from shared_models import AuditLog, Integration, Role, User
from tests.helpers import FORBIDDEN, Accounts, count

URL = "/api/integrations"
MASK = "********"
SECRET = "xoxb-Plaintext-Slack-Token"
INTEGRATION_KEYS = {"id", "owner_id", "name", "provider", "is_active", "config", "created_at"}
NOT_FOUND = {"msg": "Integration not found"}
DELETED = {"msg": "Integration deleted"}


def integration_body(name: str = "alerts", **fields: Any) -> dict[str, Any]:
    """Return a valid create body, with `fields` overriding the defaults."""
    body: dict[str, Any] = {
        "name": name,
        "provider": "slack",
        "config": {"channel": "#alerts", "token": SECRET, "retries": 3},
    }
    body.update(fields)
    return body


def create_integration(
    client: TestClient, headers: dict[str, str], name: str = "alerts", **fields: Any
) -> Any:
    """Create an integration through the API and return its JSON."""
    response = client.post(URL, json=integration_body(name, **fields), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def add_integration(app: FastAPI, session: Session, owner: User) -> int:
    """Store an integration for `owner` directly in the database and return its id."""
    integration = Integration(
        owner_id=owner.id,
        name="arranged",
        provider="webhook",
        config_encrypted=app.state.runtime.cipher.encrypt({"url": "https://hooks.example.com"}),
    )
    session.add(integration)
    session.commit()
    return integration.id


# --- POST /api/integrations -----------------------------------------------------------------


def test_create_integration_201_contract_object(
    client: TestClient, user: User, user_headers: dict[str, str]
) -> None:
    response = client.post(URL, json=integration_body(), headers=user_headers)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == INTEGRATION_KEYS
    assert isinstance(body["id"], int)
    assert body["owner_id"] == user.id
    assert body["name"] == "alerts"
    assert body["provider"] == "slack"
    assert body["is_active"] is True
    assert body["config"] == {"channel": "#alerts", "token": MASK, "retries": 3}
    assert body["created_at"].endswith("+00:00")
    assert datetime.fromisoformat(body["created_at"]).utcoffset() is not None
    assert SECRET not in response.text


@pytest.mark.parametrize(
    "key", ["password", "secret", "api_key", "apiKey", "key", "credentials", "access_token"]
)
def test_create_integration_masks_secret_key(
    client: TestClient, user_headers: dict[str, str], key: str
) -> None:
    config = {"url": "https://hooks.example.com", "nested": {key: SECRET}, key: SECRET}

    response = client.post(URL, json=integration_body(config=config), headers=user_headers)

    assert response.status_code == 201
    assert response.json()["config"] == {"url": "https://hooks.example.com", "nested": {key: MASK}, key: MASK}


def test_create_integration_config_stored_encrypted(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str]
) -> None:
    created = create_integration(client, user_headers)

    row = session.get(Integration, created["id"])
    assert row is not None
    assert SECRET not in row.config_encrypted
    assert app.state.runtime.cipher.decrypt(row.config_encrypted) == integration_body()["config"]


def test_create_integration_ignores_unknown_keys(
    client: TestClient, user: User, other: User, user_headers: dict[str, str]
) -> None:
    body = integration_body(owner_id=other.id, is_active=False, id=424242, colour="blue")

    response = client.post(URL, json=body, headers=user_headers)

    assert response.status_code == 201
    assert response.json()["owner_id"] == user.id
    assert response.json()["is_active"] is True
    assert response.json()["id"] != 424242


@pytest.mark.parametrize(
    "text",
    ["Alertes 🚨🔔", "تنبيهات", "e\u0301te\u0301", "通知 알림"],
    ids=["emoji", "arabic", "combining", "cjk"],
)
def test_create_integration_unicode_round_trips(
    client: TestClient, user_headers: dict[str, str], text: str
) -> None:
    created = create_integration(client, user_headers, name=text, provider=text)

    listed = client.get(URL, headers=user_headers).json()["integrations"]
    assert (created["name"], created["provider"]) == (text, text)
    assert (listed[0]["name"], listed[0]["provider"]) == (text, text)


def test_create_integration_viewer_403(
    client: TestClient, session: Session, viewer_headers: dict[str, str]
) -> None:
    audit_before = count(session, AuditLog)

    response = client.post(URL, json=integration_body(), headers=viewer_headers)

    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert count(session, Integration) == 0
    assert count(session, AuditLog) == audit_before


@pytest.mark.parametrize("role", [Role.ANALYST, Role.ADMIN])
def test_create_integration_analyst_and_admin_201(client: TestClient, accounts: Accounts, role: Role) -> None:
    member = accounts.create(f"{role.value}@example.com", role)

    response = client.post(URL, json=integration_body(), headers=accounts.headers(member))

    assert response.status_code == 201
    assert response.json()["owner_id"] == member.id


@pytest.mark.parametrize(("method", "path"), [("GET", URL), ("POST", URL), ("DELETE", f"{URL}/1")])
def test_integration_routes_without_token_401(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, json=integration_body())

    assert response.status_code == 401
    assert response.json() == {"msg": "Missing Authorization Header"}


# --- GET /api/integrations ------------------------------------------------------------------


def test_list_integrations_own_active_newest_first(
    client: TestClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    first = create_integration(client, user_headers, name="first")
    deleted = create_integration(client, user_headers, name="deleted")
    third = create_integration(client, user_headers, name="third")
    create_integration(client, other_headers, name="not-mine")
    client.delete(f"{URL}/{deleted['id']}", headers=user_headers)

    response = client.get(URL, headers=user_headers)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"integrations", "total", "page", "per_page"}
    assert [i["id"] for i in body["integrations"]] == [third["id"], first["id"]]
    assert (body["total"], body["page"], body["per_page"]) == (2, 1, 20)
    assert body["integrations"][0] == third
    assert SECRET not in response.text


def test_list_integrations_admin_sees_only_own(
    client: TestClient, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    create_integration(client, user_headers, name="users")
    mine = create_integration(client, admin_headers, name="admins")

    response = client.get(URL, headers=admin_headers)

    assert [i["id"] for i in response.json()["integrations"]] == [mine["id"]]
    assert response.json()["total"] == 1


def test_list_integrations_viewer_sees_own(
    client: TestClient, app: FastAPI, session: Session, viewer: User, viewer_headers: dict[str, str]
) -> None:
    integration_id = add_integration(app, session, viewer)

    response = client.get(URL, headers=viewer_headers)

    assert response.status_code == 200
    assert [i["id"] for i in response.json()["integrations"]] == [integration_id]


def test_list_integrations_pagination(client: TestClient, user_headers: dict[str, str]) -> None:
    ids = [create_integration(client, user_headers, name=f"i{n}")["id"] for n in range(3)]

    pages = [
        client.get(URL, params={"page": p, "per_page": 2}, headers=user_headers).json() for p in (1, 2, 3)
    ]

    assert [[i["id"] for i in p["integrations"]] for p in pages] == [[ids[2], ids[1]], [ids[0]], []]
    assert [(p["total"], p["page"], p["per_page"]) for p in pages] == [(3, 1, 2), (3, 2, 2), (3, 3, 2)]


@pytest.mark.parametrize(
    ("param", "value"),
    [("per_page", "0"), ("per_page", "101"), ("per_page", "-1"), ("per_page", "abc"), ("page", "0")],
)
def test_list_integrations_bad_pagination_400(
    client: TestClient, user_headers: dict[str, str], param: str, value: str
) -> None:
    response = client.get(URL, params={param: value}, headers=user_headers)

    assert response.status_code == 400
    assert response.json()["msg"].startswith(f"{param}: ")


# --- DELETE /api/integrations/<id> ----------------------------------------------------------


def test_delete_integration_200_soft_deletes(
    client: TestClient, session: Session, user_headers: dict[str, str]
) -> None:
    created = create_integration(client, user_headers)

    response = client.delete(f"{URL}/{created['id']}", headers=user_headers)

    assert response.status_code == 200
    assert response.json() == DELETED
    session.expire_all()
    row = session.get(Integration, created["id"])
    assert row is not None
    assert row.is_active is False
    assert client.get(URL, headers=user_headers).json()["integrations"] == []


def test_delete_integration_twice_404(client: TestClient, user_headers: dict[str, str]) -> None:
    created = create_integration(client, user_headers)
    client.delete(f"{URL}/{created['id']}", headers=user_headers)

    response = client.delete(f"{URL}/{created['id']}", headers=user_headers)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_delete_integration_other_users_404_like_missing(
    client: TestClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    theirs = create_integration(client, other_headers)

    foreign = client.delete(f"{URL}/{theirs['id']}", headers=user_headers)
    missing = client.delete(f"{URL}/{theirs['id'] + 1000}", headers=user_headers)
    huge = client.delete(f"{URL}/99999999999999999999", headers=user_headers)

    for response in (foreign, missing, huge):
        assert response.status_code == 404
        assert response.json() == NOT_FOUND
    assert foreign.content == missing.content == huge.content
    assert client.get(URL, headers=other_headers).json()["integrations"] == [theirs]


def test_delete_integration_admin_deletes_any_200(
    client: TestClient, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    theirs = create_integration(client, user_headers)

    response = client.delete(f"{URL}/{theirs['id']}", headers=admin_headers)

    assert response.status_code == 200
    assert response.json() == DELETED
    assert client.get(URL, headers=user_headers).json()["total"] == 0


def test_delete_integration_viewer_owner_403(
    client: TestClient, app: FastAPI, session: Session, viewer: User, viewer_headers: dict[str, str]
) -> None:
    integration_id = add_integration(app, session, viewer)

    response = client.delete(f"{URL}/{integration_id}", headers=viewer_headers)

    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert [i["id"] for i in client.get(URL, headers=viewer_headers).json()["integrations"]] == [
        integration_id
    ]
