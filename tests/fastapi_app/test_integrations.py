"""Contract tests for /api/v1/integrations: list, create, read, update and soft delete."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from shared_models import AuditLog, Integration, User
from tests.helpers import audit_entries, count, error_of, ids_of

URL = "/api/v1/integrations"
MASK = "********"
SECRET = "xoxb-Plaintext-Slack-Token"
MAX_ID = 2**31 - 1
LIST_KEYS = {"items", "total", "limit", "offset"}
INTEGRATION_KEYS = {"id", "owner_id", "name", "provider", "is_active", "config", "created_at", "updated_at"}
CONFIG = {"channel": "#alerts", "token": SECRET, "retries": 3}


def without_request(error: dict[str, Any]) -> dict[str, Any]:
    """Return an error object without what changes from one request to the next."""
    return {k: v for k, v in error.items() if k not in {"request_id", "timestamp"}}


def integration_body(name: str = "alerts", **fields: Any) -> dict[str, Any]:
    """Return a valid create body, with `fields` overriding the defaults."""
    body: dict[str, Any] = {"name": name, "provider": "slack", "config": dict(CONFIG)}
    body.update(fields)
    return body


def create_integration(
    client: TestClient, headers: dict[str, str], name: str = "alerts", **fields: Any
) -> Any:
    """Create an integration through the API and return its JSON."""
    response = client.post(URL, json=integration_body(name, **fields), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def add_integration(app: FastAPI, session: Session, owner: User, *, is_active: bool = True) -> int:
    """Store an integration for `owner` directly in the database and return its id."""
    integration = Integration(
        owner_id=owner.id,
        name="arranged",
        provider="webhook",
        is_active=is_active,
        config_encrypted=app.state.runtime.cipher.encrypt(
            {"url": "https://hooks.example.com", "secret": SECRET}
        ),
    )
    session.add(integration)
    session.commit()
    return integration.id


def stored(session: Session, integration_id: int) -> Integration:
    """Return the row for `integration_id` as the database holds it now."""
    session.expire_all()
    integration = session.get(Integration, integration_id)
    assert integration is not None
    return integration


def stored_config(app: FastAPI, session: Session, integration_id: int) -> Any:
    """Return the decrypted config stored for `integration_id`."""
    return app.state.runtime.cipher.decrypt(stored(session, integration_id).config_encrypted)


# --- authentication --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", URL), ("POST", URL), ("GET", f"{URL}/1"), ("PATCH", f"{URL}/1"), ("DELETE", f"{URL}/1")],
)
def test_integration_routes_without_token_401(client: TestClient, method: str, path: str) -> None:
    error = error_of(client.request(method, path, json=integration_body()), 401, "TOKEN_MISSING")
    assert error["type"] == "authentication_error"


# --- POST /api/v1/integrations ---------------------------------------------------------------------


def test_create_integration_201_contract_object(
    client: TestClient, app: FastAPI, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    response = client.post(URL, json=integration_body(), headers=user_headers)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == INTEGRATION_KEYS
    assert isinstance(body["id"], int)
    assert (body["owner_id"], body["name"], body["provider"], body["is_active"]) == (
        user.id,
        "alerts",
        "slack",
        True,
    )
    assert body["config"] == {**CONFIG, "token": MASK}
    for field in ("created_at", "updated_at"):
        assert datetime.fromisoformat(body[field]).utcoffset() == timedelta(0)
    assert SECRET not in response.text
    raw = stored(session, body["id"]).config_encrypted
    assert SECRET not in raw
    assert "#alerts" not in raw
    assert stored_config(app, session, body["id"]) == CONFIG


@pytest.mark.parametrize("headers_fixture", ["user_headers", "analyst_headers", "admin_headers"])
def test_create_integration_writer_roles_201_owned_by_caller(
    client: TestClient, request: pytest.FixtureRequest, headers_fixture: str
) -> None:
    headers = request.getfixturevalue(headers_fixture)
    me = client.get("/api/v1/auth/profile", headers=headers).json()
    response = client.post(URL, json=integration_body(), headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["owner_id"] == me["id"]


def test_create_integration_viewer_403(
    client: TestClient, session: Session, viewer_headers: dict[str, str]
) -> None:
    audit_before = count(session, AuditLog)
    error = error_of(client.post(URL, json=integration_body(), headers=viewer_headers), 403, "FORBIDDEN")
    assert error["type"] == "permission_error"
    assert count(session, Integration) == 0
    assert count(session, AuditLog) == audit_before


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "secret",
        "api_key",
        "apiKey",
        "webhook_secret",
        "credentials",
        "access_token",
        "privateKey",
    ],
)
def test_create_integration_masks_secret_key(
    client: TestClient, user_headers: dict[str, str], key: str
) -> None:
    config = {"url": "https://hooks.example.com", key: SECRET}
    response = client.post(URL, json=integration_body(config=config), headers=user_headers)
    assert response.status_code == 201, response.text
    assert response.json()["config"] == {"url": "https://hooks.example.com", key: MASK}
    assert SECRET not in response.text


NESTED_CONFIG = {
    "url": "https://hooks.example.com",
    "auth": {"user": "bot", "password": SECRET},
    "targets": [{"room": "ops", "token": SECRET}],
    "api_keys": [SECRET, SECRET + "-2"],
}
NESTED_MASKED = {
    "url": "https://hooks.example.com",
    "auth": MASK,  # a key naming auth hides all it holds
    "targets": [{"room": "ops", "token": MASK}],
    "api_keys": MASK,
}


def test_integration_secrets_masked_in_every_answer(
    client: TestClient, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    created = client.post(URL, json=integration_body(config=NESTED_CONFIG), headers=user_headers)
    integration_id = created.json()["id"]
    answers = [
        created,
        client.get(URL, headers=user_headers),
        client.get(f"{URL}/{integration_id}", headers=user_headers),
        client.get(f"{URL}/{integration_id}", headers=admin_headers),
        client.patch(f"{URL}/{integration_id}", json={"name": "renamed"}, headers=user_headers),
    ]
    for answer in answers:
        assert answer.status_code in {200, 201}, answer.text
        assert SECRET not in answer.text
        body = answer.json()
        for item in body.get("items", [body]):
            assert item["config"] == NESTED_MASKED


@pytest.mark.parametrize(
    "extra",
    [
        {"owner_id": 1},
        {"id": 424242},
        {"is_active": False},
        {"created_at": "2020-01-01T00:00:00+00:00"},
        {"updated_at": "2020-01-01T00:00:00+00:00"},
        {"colour": "blue"},
    ],
    ids=["owner_id", "id", "is_active", "created_at", "updated_at", "unknown"],
)
def test_create_integration_unknown_key_422_writes_nothing(
    client: TestClient, session: Session, user_headers: dict[str, str], extra: dict[str, Any]
) -> None:
    audit_before = count(session, AuditLog)

    response = client.post(URL, json=integration_body(**extra), headers=user_headers)

    error = error_of(response, 422, "VALIDATION_FAILED")
    assert error["type"] == "validation_error"
    assert f"body.{next(iter(extra))}" in [detail["field"] for detail in error["details"]]
    assert count(session, Integration) == 0
    assert count(session, AuditLog) == audit_before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "slack", "config": {}}, "body.name"),
        ({"name": "a", "config": {}}, "body.provider"),
        ({"name": "a", "provider": "slack"}, "body.config"),
        (integration_body(name="  "), "body.name"),
        (integration_body(name="x" * 256), "body.name"),
        ({**integration_body(), "name": 1}, "body.name"),
        (integration_body(provider=""), "body.provider"),
        (integration_body(provider="p" * 101), "body.provider"),
        (integration_body(config="token=x"), "body.config"),
        (integration_body(config={"k": "x" * 17_000}), "body.config"),
        ([], "body"),
    ],
    ids=[
        "no-name",
        "no-provider",
        "no-config",
        "blank-name",
        "long-name",
        "name-not-string",
        "blank-provider",
        "long-provider",
        "config-string",
        "config-too-big",
        "not-object",
    ],
)
def test_create_integration_invalid_body_422(
    client: TestClient, session: Session, user_headers: dict[str, str], body: Any, field: str
) -> None:
    error = error_of(client.post(URL, json=body, headers=user_headers), 422, "VALIDATION_FAILED")
    assert any(detail["field"].startswith(field) for detail in error["details"]), error["details"]
    assert count(session, Integration) == 0


def test_create_integration_audited(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    response = client.post(URL, json=integration_body(), headers=user_headers)
    entries = audit_entries(session, "integration.create")
    assert [(e.user_id, e.resource_type, e.resource_id) for e in entries] == [
        (user.id, "integration", str(response.json()["id"]))
    ]
    assert entries[0].request_id == response.headers["X-Request-ID"]
    assert SECRET not in str(entries[0].details)


# --- GET /api/v1/integrations ----------------------------------------------------------------------


def test_list_integrations_empty(client: TestClient, user_headers: dict[str, str]) -> None:
    response = client.get(URL, headers=user_headers)
    assert response.status_code == 200
    assert response.json() == {"items": [], "total": 0, "limit": 20, "offset": 0}


def test_list_integrations_own_active_newest_first(
    client: TestClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    first = create_integration(client, user_headers, "first")
    deleted = create_integration(client, user_headers, "deleted")
    third = create_integration(client, user_headers, "third")
    create_integration(client, other_headers, "not-mine")
    assert client.delete(f"{URL}/{deleted['id']}", headers=user_headers).status_code == 204

    response = client.get(URL, headers=user_headers)

    body = response.json()
    assert set(body) == LIST_KEYS
    assert ids_of(response) == [third["id"], first["id"]]
    assert (body["total"], body["limit"], body["offset"]) == (2, 20, 0)
    assert body["items"][0] == third
    assert all(set(item) == INTEGRATION_KEYS for item in body["items"])


def test_list_integrations_admin_sees_own(
    client: TestClient, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    create_integration(client, user_headers, "users")
    mine = create_integration(client, admin_headers, "admins")
    assert ids_of(client.get(URL, headers=admin_headers)) == [mine["id"]]


def test_list_integrations_viewer_sees_own(
    client: TestClient, app: FastAPI, session: Session, viewer: User, viewer_headers: dict[str, str]
) -> None:
    integration_id = add_integration(app, session, viewer)
    add_integration(app, session, viewer, is_active=False)
    response = client.get(URL, headers=viewer_headers)
    assert ids_of(response) == [integration_id]
    assert response.json()["items"][0]["config"] == {"url": "https://hooks.example.com", "secret": MASK}


def test_list_integrations_pagination(client: TestClient, user_headers: dict[str, str]) -> None:
    created = [create_integration(client, user_headers, f"i{i}")["id"] for i in range(5)]
    newest_first = created[::-1]

    pages = [
        client.get(URL, params={"limit": 2, "offset": offset}, headers=user_headers)
        for offset in (0, 2, 4, 6)
    ]

    assert [ids_of(page) for page in pages] == [newest_first[0:2], newest_first[2:4], newest_first[4:], []]
    assert [(p.json()["total"], p.json()["limit"], p.json()["offset"]) for p in pages] == [
        (5, 2, 0),
        (5, 2, 2),
        (5, 2, 4),
        (5, 2, 6),
    ]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("limit", "0"),
        ("limit", "101"),
        ("limit", "-1"),
        ("limit", "abc"),
        ("offset", "-1"),
        ("offset", "100000001"),
        ("offset", "x"),
    ],
)
def test_list_integrations_bad_pagination_422(
    client: TestClient, user_headers: dict[str, str], param: str, value: str
) -> None:
    error = error_of(client.get(URL, params={param: value}, headers=user_headers), 422, "VALIDATION_FAILED")
    assert f"query.{param}" in [detail["field"] for detail in error["details"]]


def test_list_integrations_limit_100_accepted(client: TestClient, user_headers: dict[str, str]) -> None:
    response = client.get(URL, params={"limit": 100}, headers=user_headers)
    assert response.status_code == 200
    assert response.json()["limit"] == 100


# --- GET /api/v1/integrations/{id} -----------------------------------------------------------------


def test_get_integration_200_same_as_created(client: TestClient, user_headers: dict[str, str]) -> None:
    created = create_integration(client, user_headers)
    response = client.get(f"{URL}/{created['id']}", headers=user_headers)
    assert response.status_code == 200
    assert response.json() == created


def test_get_integration_admin_reads_any_200(
    client: TestClient, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    theirs = create_integration(client, user_headers)
    response = client.get(f"{URL}/{theirs['id']}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json() == theirs


@pytest.mark.parametrize(("method", "body"), [("GET", None), ("PATCH", {"name": "stolen"}), ("DELETE", None)])
def test_other_users_integration_404_like_missing(
    client: TestClient,
    session: Session,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    method: str,
    body: Any,
) -> None:
    theirs = create_integration(client, other_headers)
    audit_before = count(session, AuditLog)

    foreign = client.request(method, f"{URL}/{theirs['id']}", json=body, headers=user_headers)
    missing = client.request(method, f"{URL}/{theirs['id'] + 1000}", json=body, headers=user_headers)

    foreign_error = error_of(foreign, 404, "NOT_FOUND")
    assert without_request(foreign_error) == without_request(error_of(missing, 404, "NOT_FOUND"))
    assert foreign_error["type"] == "not_found"
    assert client.get(f"{URL}/{theirs['id']}", headers=other_headers).json() == theirs
    assert count(session, AuditLog) == audit_before


@pytest.mark.parametrize("integration_id", ["0", "-1", str(MAX_ID + 1), "99999999999999999999", "abc"])
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_integration_id_out_of_range_422(
    client: TestClient, user_headers: dict[str, str], method: str, integration_id: str
) -> None:
    response = client.request(method, f"{URL}/{integration_id}", json={}, headers=user_headers)
    error = error_of(response, 422, "VALIDATION_FAILED")
    assert "path.integration_id" in [detail["field"] for detail in error["details"]]


# --- PATCH /api/v1/integrations/{id} ---------------------------------------------------------------


def test_update_integration_name_only(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str]
) -> None:
    created = create_integration(client, user_headers)

    response = client.patch(f"{URL}/{created['id']}", json={"name": "renamed"}, headers=user_headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "renamed"
    untouched = INTEGRATION_KEYS - {"name", "updated_at"}
    assert {k: body[k] for k in untouched} == {k: created[k] for k in untouched}
    assert client.get(f"{URL}/{created['id']}", headers=user_headers).json() == body
    assert stored_config(app, session, created["id"]) == CONFIG


@pytest.mark.parametrize(
    "body", [{}, {"name": None}, {"config": None}], ids=["empty", "null-name", "null-config"]
)
def test_update_integration_nothing_sent_keeps_everything(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str], body: dict[str, Any]
) -> None:
    created = create_integration(client, user_headers)
    response = client.patch(f"{URL}/{created['id']}", json=body, headers=user_headers)
    assert response.status_code == 200, response.text
    assert {k: v for k, v in response.json().items() if k != "updated_at"} == {
        k: v for k, v in created.items() if k != "updated_at"
    }
    assert stored_config(app, session, created["id"]) == CONFIG


def test_update_integration_masked_secret_keeps_stored(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str]
) -> None:
    created = create_integration(client, user_headers)
    config = {**created["config"], "channel": "#ops"}
    assert config["token"] == MASK

    response = client.patch(f"{URL}/{created['id']}", json={"config": config}, headers=user_headers)

    assert response.status_code == 200, response.text
    assert response.json()["config"] == {**CONFIG, "channel": "#ops", "token": MASK}
    assert response.json()["name"] == created["name"]
    assert stored_config(app, session, created["id"]) == {**CONFIG, "channel": "#ops"}


def test_update_integration_masked_nested_and_plural_secrets_keep_stored(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str]
) -> None:
    created = create_integration(client, user_headers, config=NESTED_CONFIG)
    response = client.patch(
        f"{URL}/{created['id']}", json={"config": created["config"]}, headers=user_headers
    )
    assert response.status_code == 200, response.text
    assert stored_config(app, session, created["id"]) == NESTED_CONFIG


def test_update_integration_new_secret_replaces_stored(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str]
) -> None:
    created = create_integration(client, user_headers)
    config = {**created["config"], "token": "xoxb-Brand-New"}

    response = client.patch(f"{URL}/{created['id']}", json={"config": config}, headers=user_headers)

    assert response.status_code == 200
    assert response.json()["config"]["token"] == MASK
    assert "xoxb-Brand-New" not in response.text
    assert stored_config(app, session, created["id"])["token"] == "xoxb-Brand-New"
    assert "xoxb-Brand-New" not in stored(session, created["id"]).config_encrypted


@pytest.mark.parametrize(
    "extra",
    [
        {"owner_id": 1},
        {"id": 424242},
        {"provider": "teams"},
        {"is_active": False},
        {"created_at": "2020-01-01T00:00:00+00:00"},
        {"updated_at": "2020-01-01T00:00:00+00:00"},
    ],
    ids=["owner_id", "id", "provider", "is_active", "created_at", "updated_at"],
)
def test_update_integration_unknown_key_422_changes_nothing(
    client: TestClient, session: Session, user_headers: dict[str, str], extra: dict[str, Any]
) -> None:
    created = create_integration(client, user_headers)
    audit_before = count(session, AuditLog)

    response = client.patch(f"{URL}/{created['id']}", json={"name": "renamed", **extra}, headers=user_headers)

    error = error_of(response, 422, "VALIDATION_FAILED")
    assert f"body.{next(iter(extra))}" in [detail["field"] for detail in error["details"]]
    assert client.get(f"{URL}/{created['id']}", headers=user_headers).json() == created
    assert count(session, AuditLog) == audit_before


@pytest.mark.parametrize(
    "body",
    [{"name": ""}, {"name": 5}, {"config": "x"}, {"config": ["a"]}, []],
    ids=["blank-name", "name-not-string", "config-string", "config-list", "not-object"],
)
def test_update_integration_invalid_body_422(
    client: TestClient, user_headers: dict[str, str], body: Any
) -> None:
    created = create_integration(client, user_headers)
    error_of(
        client.patch(f"{URL}/{created['id']}", json=body, headers=user_headers), 422, "VALIDATION_FAILED"
    )
    assert client.get(f"{URL}/{created['id']}", headers=user_headers).json() == created


def test_update_integration_admin_updates_any_200(
    client: TestClient,
    session: Session,
    user: User,
    admin: User,
    user_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    theirs = create_integration(client, user_headers)

    response = client.patch(f"{URL}/{theirs['id']}", json={"name": "by admin"}, headers=admin_headers)

    assert response.status_code == 200, response.text
    assert (response.json()["name"], response.json()["owner_id"]) == ("by admin", user.id)
    entries = audit_entries(session, "integration.update")
    assert [(e.user_id, e.resource_type, e.resource_id) for e in entries] == [
        (admin.id, "integration", str(theirs["id"]))
    ]


def test_update_integration_viewer_owner_403(
    client: TestClient, app: FastAPI, session: Session, viewer: User, viewer_headers: dict[str, str]
) -> None:
    integration_id = add_integration(app, session, viewer)
    before = client.get(f"{URL}/{integration_id}", headers=viewer_headers).json()

    error_of(
        client.patch(f"{URL}/{integration_id}", json={"name": "x"}, headers=viewer_headers), 403, "FORBIDDEN"
    )

    assert client.get(f"{URL}/{integration_id}", headers=viewer_headers).json() == before
    assert audit_entries(session, "integration.update") == []


def test_update_integration_audited(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    created = create_integration(client, user_headers)
    config = {**created["config"], "token": "xoxb-Brand-New"}

    response = client.patch(f"{URL}/{created['id']}", json={"config": config}, headers=user_headers)

    assert response.status_code == 200
    entries = audit_entries(session, "integration.update")
    assert [(e.user_id, e.resource_type, e.resource_id) for e in entries] == [
        (user.id, "integration", str(created["id"]))
    ]
    assert entries[0].request_id == response.headers["X-Request-ID"]
    assert "xoxb-Brand-New" not in str(entries[0].details)


# --- DELETE /api/v1/integrations/{id} --------------------------------------------------------------


def test_delete_integration_204_soft_deletes(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    created = create_integration(client, user_headers)

    response = client.delete(f"{URL}/{created['id']}", headers=user_headers)

    assert response.status_code == 204
    assert response.content == b""
    error_of(client.get(f"{URL}/{created['id']}", headers=user_headers), 404, "NOT_FOUND")
    assert client.get(URL, headers=user_headers).json()["total"] == 0
    assert stored(session, created["id"]).is_active is False
    entries = audit_entries(session, "integration.delete")
    assert [(e.user_id, e.resource_type, e.resource_id) for e in entries] == [
        (user.id, "integration", str(created["id"]))
    ]


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_deleted_integration_404(
    client: TestClient, session: Session, user_headers: dict[str, str], method: str
) -> None:
    created = create_integration(client, user_headers)
    assert client.delete(f"{URL}/{created['id']}", headers=user_headers).status_code == 204
    response = client.request(method, f"{URL}/{created['id']}", json={"name": "x"}, headers=user_headers)
    error_of(response, 404, "NOT_FOUND")
    assert len(audit_entries(session, "integration.delete")) == 1
    assert stored(session, created["id"]).name == "alerts"


def test_delete_integration_admin_deletes_any_204(
    client: TestClient,
    session: Session,
    admin: User,
    user_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    theirs = create_integration(client, user_headers)
    assert client.delete(f"{URL}/{theirs['id']}", headers=admin_headers).status_code == 204
    error_of(client.get(f"{URL}/{theirs['id']}", headers=user_headers), 404, "NOT_FOUND")
    assert [e.user_id for e in audit_entries(session, "integration.delete")] == [admin.id]


def test_delete_integration_viewer_owner_403(
    client: TestClient, app: FastAPI, session: Session, viewer: User, viewer_headers: dict[str, str]
) -> None:
    integration_id = add_integration(app, session, viewer)
    error_of(client.delete(f"{URL}/{integration_id}", headers=viewer_headers), 403, "FORBIDDEN")
    assert client.get(f"{URL}/{integration_id}", headers=viewer_headers).status_code == 200
    assert stored(session, integration_id).is_active is True
