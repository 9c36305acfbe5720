"""Contract tests for /api/data-sources: create, list, read, update and soft delete."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from shared_models import AuditLog, DataSource, User
from tests.helpers import FORBIDDEN, count, valid_config

URL = "/api/data-sources"
MASK = "********"
SECRET = "Hunter2-Plaintext-Secret"
SOURCE_KEYS = {
    "id",
    "owner_id",
    "name",
    "type",
    "status",
    "description",
    "tags",
    "is_active",
    "config",
    "last_test",
    "last_used",
    "usage_count",
    "error_message",
    "created_at",
    "updated_at",
}
NOT_FOUND = {"msg": "Data source not found"}
NAME_TAKEN = {"msg": "A data source with this name already exists"}
CONFIG = {
    "host": "db.internal",
    "port": 5432,
    "database": "sales",
    "username": "reporter",
    "password": SECRET,
}


def source_body(name: str = "warehouse", **fields: Any) -> dict[str, Any]:
    """Return a valid create body, with `fields` overriding the defaults."""
    body: dict[str, Any] = {
        "name": name,
        "type": "postgresql",
        "config": dict(CONFIG),
        "description": "Sales warehouse",
        "tags": ["sales", "prod"],
    }
    if "type" in fields and "config" not in fields:
        body["config"] = valid_config(fields["type"], SECRET)
    body.update(fields)
    return body


def create_source(client: TestClient, headers: dict[str, str], name: str = "warehouse", **fields: Any) -> Any:
    """Create a data source through the API and return its JSON."""
    response = client.post(URL, json=source_body(name, **fields), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def stored_config(app: FastAPI, session: Session, source_id: int) -> Any:
    """Return the decrypted config stored for `source_id`."""
    session.expire_all()
    source = session.get(DataSource, source_id)
    assert source is not None
    return app.state.runtime.cipher.decrypt(source.config_encrypted)


def assert_utc_time(value: Any) -> None:
    """Check that `value` is an ISO 8601 time with a +00:00 offset."""
    assert isinstance(value, str)
    assert value.endswith("+00:00")
    assert datetime.fromisoformat(value).utcoffset() is not None


# --- POST /api/data-sources ---------------------------------------------------------------


def test_create_source_201_contract_object(
    client: TestClient, user: User, user_headers: dict[str, str]
) -> None:
    response = client.post(URL, json=source_body(), headers=user_headers)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == SOURCE_KEYS
    assert isinstance(body["id"], int)
    assert body["owner_id"] == user.id
    assert body["name"] == "warehouse"
    assert body["type"] == "postgresql"
    assert body["status"] == "pending"
    assert body["description"] == "Sales warehouse"
    assert body["tags"] == ["sales", "prod"]
    assert body["is_active"] is True
    assert body["config"] == {**CONFIG, "password": MASK}
    assert body["last_test"] is None
    assert body["last_used"] is None
    assert body["usage_count"] == 0
    assert body["error_message"] is None
    assert_utc_time(body["created_at"])
    assert_utc_time(body["updated_at"])


def test_create_source_optional_fields_default(client: TestClient, user_headers: dict[str, str]) -> None:
    body = {"name": "files", "type": "csv", "config": {"path": "data/a.csv"}}

    response = client.post(URL, json=body, headers=user_headers)

    assert response.status_code == 201
    assert response.json()["description"] is None
    assert response.json()["tags"] == []
    assert response.json()["config"] == {"path": "data/a.csv"}


@pytest.mark.parametrize("source_type", ["postgresql", "mysql", "sqlite", "csv", "json", "rest_api"])
def test_create_source_every_type_201(
    client: TestClient, user_headers: dict[str, str], source_type: str
) -> None:
    response = client.post(URL, json=source_body(type=source_type), headers=user_headers)

    assert response.status_code == 201
    assert response.json()["type"] == source_type


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "db_password",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "api_key",
        "apiKey",
        "API_KEY",
        "DB_PASSWORD",
        "X-API-Key",
        "sshPrivateKey",
        "key",
        "credentials",
        "private_key",
    ],
)
def test_create_source_masks_secret_key(client: TestClient, user_headers: dict[str, str], key: str) -> None:
    config = {"base_url": "https://api.example.com", "headers": {key: SECRET}}

    response = client.post(URL, json=source_body(type="rest_api", config=config), headers=user_headers)

    assert response.status_code == 201
    assert response.json()["config"] == {"base_url": "https://api.example.com", "headers": {key: MASK}}
    assert SECRET not in response.text


@pytest.mark.parametrize("key", ["passwords", "secrets", "tokens", "api_keys", "apiKeys", "access_tokens"])
def test_create_source_masks_plural_secret_key(
    client: TestClient, user_headers: dict[str, str], key: str
) -> None:
    # A key naming several secrets names secrets all the same: none of them may leak.
    config = {"base_url": "https://api.example.com", "headers": {key: SECRET + ", second-" + SECRET}}

    response = client.post(URL, json=source_body(type="rest_api", config=config), headers=user_headers)

    assert response.status_code == 201
    assert response.json()["config"] == {"base_url": "https://api.example.com", "headers": {key: MASK}}
    assert SECRET not in response.text


def test_create_source_masks_nested_secrets(client: TestClient, user_headers: dict[str, str]) -> None:
    config = {
        "base_url": "https://api.example.com",
        "headers": {"Authorization": f"Bearer {SECRET}", "Accept": "application/json"},
        "timeout": 30,
    }

    response = client.post(URL, json=source_body(type="rest_api", config=config), headers=user_headers)

    assert response.status_code == 201
    assert response.json()["config"] == {
        "base_url": "https://api.example.com",
        "headers": {"Authorization": MASK, "Accept": "application/json"},
        "timeout": 30,
    }
    assert SECRET not in response.text


def test_create_source_config_stored_encrypted(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str]
) -> None:
    created = create_source(client, user_headers)

    source = session.get(DataSource, created["id"])
    assert source is not None
    assert SECRET not in source.config_encrypted
    assert "db.internal" not in source.config_encrypted
    assert stored_config(app, session, created["id"]) == source_body()["config"]


def test_create_source_ignores_unknown_keys(
    client: TestClient, user: User, other: User, user_headers: dict[str, str]
) -> None:
    body = source_body(
        id=424242, owner_id=other.id, status="connected", is_active=False, usage_count=7, colour="blue"
    )

    response = client.post(URL, json=body, headers=user_headers)

    assert response.status_code == 201
    created = response.json()
    assert created["id"] != 424242
    assert created["owner_id"] == user.id
    assert created["status"] == "pending"
    assert created["is_active"] is True
    assert created["usage_count"] == 0
    assert "colour" not in created


@pytest.mark.parametrize(
    "text",
    [
        "Données 📊🚀 👩🏽‍💻",
        "مصدر البيانات",
        "שלום עולם",
        "e\u0301te\u0301 Z\u0351\u0360a\u0362l\u0363g\u0364o",
        "数据源 データソース 데이터",
    ],
    ids=["emoji", "arabic", "hebrew", "combining", "cjk"],
)
def test_create_source_unicode_round_trips(
    client: TestClient, user_headers: dict[str, str], text: str
) -> None:
    created = create_source(client, user_headers, name=text, description=text, tags=[text[:50]])

    fetched = client.get(f"{URL}/{created['id']}", headers=user_headers).json()
    assert (created["name"], created["description"], created["tags"]) == (text, text, [text[:50]])
    assert (fetched["name"], fetched["description"], fetched["tags"]) == (text, text, [text[:50]])


def test_create_source_viewer_403(
    client: TestClient, session: Session, viewer_headers: dict[str, str]
) -> None:
    audit_before = count(session, AuditLog)

    response = client.post(URL, json=source_body(), headers=viewer_headers)

    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert count(session, DataSource) == 0
    assert count(session, AuditLog) == audit_before


def test_create_source_analyst_201(client: TestClient, analyst_headers: dict[str, str]) -> None:
    response = client.post(URL, json=source_body(), headers=analyst_headers)

    assert response.status_code == 201
    assert response.json()["name"] == "warehouse"


def test_create_source_admin_201_owned_by_admin(
    client: TestClient, admin: User, admin_headers: dict[str, str]
) -> None:
    response = client.post(URL, json=source_body(), headers=admin_headers)

    assert response.status_code == 201
    assert response.json()["owner_id"] == admin.id


def test_create_source_duplicate_name_409(
    client: TestClient, session: Session, user_headers: dict[str, str]
) -> None:
    create_source(client, user_headers, name="dup")
    audit_before = count(session, AuditLog)

    response = client.post(URL, json=source_body("dup", type="csv"), headers=user_headers)

    assert response.status_code == 409
    assert response.json() == NAME_TAKEN
    assert count(session, DataSource) == 1
    assert count(session, AuditLog) == audit_before


def test_create_source_name_kept_exactly_as_sent_201(
    client: TestClient, user_headers: dict[str, str]
) -> None:
    create_source(client, user_headers, name="dup")

    response = client.post(URL, json=source_body("  dup  "), headers=user_headers)

    # Names are stored as sent (nothing is silently trimmed), so this is another name.
    assert response.status_code == 201
    assert response.json()["name"] == "  dup  "


def test_create_source_name_of_deleted_source_201(client: TestClient, user_headers: dict[str, str]) -> None:
    first = create_source(client, user_headers, name="reused")
    assert client.delete(f"{URL}/{first['id']}", headers=user_headers).status_code == 200

    response = client.post(URL, json=source_body("reused"), headers=user_headers)

    assert response.status_code == 201
    assert response.json()["id"] != first["id"]
    assert response.json()["name"] == "reused"


def test_create_source_same_name_as_other_users_201(
    client: TestClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    create_source(client, other_headers, name="shared-name")

    response = client.post(URL, json=source_body("shared-name"), headers=user_headers)

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", URL), ("POST", URL), ("GET", f"{URL}/1"), ("PUT", f"{URL}/1"), ("DELETE", f"{URL}/1")],
)
def test_source_routes_without_token_401(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, json=source_body())

    assert response.status_code == 401
    assert response.json() == {"msg": "Missing Authorization Header"}


# --- GET /api/data-sources ------------------------------------------------------------------


def test_list_sources_own_active_newest_first(
    client: TestClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    first = create_source(client, user_headers, name="first")
    deleted = create_source(client, user_headers, name="deleted")
    third = create_source(client, user_headers, name="third")
    create_source(client, other_headers, name="not-mine")
    client.delete(f"{URL}/{deleted['id']}", headers=user_headers)

    response = client.get(URL, headers=user_headers)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"data_sources", "total", "page", "per_page"}
    assert [s["id"] for s in body["data_sources"]] == [third["id"], first["id"]]
    assert (body["total"], body["page"], body["per_page"]) == (2, 1, 20)
    assert body["data_sources"][0] == third
    assert all(set(s) == SOURCE_KEYS for s in body["data_sources"])


def test_list_sources_masks_secrets(client: TestClient, user_headers: dict[str, str]) -> None:
    create_source(client, user_headers)

    response = client.get(URL, headers=user_headers)

    assert response.json()["data_sources"][0]["config"]["password"] == MASK
    assert SECRET not in response.text


def test_list_sources_empty(client: TestClient, user_headers: dict[str, str]) -> None:
    response = client.get(URL, headers=user_headers)

    assert response.status_code == 200
    assert response.json() == {"data_sources": [], "total": 0, "page": 1, "per_page": 20}


def test_list_sources_admin_sees_only_own(
    client: TestClient, admin_headers: dict[str, str], user_headers: dict[str, str]
) -> None:
    create_source(client, user_headers, name="users")
    mine = create_source(client, admin_headers, name="admins")

    response = client.get(URL, headers=admin_headers)

    assert response.status_code == 200
    assert [s["id"] for s in response.json()["data_sources"]] == [mine["id"]]
    assert response.json()["total"] == 1


def test_list_sources_type_filter(client: TestClient, user_headers: dict[str, str]) -> None:
    csv_source = create_source(client, user_headers, name="a", type="csv")
    create_source(client, user_headers, name="b", type="mysql")
    json_source = create_source(client, user_headers, name="c", type="csv")

    response = client.get(URL, params={"type": "csv"}, headers=user_headers)

    assert response.status_code == 200
    assert [s["id"] for s in response.json()["data_sources"]] == [json_source["id"], csv_source["id"]]
    assert response.json()["total"] == 2


@pytest.mark.parametrize("source_type", ["oracle", "", "CSV", "csv\x00"])
def test_list_sources_invalid_type_400(
    client: TestClient, user_headers: dict[str, str], source_type: str
) -> None:
    response = client.get(URL, params={"type": source_type}, headers=user_headers)

    assert response.status_code == 400
    assert response.json()["msg"].startswith("type: ")


@pytest.mark.parametrize("source_type", ["parquet", "xlsx"])
def test_types_newer_than_the_contract_are_v1_only_400(
    client: TestClient, user_headers: dict[str, str], source_type: str
) -> None:
    body = {"name": "newer", "type": source_type, "config": {"path": f"customers.{source_type}"}}
    created = client.post(URL, json=body, headers=user_headers)
    listed = client.get(URL, params={"type": source_type}, headers=user_headers)

    assert (created.status_code, listed.status_code) == (400, 400)
    six = "'postgresql', 'mysql', 'sqlite', 'csv', 'json' or 'rest_api'"
    assert created.json() == {"msg": f"type: input should be {six}"}
    assert client.get(URL, headers=user_headers).json()["total"] == 0


def test_list_sources_pagination(client: TestClient, user_headers: dict[str, str]) -> None:
    ids = [create_source(client, user_headers, name=f"s{i}")["id"] for i in range(5)]
    newest_first = ids[::-1]

    pages = [
        client.get(URL, params={"page": page, "per_page": 2}, headers=user_headers).json()
        for page in (1, 2, 3, 4)
    ]

    assert [[s["id"] for s in p["data_sources"]] for p in pages] == [
        newest_first[0:2],
        newest_first[2:4],
        newest_first[4:],
        [],
    ]
    assert [(p["total"], p["page"], p["per_page"]) for p in pages] == [
        (5, 1, 2),
        (5, 2, 2),
        (5, 3, 2),
        (5, 4, 2),
    ]


def test_list_sources_per_page_100_200(client: TestClient, user_headers: dict[str, str]) -> None:
    response = client.get(URL, params={"per_page": 100}, headers=user_headers)

    assert response.status_code == 200
    assert response.json()["per_page"] == 100


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("per_page", "0"),
        ("per_page", "101"),
        ("per_page", "-1"),
        ("per_page", "abc"),
        ("per_page", ""),
        ("per_page", "2.5"),
        ("page", "0"),
        ("page", "-1"),
        ("page", "abc"),
        ("page", "99999999999999999999"),
    ],
)
def test_list_sources_bad_pagination_400(
    client: TestClient, user_headers: dict[str, str], param: str, value: str
) -> None:
    response = client.get(URL, params={param: value}, headers=user_headers)

    assert response.status_code == 400
    assert response.json()["msg"].startswith(f"{param}: ")


def test_list_sources_viewer_sees_own(
    client: TestClient, app: FastAPI, session: Session, viewer: User, viewer_headers: dict[str, str]
) -> None:
    source_id = add_source(app, session, viewer)

    response = client.get(URL, headers=viewer_headers)

    assert response.status_code == 200
    assert [s["id"] for s in response.json()["data_sources"]] == [source_id]


# --- GET /api/data-sources/<id> -------------------------------------------------------------


def add_source(app: FastAPI, session: Session, owner: User, name: str = "arranged") -> int:
    """Store a data source for `owner` directly in the database and return its id."""
    source = DataSource(
        owner_id=owner.id,
        name=name,
        type="csv",
        config_encrypted=app.state.runtime.cipher.encrypt({"path": "/x.csv", "password": SECRET}),
    )
    session.add(source)
    session.commit()
    return source.id


def test_read_source_200_same_as_created(client: TestClient, user_headers: dict[str, str]) -> None:
    created = create_source(client, user_headers)

    response = client.get(f"{URL}/{created['id']}", headers=user_headers)

    assert response.status_code == 200
    assert response.json() == created


def test_read_source_viewer_owner_200(
    client: TestClient, app: FastAPI, session: Session, viewer: User, viewer_headers: dict[str, str]
) -> None:
    source_id = add_source(app, session, viewer)

    response = client.get(f"{URL}/{source_id}", headers=viewer_headers)

    assert response.status_code == 200
    assert response.json()["config"] == {"path": "/x.csv", "password": MASK}


def test_read_source_other_users_404_like_missing(
    client: TestClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    theirs = create_source(client, other_headers)

    foreign = client.get(f"{URL}/{theirs['id']}", headers=user_headers)
    missing = client.get(f"{URL}/{theirs['id'] + 1000}", headers=user_headers)
    huge = client.get(f"{URL}/99999999999999999999", headers=user_headers)

    for response in (foreign, missing, huge):
        assert response.status_code == 404
        assert response.json() == NOT_FOUND
    assert foreign.content == missing.content == huge.content
    assert foreign.headers["content-type"] == missing.headers["content-type"]


def test_read_source_admin_reads_any_200(
    client: TestClient, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    theirs = create_source(client, user_headers)

    response = client.get(f"{URL}/{theirs['id']}", headers=admin_headers)

    assert response.status_code == 200
    assert response.json() == theirs


def test_read_source_deleted_404(client: TestClient, user_headers: dict[str, str]) -> None:
    created = create_source(client, user_headers)
    client.delete(f"{URL}/{created['id']}", headers=user_headers)

    response = client.get(f"{URL}/{created['id']}", headers=user_headers)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


# --- PUT /api/data-sources/<id> -------------------------------------------------------------


def test_update_source_changes_sent_fields(
    client: TestClient, user: User, user_headers: dict[str, str]
) -> None:
    created = create_source(client, user_headers)
    changes = {"name": "renamed", "type": "mysql", "description": "Moved", "tags": ["eu"]}

    response = client.put(f"{URL}/{created['id']}", json=changes, headers=user_headers)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == SOURCE_KEYS
    assert (body["id"], body["owner_id"]) == (created["id"], user.id)
    assert (body["name"], body["type"], body["description"], body["tags"]) == (
        "renamed",
        "mysql",
        "Moved",
        ["eu"],
    )
    assert body["config"] == created["config"]
    assert body["created_at"] == created["created_at"]
    assert_utc_time(body["updated_at"])
    assert body["updated_at"] >= created["updated_at"]
    assert client.get(f"{URL}/{created['id']}", headers=user_headers).json() == body


def test_update_source_empty_body_keeps_everything(client: TestClient, user_headers: dict[str, str]) -> None:
    created = create_source(client, user_headers)

    response = client.put(f"{URL}/{created['id']}", json={}, headers=user_headers)

    assert response.status_code == 200
    unchanged = {k: v for k, v in response.json().items() if k != "updated_at"}
    assert unchanged == {k: v for k, v in created.items() if k != "updated_at"}


def test_update_source_null_description_clears(client: TestClient, user_headers: dict[str, str]) -> None:
    created = create_source(client, user_headers)

    response = client.put(f"{URL}/{created['id']}", json={"description": None}, headers=user_headers)

    assert response.status_code == 200
    assert response.json()["description"] is None


def test_update_source_masked_secret_keeps_stored(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str]
) -> None:
    created = create_source(client, user_headers)
    # The same destination (host, port, database): another user name may reuse the secret.
    config = {**created["config"], "username": "reader2"}
    assert config["password"] == MASK

    response = client.put(f"{URL}/{created['id']}", json={"config": config}, headers=user_headers)

    assert response.status_code == 200
    assert response.json()["config"] == {**CONFIG, "username": "reader2", "password": MASK}
    assert stored_config(app, session, created["id"]) == {**CONFIG, "username": "reader2"}


def test_update_source_new_secret_replaces_stored(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str]
) -> None:
    created = create_source(client, user_headers)
    config = {**created["config"], "password": "Brand-New-Secret"}

    response = client.put(f"{URL}/{created['id']}", json={"config": config}, headers=user_headers)

    assert response.status_code == 200
    assert response.json()["config"]["password"] == MASK
    assert "Brand-New-Secret" not in response.text
    assert stored_config(app, session, created["id"])["password"] == "Brand-New-Secret"


def test_update_source_masked_nested_secret_keeps_stored(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str]
) -> None:
    config = {"base_url": "https://api.example.com", "headers": {"X-Api-Key": SECRET, "Accept": "text/csv"}}
    created = create_source(client, user_headers, type="rest_api", config=config)

    response = client.put(f"{URL}/{created['id']}", json={"config": created["config"]}, headers=user_headers)

    assert response.status_code == 200
    assert stored_config(app, session, created["id"]) == config


def test_update_source_masked_secret_in_headers_keeps_stored(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str]
) -> None:
    # A client sends back the config it read, unchanged: no secret may be lost on the way.
    config = {"base_url": "https://api.example.com", "headers": {"Authorization": f"Bearer {SECRET}"}}
    created = create_source(client, user_headers, type="rest_api", config=config)
    assert created["config"]["headers"] == {"Authorization": MASK}

    response = client.put(f"{URL}/{created['id']}", json={"config": created["config"]}, headers=user_headers)

    assert response.status_code == 200
    assert stored_config(app, session, created["id"]) == config


def test_update_source_to_taken_name_409(
    client: TestClient, session: Session, user_headers: dict[str, str]
) -> None:
    create_source(client, user_headers, name="taken")
    created = create_source(client, user_headers, name="mine")
    audit_before = count(session, AuditLog)

    response = client.put(f"{URL}/{created['id']}", json={"name": "taken"}, headers=user_headers)

    assert response.status_code == 409
    assert response.json() == NAME_TAKEN
    assert client.get(f"{URL}/{created['id']}", headers=user_headers).json()["name"] == "mine"
    assert count(session, AuditLog) == audit_before


def test_update_source_keeping_own_name_200(client: TestClient, user_headers: dict[str, str]) -> None:
    created = create_source(client, user_headers, name="same")

    response = client.put(f"{URL}/{created['id']}", json={"name": "same", "tags": []}, headers=user_headers)

    assert response.status_code == 200
    assert (response.json()["name"], response.json()["tags"]) == ("same", [])


def test_update_source_other_users_404_like_missing(
    client: TestClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    theirs = create_source(client, other_headers)

    foreign = client.put(f"{URL}/{theirs['id']}", json={"name": "stolen"}, headers=user_headers)
    missing = client.put(f"{URL}/{theirs['id'] + 1000}", json={"name": "stolen"}, headers=user_headers)
    huge = client.put(f"{URL}/99999999999999999999", json={"name": "stolen"}, headers=user_headers)

    for response in (foreign, missing, huge):
        assert response.status_code == 404
        assert response.json() == NOT_FOUND
    assert foreign.content == missing.content == huge.content
    assert client.get(f"{URL}/{theirs['id']}", headers=other_headers).json() == theirs


def test_update_source_admin_updates_any_200(
    client: TestClient, user: User, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    theirs = create_source(client, user_headers)

    response = client.put(f"{URL}/{theirs['id']}", json={"description": "by admin"}, headers=admin_headers)

    assert response.status_code == 200
    assert response.json()["description"] == "by admin"
    assert response.json()["owner_id"] == user.id


def test_update_source_viewer_owner_403(
    client: TestClient, app: FastAPI, session: Session, viewer: User, viewer_headers: dict[str, str]
) -> None:
    source_id = add_source(app, session, viewer)
    before = client.get(f"{URL}/{source_id}", headers=viewer_headers).json()

    response = client.put(f"{URL}/{source_id}", json={"name": "changed"}, headers=viewer_headers)

    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert client.get(f"{URL}/{source_id}", headers=viewer_headers).json() == before


# --- DELETE /api/data-sources/<id> ----------------------------------------------------------


def test_delete_source_200_soft_deletes(
    client: TestClient, session: Session, user_headers: dict[str, str]
) -> None:
    created = create_source(client, user_headers)

    response = client.delete(f"{URL}/{created['id']}", headers=user_headers)

    assert response.status_code == 200
    assert response.json() == {"msg": "Data source deleted"}
    session.expire_all()
    row = session.get(DataSource, created["id"])
    assert row is not None
    assert row.is_active is False
    assert client.get(f"{URL}/{created['id']}", headers=user_headers).json() == NOT_FOUND
    assert client.get(URL, headers=user_headers).json()["total"] == 0


def test_delete_source_twice_404(client: TestClient, user_headers: dict[str, str]) -> None:
    created = create_source(client, user_headers)
    client.delete(f"{URL}/{created['id']}", headers=user_headers)

    response = client.delete(f"{URL}/{created['id']}", headers=user_headers)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_delete_source_other_users_404_like_missing(
    client: TestClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    theirs = create_source(client, other_headers)

    foreign = client.delete(f"{URL}/{theirs['id']}", headers=user_headers)
    missing = client.delete(f"{URL}/{theirs['id'] + 1000}", headers=user_headers)
    huge = client.delete(f"{URL}/99999999999999999999", headers=user_headers)

    for response in (foreign, missing, huge):
        assert response.status_code == 404
        assert response.json() == NOT_FOUND
    assert foreign.content == missing.content == huge.content
    assert client.get(f"{URL}/{theirs['id']}", headers=other_headers).status_code == 200


def test_delete_source_admin_deletes_any_200(
    client: TestClient, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    theirs = create_source(client, user_headers)

    response = client.delete(f"{URL}/{theirs['id']}", headers=admin_headers)

    assert response.status_code == 200
    assert response.json() == {"msg": "Data source deleted"}
    assert client.get(f"{URL}/{theirs['id']}", headers=user_headers).status_code == 404


def test_delete_source_viewer_owner_403(
    client: TestClient, app: FastAPI, session: Session, viewer: User, viewer_headers: dict[str, str]
) -> None:
    source_id = add_source(app, session, viewer)

    response = client.delete(f"{URL}/{source_id}", headers=viewer_headers)

    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert client.get(f"{URL}/{source_id}", headers=viewer_headers).status_code == 200
