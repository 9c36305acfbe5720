"""A masked secret is kept only while its destination stays the same, on both APIs.

Otherwise an editor could repoint a source at a server of their own, send the mask back,
and have the connection test hand them the stored password or token.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session

from shared_models import DataSource, Integration
from tests.helpers import error_of, fields_of

MASK = "********"
SEND_AGAIN = "send the secret again when the destination changes"
DATABASE = {
    "host": "db.internal",
    "port": 5432,
    "database": "sales",
    "username": "reporter",
    "password": "Pg-S3cret",
}
REST = {
    "base_url": "https://api.example.com/v2",
    "headers": {"Authorization": "Bearer Rest-T0ken", "Accept": "json"},
}
APIS = ["legacy", "v1"]


def _create(client: TestClient, headers: dict[str, str], kind: str, config: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        "/api/v1/data-sources", json={"name": "s", "type": kind, "config": config}, headers=headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _update(
    client: TestClient, api: str, headers: dict[str, str], source_id: int, body: dict[str, Any]
) -> Response:
    if api == "legacy":
        return client.put(f"/api/data-sources/{source_id}", json=body, headers=headers)
    return client.patch(f"/api/v1/data-sources/{source_id}", json=body, headers=headers)


def _stored(app: FastAPI, session: Session, source_id: int) -> dict[str, Any]:
    session.expire_all()
    source = session.get(DataSource, source_id)
    assert source is not None
    config: dict[str, Any] = app.state.runtime.cipher.decrypt(source.config_encrypted)
    return config


def _refused(response: Response, api: str, field: str) -> None:
    if api == "legacy":
        assert (response.status_code, response.json()) == (400, {"msg": f"{field}: {SEND_AGAIN}"})
    else:
        assert fields_of(error_of(response, 422, "SECRET_REQUIRED")) == [field]


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("kind", "config", "change", "field"),
    [
        ("postgresql", DATABASE, {"host": "attacker.example.com"}, "config.password"),
        ("postgresql", DATABASE, {"host": "10.9.9.9", "port": 15432}, "config.password"),
        ("postgresql", DATABASE, {"port": 6543}, "config.password"),
        ("postgresql", DATABASE, {"database": "other"}, "config.password"),
        ("mysql", {**DATABASE, "port": 3306}, {"host": "attacker.example.com"}, "config.password"),
        ("rest_api", REST, {"base_url": "https://attacker.example.com/v2"}, "config.headers.Authorization"),
        ("rest_api", REST, {"base_url": "http://api.example.com/v2"}, "config.headers.Authorization"),
        ("rest_api", REST, {"base_url": "https://api.example.com:8443/v2"}, "config.headers.Authorization"),
    ],
    ids=["host", "host-and-port", "port", "database", "mysql-host", "url-host", "url-scheme", "url-port"],
)
def test_mask_sent_to_a_new_destination_is_refused_and_nothing_changes(
    client: TestClient,
    app: FastAPI,
    session: Session,
    user_headers: dict[str, str],
    api: str,
    kind: str,
    config: dict[str, Any],
    change: dict[str, Any],
    field: str,
) -> None:
    created = _create(client, user_headers, kind, config)
    response = _update(client, api, user_headers, created["id"], {"config": {**created["config"], **change}})
    _refused(response, api, field)
    assert _stored(app, session, created["id"]) == config


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    ("kind", "config", "change"),
    [
        ("postgresql", DATABASE, {"username": "reader", "sslmode": "require"}),
        ("postgresql", DATABASE, {"host": "DB.Internal."}),  # the same host, spelled otherwise
        ("rest_api", REST, {"base_url": "https://api.example.com:443/v3", "timeout": 5}),
    ],
    ids=["user-name", "host-spelling", "url-path"],
)
def test_mask_at_the_same_destination_keeps_the_secret(
    client: TestClient,
    app: FastAPI,
    session: Session,
    user_headers: dict[str, str],
    api: str,
    kind: str,
    config: dict[str, Any],
    change: dict[str, Any],
) -> None:
    created = _create(client, user_headers, kind, config)
    response = _update(client, api, user_headers, created["id"], {"config": {**created["config"], **change}})
    assert response.status_code == 200, response.text
    assert _stored(app, session, created["id"]) == {**config, **change}


@pytest.mark.parametrize("api", APIS)
def test_new_secret_with_a_new_destination_is_taken(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str], api: str
) -> None:
    created = _create(client, user_headers, "postgresql", DATABASE)
    moved = {**DATABASE, "host": "db2.internal", "password": "New-S3cret"}
    response = _update(client, api, user_headers, created["id"], {"config": moved})
    assert response.status_code == 200, response.text
    assert response.json()["config"]["password"] == MASK
    assert _stored(app, session, created["id"]) == moved


@pytest.mark.parametrize("api", APIS)
def test_type_change_that_moves_the_default_port_needs_the_secret(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str], api: str
) -> None:
    # No port stored: as a mysql source it would be sent to port 3306 instead of 5432.
    config = {k: v for k, v in DATABASE.items() if k != "port"}
    created = _create(client, user_headers, "postgresql", config)
    response = _update(client, api, user_headers, created["id"], {"type": "mysql"})
    _refused(response, api, "config.password")
    session.expire_all()
    assert session.get(DataSource, created["id"]).type == "postgresql"  # type: ignore[union-attr]


def test_integration_secret_stays_with_its_url(
    client: TestClient, app: FastAPI, session: Session, user_headers: dict[str, str]
) -> None:
    config = {"url": "https://alerts.example.com/hook", "token": "Int-T0ken", "channel": "#ops"}
    body = {"name": "i", "provider": "webhook", "config": config}
    created = client.post("/api/v1/integrations", json=body, headers=user_headers).json()
    url = f"/api/v1/integrations/{created['id']}"

    moved = client.patch(
        url,
        json={"config": {**created["config"], "url": "https://evil.example.com/hook"}},
        headers=user_headers,
    )
    assert fields_of(error_of(moved, 422, "SECRET_REQUIRED")) == ["config.token"]
    renamed = client.patch(
        url, json={"config": {**created["config"], "channel": "#dev"}}, headers=user_headers
    )
    assert renamed.status_code == 200, renamed.text

    session.expire_all()
    integration = session.get(Integration, created["id"])
    assert integration is not None
    assert app.state.runtime.cipher.decrypt(integration.config_encrypted) == {**config, "channel": "#dev"}
