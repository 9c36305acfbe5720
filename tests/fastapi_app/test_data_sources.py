"""Contract tests for /api/v1/data-sources: list with filters, create, read, update and soft delete."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session

from shared_models import AuditLog, DataSource, SourceStatus, User
from tests.helpers import audit_entries, count, error_of, ids_of, valid_config

URL = "/api/v1/data-sources"
MASK = "********"
SECRET = "Hunter2-Plaintext-Secret"
MAX_ID = 2**31 - 1
LIST_KEYS = {"items", "total", "limit", "offset"}
SOURCE_KEYS = {
    "id",
    "owner_id",
    "project_id",
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
DEEP_CONFIG: dict[str, Any] = {"leaf": 1}
for _ in range(10):
    DEEP_CONFIG = {"level": DEEP_CONFIG}
CONFIG = {
    "host": "db.internal",
    "port": 5432,
    "database": "sales",
    "username": "reporter",
    "password": SECRET,
}


def without_request(error: dict[str, Any]) -> dict[str, Any]:
    """Return an error object without what changes from one request to the next."""
    return {k: v for k, v in error.items() if k not in {"request_id", "timestamp"}}


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


def add_source(
    app: FastAPI,
    session: Session,
    owner: User,
    name: str = "arranged",
    *,
    tags: list[str] | None = None,
    status: SourceStatus = SourceStatus.PENDING,
    is_active: bool = True,
) -> int:
    """Store a data source for `owner` directly in the database and return its id."""
    source = DataSource(
        owner_id=owner.id,
        name=name,
        type="csv",
        status=status.value,
        tags=tags or [],
        is_active=is_active,
        config_encrypted=app.state.runtime.cipher.encrypt({"path": "/x.csv", "password": SECRET}),
    )
    session.add(source)
    session.commit()
    return source.id


def stored(session: Session, source_id: int) -> DataSource:
    """Return the row for `source_id` as the database holds it now."""
    session.expire_all()
    source = session.get(DataSource, source_id)
    assert source is not None
    return source


def stored_config(app: FastAPI, session: Session, source_id: int) -> Any:
    """Return the decrypted config stored for `source_id`."""
    return app.state.runtime.cipher.decrypt(stored(session, source_id).config_encrypted)


def assert_utc_time(value: Any) -> None:
    assert isinstance(value, str)
    assert datetime.fromisoformat(value).utcoffset() == timedelta(0)


# --- authentication --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", URL),
        ("POST", URL),
        ("GET", f"{URL}/1"),
        ("PATCH", f"{URL}/1"),
        ("DELETE", f"{URL}/1"),
    ],
)
def test_source_routes_without_token_401(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, json=source_body())
    error = error_of(response, 401, "TOKEN_MISSING")
    assert error["type"] == "authentication_error"


@pytest.mark.parametrize("method", ["POST"])
def test_wrong_method_on_source_405(client: TestClient, user_headers: dict[str, str], method: str) -> None:
    response = client.request(method, f"{URL}/1", json={}, headers=user_headers)
    error_of(response, 405, "METHOD_NOT_ALLOWED")


# --- POST /api/v1/data-sources ---------------------------------------------------------------------


def test_create_source_201_contract_object(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    response = client.post(URL, json=source_body(), headers=user_headers)

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == SOURCE_KEYS
    assert isinstance(body["id"], int)
    assert body["owner_id"] == user.id
    assert (body["name"], body["type"], body["status"]) == ("warehouse", "postgresql", "pending")
    assert (body["description"], body["tags"], body["is_active"]) == (
        "Sales warehouse",
        ["sales", "prod"],
        True,
    )
    assert body["config"] == {**CONFIG, "password": MASK}
    assert (body["last_test"], body["last_used"], body["usage_count"], body["error_message"]) == (
        None,
        None,
        0,
        None,
    )
    assert_utc_time(body["created_at"])
    assert_utc_time(body["updated_at"])
    assert SECRET not in response.text
    assert count(session, DataSource) == 1


def test_create_source_optional_fields_default(client: TestClient, user_headers: dict[str, str]) -> None:
    response = client.post(
        URL, json={"name": "files", "type": "csv", "config": {"path": "a.csv"}}, headers=user_headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["description"], body["tags"], body["config"]) == (None, [], {"path": "a.csv"})


@pytest.mark.parametrize("source_type", ["postgresql", "mysql", "sqlite", "csv", "json", "rest_api"])
def test_create_source_every_type_201(
    client: TestClient, user_headers: dict[str, str], source_type: str
) -> None:
    response = client.post(URL, json=source_body(type=source_type), headers=user_headers)
    assert response.status_code == 201, response.text
    assert response.json()["type"] == source_type


@pytest.mark.parametrize("headers_fixture", ["user_headers", "analyst_headers", "admin_headers"])
def test_create_source_writer_roles_201_owned_by_caller(
    client: TestClient, session: Session, request: pytest.FixtureRequest, headers_fixture: str
) -> None:
    headers = request.getfixturevalue(headers_fixture)
    me = client.get("/api/v1/auth/profile", headers=headers).json()

    response = client.post(URL, json=source_body(), headers=headers)

    assert response.status_code == 201, response.text
    assert response.json()["owner_id"] == me["id"]
    assert stored(session, response.json()["id"]).owner_id == me["id"]


def test_create_source_viewer_403(
    client: TestClient, session: Session, viewer_headers: dict[str, str]
) -> None:
    audit_before = count(session, AuditLog)

    error = error_of(client.post(URL, json=source_body(), headers=viewer_headers), 403, "FORBIDDEN")

    assert error["type"] == "permission_error"
    assert count(session, DataSource) == 0
    assert count(session, AuditLog) == audit_before


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"owner_id": 1}, "owner_id"),
        ({"id": 424242}, "id"),
        ({"status": "connected"}, "status"),
        ({"is_active": False}, "is_active"),
        ({"created_at": "2020-01-01T00:00:00+00:00"}, "created_at"),
        ({"updated_at": "2020-01-01T00:00:00+00:00"}, "updated_at"),
        ({"usage_count": 7}, "usage_count"),
        ({"colour": "blue"}, "colour"),
    ],
    ids=["owner_id", "id", "status", "is_active", "created_at", "updated_at", "usage_count", "unknown"],
)
def test_create_source_unknown_key_422_writes_nothing(
    client: TestClient, session: Session, user_headers: dict[str, str], extra: dict[str, Any], field: str
) -> None:
    audit_before = count(session, AuditLog)

    response = client.post(URL, json=source_body(**extra), headers=user_headers)

    error = error_of(response, 422, "VALIDATION_FAILED")
    assert error["type"] == "validation_error"
    assert f"body.{field}" in [detail["field"] for detail in error["details"]]
    assert count(session, DataSource) == 0
    assert count(session, AuditLog) == audit_before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "csv", "config": {}}, "body.name"),
        ({"name": "a", "config": {}}, "body.type"),
        ({"name": "a", "type": "csv"}, "body.config"),
        (source_body(name="   "), "body.name"),
        (source_body(name="x" * 256), "body.name"),
        ({**source_body(), "name": 5}, "body.name"),
        (source_body(name="a\x00b"), "body.name"),
        (source_body(type="oracle"), "body.type"),
        (source_body(config="host=db"), "body.config"),
        (source_body(config=["host"]), "body.config"),
        (source_body(description="d" * 2001), "body.description"),
        (source_body(tags="sales"), "body.tags"),
        (source_body(tags=["t"] * 21), "body.tags"),
        (source_body(tags=["t" * 51]), "body.tags.0"),
        (source_body(tags=[""]), "body.tags.0"),
        (source_body(tags=[1]), "body.tags.0"),
        (source_body(config={"k": "x" * 17_000}), "body.config"),
        (source_body(config=DEEP_CONFIG), "body.config"),
    ],
    ids=[
        "no-name",
        "no-type",
        "no-config",
        "blank-name",
        "long-name",
        "name-not-string",
        "name-nul",
        "unknown-type",
        "config-string",
        "config-list",
        "long-description",
        "tags-string",
        "too-many-tags",
        "long-tag",
        "empty-tag",
        "tag-not-string",
        "config-too-big",
        "config-too-deep",
    ],
)
def test_create_source_invalid_body_422(
    client: TestClient, session: Session, user_headers: dict[str, str], body: Any, field: str
) -> None:
    error = error_of(client.post(URL, json=body, headers=user_headers), 422, "VALIDATION_FAILED")
    assert any(detail["field"].startswith(field) for detail in error["details"]), error["details"]
    assert count(session, DataSource) == 0


@pytest.mark.parametrize("body", [[], "text", 1, None], ids=["list", "string", "number", "null"])
def test_create_source_body_not_object_422(
    client: TestClient, user_headers: dict[str, str], body: Any
) -> None:
    error_of(client.post(URL, json=body, headers=user_headers), 422, "VALIDATION_FAILED")


def test_create_source_body_not_json_422(client: TestClient, user_headers: dict[str, str]) -> None:
    headers = {**user_headers, "Content-Type": "application/json"}
    error_of(client.post(URL, content=b"{name: x", headers=headers), 422, "VALIDATION_FAILED")


def test_create_source_too_large_413(
    client: TestClient, session: Session, user_headers: dict[str, str]
) -> None:
    body = source_body(description="d" * 2_000_000)
    error = error_of(client.post(URL, json=body, headers=user_headers), 413, "PAYLOAD_TOO_LARGE")
    assert error["type"] == "payload_too_large"
    assert count(session, DataSource) == 0


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
        "X-API-Key",
        "sshPrivateKey",
        "credentials",
        "dsn",
    ],
)
def test_create_source_masks_secret_key(client: TestClient, user_headers: dict[str, str], key: str) -> None:
    config = {"base_url": "https://api.example.com", "headers": {key: SECRET}}

    response = client.post(URL, json=source_body(type="rest_api", config=config), headers=user_headers)

    assert response.status_code == 201, response.text
    assert response.json()["config"] == {"base_url": "https://api.example.com", "headers": {key: MASK}}
    assert SECRET not in response.text


@pytest.mark.parametrize("key", ["passwords", "secrets", "tokens", "api_keys", "apiKeys", "access_tokens"])
def test_create_source_masks_plural_secret_key(
    client: TestClient, user_headers: dict[str, str], key: str
) -> None:
    config = {"base_url": "https://api.example.com", "headers": {key: SECRET + ", second-" + SECRET}}

    response = client.post(URL, json=source_body(type="rest_api", config=config), headers=user_headers)

    assert response.status_code == 201, response.text
    assert response.json()["config"] == {"base_url": "https://api.example.com", "headers": {key: MASK}}
    assert SECRET not in response.text


NESTED_CONFIG = {
    "base_url": "https://api.example.com/v2",
    "headers": {
        "Authorization": f"Bearer {SECRET}",
        "X-Api-Keys": SECRET + "-2",
        "Accept": "application/json",
    },
    "timeout": 30,
}
NESTED_MASKED = {
    "base_url": "https://api.example.com/v2",
    "headers": {"Authorization": MASK, "X-Api-Keys": MASK, "Accept": "application/json"},
    "timeout": 30,
}


def test_secrets_masked_in_every_answer(
    client: TestClient, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    created = client.post(URL, json=source_body(type="rest_api", config=NESTED_CONFIG), headers=user_headers)
    source_id = created.json()["id"]
    answers = [
        created,
        client.get(URL, headers=user_headers),
        client.get(URL, params={"all": "true"}, headers=admin_headers),
        client.get(f"{URL}/{source_id}", headers=user_headers),
        client.get(f"{URL}/{source_id}", headers=admin_headers),
        client.patch(f"{URL}/{source_id}", json={"description": "x"}, headers=user_headers),
    ]
    for answer in answers:
        assert answer.status_code in {200, 201}, answer.text
        assert SECRET not in answer.text
        body = answer.json()
        for item in body.get("items", [body]):
            assert item["config"] == NESTED_MASKED


def test_create_source_config_stored_encrypted(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str]
) -> None:
    created = create_source(client, user_headers, type="rest_api", config=NESTED_CONFIG)

    raw = stored(session, created["id"]).config_encrypted
    assert SECRET not in raw
    assert "api.example.com" not in raw
    assert stored_config(app, session, created["id"]) == NESTED_CONFIG


def test_create_source_audited(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    response = client.post(URL, json=source_body(), headers=user_headers)
    created = response.json()

    entries = audit_entries(session, "data_source.create")
    assert len(entries) == 1
    assert entries[0].user_id == user.id
    assert (entries[0].resource_type, entries[0].resource_id) == ("data_source", str(created["id"]))
    assert entries[0].request_id == response.headers["X-Request-ID"]
    assert SECRET not in str(entries[0].details)


def test_create_source_duplicate_name_409(
    client: TestClient, session: Session, user_headers: dict[str, str]
) -> None:
    create_source(client, user_headers, name="dup")
    audit_before = count(session, AuditLog)

    response = client.post(URL, json=source_body("dup", type="csv"), headers=user_headers)

    error = error_of(response, 409, "NAME_TAKEN")
    assert error["type"] == "conflict"
    assert count(session, DataSource) == 1
    assert count(session, AuditLog) == audit_before


def test_create_source_name_of_deleted_source_201(client: TestClient, user_headers: dict[str, str]) -> None:
    first = create_source(client, user_headers, name="reused")
    assert client.delete(f"{URL}/{first['id']}", headers=user_headers).status_code == 204

    response = client.post(URL, json=source_body("reused"), headers=user_headers)

    assert response.status_code == 201, response.text
    assert response.json()["id"] != first["id"]


def test_create_source_same_name_as_other_users_201(
    client: TestClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    create_source(client, other_headers, name="shared-name")
    assert client.post(URL, json=source_body("shared-name"), headers=user_headers).status_code == 201


def test_parallel_create_same_name_one_201_rest_409(
    lenient_client: TestClient, session: Session, user_headers: dict[str, str]
) -> None:
    def send(_: int) -> Response:
        return lenient_client.post(URL, json=source_body("raced"), headers=user_headers)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(send, range(6)))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [201, 409, 409, 409, 409, 409], [a.text for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            error_of(answer, 409, "NAME_TAKEN")
    assert count(session, DataSource) == 1


# --- GET /api/v1/data-sources ----------------------------------------------------------------------


def test_list_sources_empty(client: TestClient, user_headers: dict[str, str]) -> None:
    response = client.get(URL, headers=user_headers)
    assert response.status_code == 200
    assert response.json() == {"items": [], "total": 0, "limit": 20, "offset": 0}


def test_list_sources_own_active_newest_first(
    client: TestClient, user_headers: dict[str, str], other_headers: dict[str, str]
) -> None:
    first = create_source(client, user_headers, name="first")
    deleted = create_source(client, user_headers, name="deleted")
    third = create_source(client, user_headers, name="third")
    create_source(client, other_headers, name="not-mine")
    assert client.delete(f"{URL}/{deleted['id']}", headers=user_headers).status_code == 204

    response = client.get(URL, headers=user_headers)

    body = response.json()
    assert set(body) == LIST_KEYS
    assert [s["id"] for s in body["items"]] == [third["id"], first["id"]]
    assert (body["total"], body["limit"], body["offset"]) == (2, 20, 0)
    assert body["items"][0] == third
    assert all(set(s) == SOURCE_KEYS for s in body["items"])


def test_list_sources_admin_without_all_sees_only_own(
    client: TestClient, admin_headers: dict[str, str], user_headers: dict[str, str]
) -> None:
    create_source(client, user_headers, name="users")
    mine = create_source(client, admin_headers, name="admins")
    assert ids_of(client.get(URL, headers=admin_headers)) == [mine["id"]]


def test_list_sources_viewer_sees_own(
    client: TestClient, app: FastAPI, session: Session, viewer: User, viewer_headers: dict[str, str]
) -> None:
    source_id = add_source(app, session, viewer)
    assert ids_of(client.get(URL, headers=viewer_headers)) == [source_id]


@pytest.mark.parametrize("value", ["true", "1", "True"])
def test_list_sources_all_for_admin_every_users_active(
    client: TestClient,
    app: FastAPI,
    session: Session,
    user: User,
    other: User,
    admin_headers: dict[str, str],
    value: str,
) -> None:
    a = add_source(app, session, user, "a")
    add_source(app, session, other, "gone", is_active=False)
    b = add_source(app, session, other, "b")
    response = client.get(URL, params={"all": value}, headers=admin_headers)
    assert ids_of(response) == [b, a]
    assert response.json()["total"] == 2


def test_list_sources_all_with_filters_for_admin(
    client: TestClient, app: FastAPI, session: Session, user: User, other: User, admin_headers: dict[str, str]
) -> None:
    add_source(app, session, user, "a", tags=["eu"])
    b = add_source(app, session, other, "b", tags=["eu"], status=SourceStatus.FAILED)
    add_source(app, session, other, "c", tags=["us"], status=SourceStatus.FAILED)
    response = client.get(URL, params={"all": "true", "tag": "eu", "status": "failed"}, headers=admin_headers)
    assert ids_of(response) == [b]


@pytest.mark.parametrize("headers_fixture", ["user_headers", "analyst_headers", "viewer_headers"])
def test_list_sources_all_for_non_admin_403(
    client: TestClient, request: pytest.FixtureRequest, headers_fixture: str
) -> None:
    headers = request.getfixturevalue(headers_fixture)
    error = error_of(client.get(URL, params={"all": "true"}, headers=headers), 403, "FORBIDDEN")
    assert error["type"] == "permission_error"


def test_list_sources_all_false_for_user_200(client: TestClient, user_headers: dict[str, str]) -> None:
    mine = create_source(client, user_headers)
    assert ids_of(client.get(URL, params={"all": "false"}, headers=user_headers)) == [mine["id"]]


def test_list_sources_type_filter(client: TestClient, user_headers: dict[str, str]) -> None:
    a = create_source(client, user_headers, name="a", type="csv")
    create_source(client, user_headers, name="b", type="mysql")
    c = create_source(client, user_headers, name="c", type="csv")
    response = client.get(URL, params={"type": "csv"}, headers=user_headers)
    assert ids_of(response) == [c["id"], a["id"]]
    assert response.json()["total"] == 2


@pytest.mark.parametrize("status", [s.value for s in SourceStatus])
def test_list_sources_status_filter(
    client: TestClient, app: FastAPI, session: Session, user: User, user_headers: dict[str, str], status: str
) -> None:
    by_status = {s.value: add_source(app, session, user, s.value, status=s) for s in SourceStatus}
    add_source(app, session, user, f"{status}-deleted", status=SourceStatus(status), is_active=False)
    response = client.get(URL, params={"status": status}, headers=user_headers)
    assert ids_of(response) == [by_status[status]]
    assert response.json()["items"][0]["status"] == status


def test_list_sources_tag_filter_exact(
    client: TestClient, app: FastAPI, session: Session, user: User, other: User, user_headers: dict[str, str]
) -> None:
    both = add_source(app, session, user, "both", tags=["sales", "prod"])
    prod = add_source(app, session, user, "prod-only", tags=["prod"])
    add_source(app, session, user, "none")
    add_source(app, session, user, "near", tags=["production", "Prod", "pro"])
    add_source(app, session, user, "deleted", tags=["prod"], is_active=False)
    add_source(app, session, other, "others", tags=["prod"])

    response = client.get(URL, params={"tag": "prod"}, headers=user_headers)

    assert ids_of(response) == [prod, both]
    assert response.json()["total"] == 2
    assert ids_of(client.get(URL, params={"tag": "sales"}, headers=user_headers)) == [both]
    assert ids_of(client.get(URL, params={"tag": "missing"}, headers=user_headers)) == []


@pytest.mark.parametrize(
    "tag",
    ['with "quotes"', "with, comma", "50%_off", "données 📊", "[1]", "back\\slash"],
    ids=["quotes", "comma", "like-chars", "unicode", "json-like", "backslash"],
)
def test_list_sources_tag_filter_special_characters(
    client: TestClient, app: FastAPI, session: Session, user: User, user_headers: dict[str, str], tag: str
) -> None:
    wanted = add_source(app, session, user, "wanted", tags=["x", tag])
    add_source(app, session, user, "other", tags=["x", "plain"])
    assert ids_of(client.get(URL, params={"tag": tag}, headers=user_headers)) == [wanted]


def test_list_sources_tag_filter_on_created_source(client: TestClient, user_headers: dict[str, str]) -> None:
    created = create_source(client, user_headers, tags=["eu"])
    create_source(client, user_headers, name="other", tags=["us"])
    assert ids_of(client.get(URL, params={"tag": "eu"}, headers=user_headers)) == [created["id"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sales", ["Sales DB", "presales"]),
        ("SALES", ["Sales DB", "presales"]),
        ("db", ["Sales DB"]),
        ("%", ["100% real"]),
        ("_", ["snake_case"]),
        ("e_c", ["snake_case"]),
        ("0%", ["100% real"]),
        ("/", ["a/b"]),
        ("nothing", []),
    ],
    ids=[
        "lower",
        "upper",
        "part",
        "percent",
        "underscore",
        "underscore-inside",
        "percent-inside",
        "slash",
        "none",
    ],
)
def test_list_sources_name_filter(
    client: TestClient,
    app: FastAPI,
    session: Session,
    user: User,
    other: User,
    user_headers: dict[str, str],
    query: str,
    expected: list[str],
) -> None:
    names = ["Sales DB", "presales", "100% real", "snake_case", "snakeXcase", "a/b", "plain"]
    by_name = {name: add_source(app, session, user, name) for name in names}
    add_source(app, session, user, "old sales", is_active=False)
    add_source(app, session, other, "their sales")

    response = client.get(URL, params={"name": query}, headers=user_headers)

    assert ids_of(response) == sorted((by_name[n] for n in expected), reverse=True)
    assert response.json()["total"] == len(expected)


def test_list_sources_name_filter_non_ascii_case_insensitive(
    client: TestClient, app: FastAPI, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    wanted = add_source(app, session, user, "Données Été")
    add_source(app, session, user, "other")
    assert ids_of(client.get(URL, params={"name": "données été"}, headers=user_headers)) == [wanted]
    assert ids_of(client.get(URL, params={"name": "DONNÉES"}, headers=user_headers)) == [wanted]


def test_list_sources_filters_combine(
    client: TestClient, app: FastAPI, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    wanted = add_source(app, session, user, "eu warehouse", tags=["eu"], status=SourceStatus.CONNECTED)
    add_source(app, session, user, "eu lake", tags=["eu"], status=SourceStatus.FAILED)
    add_source(app, session, user, "us warehouse", tags=["us"], status=SourceStatus.CONNECTED)
    add_source(app, session, user, "eu-other", tags=["eu"], status=SourceStatus.CONNECTED)
    params = {"type": "csv", "status": "connected", "tag": "eu", "name": "WAREHOUSE"}
    response = client.get(URL, params=params, headers=user_headers)
    assert ids_of(response) == [wanted]
    assert response.json()["total"] == 1
    assert ids_of(client.get(URL, params={**params, "type": "mysql"}, headers=user_headers)) == []


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("type", "oracle"),
        ("type", "CSV"),
        ("type", ""),
        ("status", "unknown"),
        ("status", "CONNECTED"),
        ("status", ""),
        ("all", "maybe"),
        ("tag", "t" * 51),
        ("name", "n" * 256),
    ],
)
def test_list_sources_invalid_filter_422(
    client: TestClient, user_headers: dict[str, str], param: str, value: str
) -> None:
    error = error_of(client.get(URL, params={param: value}, headers=user_headers), 422, "VALIDATION_FAILED")
    assert f"query.{param}" in [detail["field"] for detail in error["details"]]


def test_list_sources_pagination(client: TestClient, user_headers: dict[str, str]) -> None:
    created = [create_source(client, user_headers, name=f"s{i}")["id"] for i in range(5)]
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


def test_list_sources_default_limit_20(
    client: TestClient, app: FastAPI, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    for i in range(21):
        add_source(app, session, user, f"s{i:02}")
    body = client.get(URL, headers=user_headers).json()
    assert (len(body["items"]), body["total"], body["limit"], body["offset"]) == (20, 21, 20, 0)
    assert [s["name"] for s in body["items"]][0] == "s20"


@pytest.mark.parametrize(("limit", "offset"), [(1, 0), (100, 0), (20, 100_000_000)])
def test_list_sources_pagination_bounds_accepted(
    client: TestClient, user_headers: dict[str, str], limit: int, offset: int
) -> None:
    response = client.get(URL, params={"limit": limit, "offset": offset}, headers=user_headers)
    assert response.status_code == 200, response.text
    assert (response.json()["limit"], response.json()["offset"]) == (limit, offset)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("limit", "0"),
        ("limit", "101"),
        ("limit", "-1"),
        ("limit", "abc"),
        ("limit", ""),
        ("limit", "2.5"),
        ("offset", "-1"),
        ("offset", "abc"),
        ("offset", "100000001"),
        ("offset", "99999999999999999999"),
    ],
)
def test_list_sources_bad_pagination_422(
    client: TestClient, user_headers: dict[str, str], param: str, value: str
) -> None:
    error = error_of(client.get(URL, params={param: value}, headers=user_headers), 422, "VALIDATION_FAILED")
    assert f"query.{param}" in [detail["field"] for detail in error["details"]]


# --- GET /api/v1/data-sources/{id} -----------------------------------------------------------------


def test_get_source_200_same_as_created(client: TestClient, user_headers: dict[str, str]) -> None:
    created = create_source(client, user_headers)
    response = client.get(f"{URL}/{created['id']}", headers=user_headers)
    assert response.status_code == 200
    assert response.json() == created


def test_get_source_viewer_owner_200(
    client: TestClient, app: FastAPI, session: Session, viewer: User, viewer_headers: dict[str, str]
) -> None:
    source_id = add_source(app, session, viewer)
    response = client.get(f"{URL}/{source_id}", headers=viewer_headers)
    assert response.status_code == 200
    assert response.json()["config"] == {"path": "/x.csv", "password": MASK}


def test_get_source_admin_reads_any_200(
    client: TestClient, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    theirs = create_source(client, user_headers)
    response = client.get(f"{URL}/{theirs['id']}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json() == theirs


@pytest.mark.parametrize(
    ("method", "body"),
    [("GET", None), ("PATCH", {"name": "stolen"}), ("DELETE", None)],
)
def test_other_users_source_404_like_missing(
    client: TestClient,
    session: Session,
    user_headers: dict[str, str],
    other_headers: dict[str, str],
    method: str,
    body: Any,
) -> None:
    theirs = create_source(client, other_headers)
    audit_before = count(session, AuditLog)

    foreign = client.request(method, f"{URL}/{theirs['id']}", json=body, headers=user_headers)
    missing = client.request(method, f"{URL}/{theirs['id'] + 1000}", json=body, headers=user_headers)

    foreign_error = error_of(foreign, 404, "NOT_FOUND")
    missing_error = error_of(missing, 404, "NOT_FOUND")
    assert without_request(foreign_error) == without_request(missing_error)
    assert foreign_error["type"] == "not_found"
    assert foreign.headers["content-type"] == missing.headers["content-type"]
    assert client.get(f"{URL}/{theirs['id']}", headers=other_headers).json() == theirs
    assert count(session, AuditLog) == audit_before


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_deleted_source_404(client: TestClient, user_headers: dict[str, str], method: str) -> None:
    created = create_source(client, user_headers)
    assert client.delete(f"{URL}/{created['id']}", headers=user_headers).status_code == 204
    response = client.request(method, f"{URL}/{created['id']}", json={"name": "x"}, headers=user_headers)
    error_of(response, 404, "NOT_FOUND")


@pytest.mark.parametrize("source_id", ["0", "-1", str(MAX_ID + 1), "99999999999999999999", "abc", "1.5"])
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_source_id_out_of_range_422(
    client: TestClient, user_headers: dict[str, str], method: str, source_id: str
) -> None:
    response = client.request(method, f"{URL}/{source_id}", json={}, headers=user_headers)
    error = error_of(response, 422, "VALIDATION_FAILED")
    assert "path.source_id" in [detail["field"] for detail in error["details"]]


def test_source_id_max_is_404(client: TestClient, user_headers: dict[str, str]) -> None:
    error_of(client.get(f"{URL}/{MAX_ID}", headers=user_headers), 404, "NOT_FOUND")


# --- PATCH /api/v1/data-sources/{id} ---------------------------------------------------------------


def test_update_source_changes_sent_fields(
    client: TestClient, app: FastAPI, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    created = create_source(client, user_headers)
    changes = {"name": "renamed", "type": "mysql", "description": "Moved", "tags": ["eu"]}

    response = client.patch(f"{URL}/{created['id']}", json=changes, headers=user_headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == SOURCE_KEYS
    assert (body["id"], body["owner_id"]) == (created["id"], user.id)
    assert {k: body[k] for k in changes} == changes
    assert body["config"] == created["config"]
    assert body["created_at"] == created["created_at"]
    assert_utc_time(body["updated_at"])
    assert client.get(f"{URL}/{created['id']}", headers=user_headers).json() == body
    assert stored_config(app, session, created["id"]) == CONFIG


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "renamed"}, "name"),
        ({"type": "mysql"}, "type"),
        ({"description": "new words"}, "description"),
        ({"tags": ["one"]}, "tags"),
        ({"tags": []}, "tags"),
    ],
    ids=["name", "type", "description", "tags", "empty-tags"],
)
def test_update_source_one_field_leaves_others(
    client: TestClient, user_headers: dict[str, str], changes: dict[str, Any], field: str
) -> None:
    created = create_source(client, user_headers)

    response = client.patch(f"{URL}/{created['id']}", json=changes, headers=user_headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body[field] == changes[field]
    untouched = SOURCE_KEYS - {field, "updated_at"}
    assert {k: body[k] for k in untouched} == {k: created[k] for k in untouched}


def test_update_source_empty_body_keeps_everything(client: TestClient, user_headers: dict[str, str]) -> None:
    created = create_source(client, user_headers)
    response = client.patch(f"{URL}/{created['id']}", json={}, headers=user_headers)
    assert response.status_code == 200
    assert {k: v for k, v in response.json().items() if k != "updated_at"} == {
        k: v for k, v in created.items() if k != "updated_at"
    }


def test_update_source_null_description_clears(client: TestClient, user_headers: dict[str, str]) -> None:
    created = create_source(client, user_headers)
    response = client.patch(f"{URL}/{created['id']}", json={"description": None}, headers=user_headers)
    assert response.status_code == 200
    assert response.json()["description"] is None


def test_update_source_masked_secret_keeps_stored(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str]
) -> None:
    created = create_source(client, user_headers)
    # The same destination (host, port, database): another user name may reuse the secret.
    config = {**created["config"], "username": "reader2"}
    assert config["password"] == MASK

    response = client.patch(f"{URL}/{created['id']}", json={"config": config}, headers=user_headers)

    assert response.status_code == 200, response.text
    assert response.json()["config"] == {**CONFIG, "username": "reader2", "password": MASK}
    assert stored_config(app, session, created["id"]) == {**CONFIG, "username": "reader2"}


def test_update_source_masked_nested_and_plural_secrets_keep_stored(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str]
) -> None:
    created = create_source(client, user_headers, type="rest_api", config=NESTED_CONFIG)
    assert created["config"] == NESTED_MASKED

    response = client.patch(
        f"{URL}/{created['id']}", json={"config": created["config"]}, headers=user_headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["config"] == NESTED_MASKED
    assert stored_config(app, session, created["id"]) == NESTED_CONFIG


def test_update_source_new_secret_replaces_stored(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str]
) -> None:
    created = create_source(client, user_headers)
    config = {**created["config"], "password": "Brand-New-Secret"}

    response = client.patch(f"{URL}/{created['id']}", json={"config": config}, headers=user_headers)

    assert response.status_code == 200
    assert response.json()["config"]["password"] == MASK
    assert "Brand-New-Secret" not in response.text
    assert stored_config(app, session, created["id"])["password"] == "Brand-New-Secret"
    assert "Brand-New-Secret" not in stored(session, created["id"]).config_encrypted


def test_update_source_without_config_keeps_stored_config(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str]
) -> None:
    created = create_source(client, user_headers)
    for changes in ({"name": "n2"}, {"config": None}, {"tags": None, "type": None, "name": None}):
        response = client.patch(f"{URL}/{created['id']}", json=changes, headers=user_headers)
        assert response.status_code == 200, response.text
    body = client.get(f"{URL}/{created['id']}", headers=user_headers).json()
    assert (body["name"], body["type"], body["tags"]) == ("n2", "postgresql", ["sales", "prod"])
    assert stored_config(app, session, created["id"]) == CONFIG


def test_update_source_to_taken_name_409(
    client: TestClient, session: Session, user_headers: dict[str, str]
) -> None:
    create_source(client, user_headers, name="taken")
    created = create_source(client, user_headers, name="mine")
    audit_before = count(session, AuditLog)

    response = client.patch(
        f"{URL}/{created['id']}", json={"name": "taken", "tags": ["x"]}, headers=user_headers
    )

    error_of(response, 409, "NAME_TAKEN")
    after = client.get(f"{URL}/{created['id']}", headers=user_headers).json()
    assert (after["name"], after["tags"]) == ("mine", ["sales", "prod"])
    assert count(session, AuditLog) == audit_before


def test_update_source_admin_rename_to_owners_taken_name_409(
    client: TestClient, user_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    create_source(client, user_headers, name="taken")
    theirs = create_source(client, user_headers, name="theirs")
    response = client.patch(f"{URL}/{theirs['id']}", json={"name": "taken"}, headers=admin_headers)
    error_of(response, 409, "NAME_TAKEN")


def test_parallel_rename_to_same_name_one_200_rest_409(
    lenient_client: TestClient, user_headers: dict[str, str]
) -> None:
    sources = [create_source(lenient_client, user_headers, name=f"s{i}")["id"] for i in range(5)]

    def send(source_id: int) -> Response:
        return lenient_client.patch(f"{URL}/{source_id}", json={"name": "wanted"}, headers=user_headers)

    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(send, sources))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200, 409, 409, 409, 409], [a.text for a in answers]
    names = [s["name"] for s in lenient_client.get(URL, headers=user_headers).json()["items"]]
    assert names.count("wanted") == 1


@pytest.mark.parametrize("name", ["same", "deleted-name", "others-name"])
def test_update_source_rename_to_free_name_200(
    client: TestClient, user_headers: dict[str, str], other_headers: dict[str, str], name: str
) -> None:
    deleted = create_source(client, user_headers, name="deleted-name")
    assert client.delete(f"{URL}/{deleted['id']}", headers=user_headers).status_code == 204
    create_source(client, other_headers, name="others-name")
    created = create_source(client, user_headers, name="same")

    response = client.patch(f"{URL}/{created['id']}", json={"name": name}, headers=user_headers)

    assert response.status_code == 200, response.text
    assert response.json()["name"] == name


@pytest.mark.parametrize(
    "extra",
    [
        {"owner_id": 1},
        {"id": 424242},
        {"status": "connected"},
        {"is_active": False},
        {"created_at": "2020-01-01T00:00:00+00:00"},
        {"updated_at": "2020-01-01T00:00:00+00:00"},
        {"role": "admin"},
    ],
    ids=["owner_id", "id", "status", "is_active", "created_at", "updated_at", "role"],
)
def test_update_source_unknown_key_422_changes_nothing(
    client: TestClient,
    session: Session,
    user_headers: dict[str, str],
    other: User,
    extra: dict[str, Any],
) -> None:
    created = create_source(client, user_headers)
    audit_before = count(session, AuditLog)

    response = client.patch(f"{URL}/{created['id']}", json={"name": "renamed", **extra}, headers=user_headers)

    error = error_of(response, 422, "VALIDATION_FAILED")
    assert f"body.{next(iter(extra))}" in [detail["field"] for detail in error["details"]]
    assert client.get(f"{URL}/{created['id']}", headers=user_headers).json() == created
    assert count(session, AuditLog) == audit_before


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": 5},
        {"type": "oracle"},
        {"config": "x"},
        {"tags": ["t" * 51]},
        {"description": "d" * 2001},
        [],
    ],
    ids=[
        "blank-name",
        "name-not-string",
        "unknown-type",
        "config-string",
        "long-tag",
        "long-description",
        "list",
    ],
)
def test_update_source_invalid_body_422(client: TestClient, user_headers: dict[str, str], body: Any) -> None:
    created = create_source(client, user_headers)
    error_of(
        client.patch(f"{URL}/{created['id']}", json=body, headers=user_headers), 422, "VALIDATION_FAILED"
    )
    assert client.get(f"{URL}/{created['id']}", headers=user_headers).json() == created


def test_update_source_admin_updates_any_200(
    client: TestClient,
    session: Session,
    user: User,
    admin: User,
    user_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    theirs = create_source(client, user_headers)

    response = client.patch(f"{URL}/{theirs['id']}", json={"description": "by admin"}, headers=admin_headers)

    assert response.status_code == 200, response.text
    assert (response.json()["description"], response.json()["owner_id"]) == ("by admin", user.id)
    entries = audit_entries(session, "data_source.update")
    assert [(e.user_id, e.resource_id) for e in entries] == [(admin.id, str(theirs["id"]))]


def test_update_source_viewer_owner_403(
    client: TestClient, app: FastAPI, session: Session, viewer: User, viewer_headers: dict[str, str]
) -> None:
    source_id = add_source(app, session, viewer)
    before = client.get(f"{URL}/{source_id}", headers=viewer_headers).json()

    response = client.patch(f"{URL}/{source_id}", json={"name": "changed"}, headers=viewer_headers)

    error_of(response, 403, "FORBIDDEN")
    assert client.get(f"{URL}/{source_id}", headers=viewer_headers).json() == before
    assert audit_entries(session, "data_source.update") == []


def test_update_source_audited(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    created = create_source(client, user_headers)
    config = {**created["config"], "password": "Brand-New-Secret"}

    response = client.patch(
        f"{URL}/{created['id']}", json={"name": "n2", "config": config}, headers=user_headers
    )

    assert response.status_code == 200
    entries = audit_entries(session, "data_source.update")
    assert len(entries) == 1
    assert (entries[0].user_id, entries[0].resource_type, entries[0].resource_id) == (
        user.id,
        "data_source",
        str(created["id"]),
    )
    assert entries[0].request_id == response.headers["X-Request-ID"]
    assert "Brand-New-Secret" not in str(entries[0].details)


# --- DELETE /api/v1/data-sources/{id} --------------------------------------------------------------


def test_delete_source_204_soft_deletes(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    created = create_source(client, user_headers)

    response = client.delete(f"{URL}/{created['id']}", headers=user_headers)

    assert response.status_code == 204
    assert response.content == b""
    error_of(client.get(f"{URL}/{created['id']}", headers=user_headers), 404, "NOT_FOUND")
    assert client.get(URL, headers=user_headers).json()["total"] == 0
    row = stored(session, created["id"])
    assert row.is_active is False
    assert row.name == created["name"]
    entries = audit_entries(session, "data_source.delete")
    assert [(e.user_id, e.resource_type, e.resource_id) for e in entries] == [
        (user.id, "data_source", str(created["id"]))
    ]


def test_delete_source_twice_404(client: TestClient, session: Session, user_headers: dict[str, str]) -> None:
    created = create_source(client, user_headers)
    assert client.delete(f"{URL}/{created['id']}", headers=user_headers).status_code == 204
    error_of(client.delete(f"{URL}/{created['id']}", headers=user_headers), 404, "NOT_FOUND")
    assert len(audit_entries(session, "data_source.delete")) == 1


def test_delete_source_admin_deletes_any_204(
    client: TestClient,
    session: Session,
    admin: User,
    user_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    theirs = create_source(client, user_headers)

    response = client.delete(f"{URL}/{theirs['id']}", headers=admin_headers)

    assert response.status_code == 204
    error_of(client.get(f"{URL}/{theirs['id']}", headers=user_headers), 404, "NOT_FOUND")
    assert ids_of(client.get(URL, params={"all": "true"}, headers=admin_headers)) == []
    assert [e.user_id for e in audit_entries(session, "data_source.delete")] == [admin.id]


def test_delete_source_viewer_owner_403(
    client: TestClient, app: FastAPI, session: Session, viewer: User, viewer_headers: dict[str, str]
) -> None:
    source_id = add_source(app, session, viewer)

    error_of(client.delete(f"{URL}/{source_id}", headers=viewer_headers), 403, "FORBIDDEN")

    assert client.get(f"{URL}/{source_id}", headers=viewer_headers).status_code == 200
    assert stored(session, source_id).is_active is True


@pytest.mark.parametrize("prefix", ["/api/v1", "/api"])
def test_whole_floats_are_integers_as_json_schema_says(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str], prefix: str
) -> None:
    # "type": "integer" in JSON Schema takes 5432.0; so do the config port, the page and the id.
    body = source_body(config={**CONFIG, "port": 5432.0})
    created = client.post(f"{prefix}/data-sources", json=body, headers=user_headers)
    assert created.status_code == 201, created.text
    assert stored_config(app, session, created.json()["id"])["port"] == 5432
    if prefix == "/api/v1":
        assert client.get(URL, params={"limit": "1.0"}, headers=user_headers).json()["limit"] == 1
        assert client.get(f"{URL}/{created.json()['id']}.0", headers=user_headers).status_code == 200
