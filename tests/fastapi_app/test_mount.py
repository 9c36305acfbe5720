"""The seam between the halves: routing, request ids and body limits cover /api and /api/v1 alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.types import Receive, Scope, Send

from datalab.context import RouteInfo, current_route
from datalab.settings import Settings
from shared_models import AuditLog, User
from tests.helpers import PASSWORD, count


def test_docs_and_openapi_are_served_by_fastapi(client: TestClient) -> None:
    assert client.get("/docs").headers["content-type"].startswith("text/html")
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/health" in spec["paths"]
    assert not any(path.startswith("/api/") and not path.startswith("/api/v1") for path in spec["paths"])


@pytest.mark.parametrize("path", ["/api/health", "/api/v1/health"])
def test_request_id_is_generated_and_echoed_on_both_halves(client: TestClient, path: str) -> None:
    first = client.get(path).headers["x-request-id"]
    second = client.get(path).headers["x-request-id"]
    assert len(first) == 32
    assert first != second


@pytest.mark.parametrize("path", ["/api/health", "/api/v1/health"])
def test_sane_client_request_id_is_kept(client: TestClient, path: str) -> None:
    response = client.get(path, headers={"X-Request-ID": "trace-42.abc"})
    assert response.headers["x-request-id"] == "trace-42.abc"


@pytest.mark.parametrize("sent", [b"x" * 65, b"bad id", b"<script>", "é".encode()])
def test_unsafe_client_request_id_is_replaced(client: TestClient, sent: bytes) -> None:
    response = client.get("/api/health", headers={b"X-Request-ID": sent})
    assert response.headers["x-request-id"].encode() != sent
    assert len(response.headers["x-request-id"]) == 32


def test_audit_entry_written_by_flask_carries_request_id_and_ip(client: TestClient, session: Session) -> None:
    response = client.post(
        "/api/auth/register",
        json={"email": "new@example.com", "password": PASSWORD},
        headers={"X-Request-ID": "req-register-1"},
    )
    assert response.status_code == 201
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "user.register")).one()
    assert entry.request_id == "req-register-1"
    assert entry.ip_address == "testclient"


def _chunks(body: bytes, size: int = 1000) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("chunked", [False, True])
def test_oversized_legacy_body_is_413_and_writes_nothing(
    client: TestClient, session: Session, settings: Settings, chunked: bool
) -> None:
    body = b'{"email": "big@example.com", "password": "' + b"A1a" * settings.edges.max_body_bytes + b'"}'
    content = _chunks(body) if chunked else body
    response = client.post(
        "/api/auth/register", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"msg": "Request body too large"}
    assert count(session, User) == 0


@pytest.mark.parametrize("chunked", [False, True])
def test_oversized_v1_body_is_413_envelope(client: TestClient, settings: Settings, chunked: bool) -> None:
    body = b'{"email": "a@example.com", "password": "' + b"x" * settings.edges.max_body_bytes + b'"}'
    content = _chunks(body) if chunked else body
    response = client.post(
        "/api/v1/auth/login", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    error = response.json()["error"]
    assert (error["code"], error["type"]) == ("PAYLOAD_TOO_LARGE", "payload_too_large")
    assert error["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(("path", "v1"), [("/api/v1/", True), ("/api/v1", True), ("/api/v1x", False)])
def test_413_shape_follows_the_v1_segment_rule(
    client: TestClient, settings: Settings, path: str, v1: bool
) -> None:
    # /api/v1x is a legacy path (Flask serves it), so its errors are `{"msg"}`, not the envelope.
    response = client.post(path, content=b"x" * (settings.edges.max_body_bytes + 1))
    assert response.status_code == 413
    if v1:
        assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    else:
        assert response.json() == {"msg": "Request body too large"}


def test_chunked_body_under_the_limit_reaches_flask(client: TestClient, session: Session) -> None:
    body = b'{"email": "chunked@example.com", "password": "' + PASSWORD.encode() + b'"}'
    response = client.post(
        "/api/auth/register", content=_chunks(body, 7), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert session.scalars(select(User.email)).one() == "chunked@example.com"


@pytest.mark.parametrize(
    ("method", "path", "served_by", "template"),
    [
        ("GET", "/api/health", "legacy_flask", "/api/health"),
        ("GET", "/api/data-sources/12345", "legacy_flask", "/api/data-sources/<source_id>"),
        ("GET", "/api/nowhere", "legacy_flask", None),
        ("GET", "/api/v1/health", "fastapi", "/api/v1/health"),
        ("GET", "/api/v1/data-sources/12345", "fastapi", "/api/v1/data-sources/{source_id}"),
        ("GET", "/api/v1/users/me", "fastapi", "/api/v1/users/{user_id}"),
        ("DELETE", "/api/v1/health", "fastapi", "/api/v1/health"),
        ("GET", "/api/v1/nowhere", "fastapi", None),
    ],
)
def test_every_response_names_its_server_and_route_template(
    app: FastAPI, user_headers: dict[str, str], method: str, path: str, served_by: str, template: str | None
) -> None:
    seen: list[RouteInfo | None] = []

    async def outermost(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)
        seen.append(current_route())  # set by the middleware within this same task

    with TestClient(outermost) as client:
        response = client.request(method, path, headers=user_headers)
    assert response.headers["x-served-by"] == served_by
    info = seen[0]
    assert info is not None
    assert (info.served_by, info.template) == (served_by, template)
