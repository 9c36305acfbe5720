"""Security headers, CORS and allowed hosts: once, on every answer of both halves, errors included."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from flask import Flask
from httpx2 import Response
from pydantic import ValidationError

from datalab.settings import Settings
from fastapi_app.edges.headers import API_CSP, DOCS_CSP
from tests.edge_apps import edge_client, edge_settings
from tests.helpers import PASSWORD

SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": API_CSP,
    "cache-control": "no-store",
}
ORIGIN = "https://app.example.com"


@pytest.fixture
def strict(settings: Settings, _clean_tables: None) -> Iterator[TestClient]:
    """A client of an app with HSTS, CORS for one origin, allowed hosts and a tight login limit."""
    with edge_client(
        settings,
        hsts_seconds=31_536_000,
        cors_origins=[ORIGIN],
        allowed_hosts=["testserver", "api.example.com"],
        rate_limit_login="1/minute",
        max_body_bytes=2048,
    ) as test_client:
        yield test_client


def _assert_security_headers_once(response: Response) -> None:
    for name, value in SECURITY.items():
        assert response.headers.get_list(name) == [value], name
    assert len(response.headers.get_list("permissions-policy")) == 1
    assert response.headers.get_list("strict-transport-security") == ["max-age=31536000; includeSubDomains"]
    assert len(response.headers.get_list("x-request-id")) == 1


def _answers(client: TestClient) -> dict[str, Response]:
    login = {"email": "a@example.com", "password": PASSWORD}
    client.post("/api/auth/login", json=login)  # spends the one login allowed
    return {
        "legacy 200": client.get("/api/health"),
        "v1 200": client.get("/api/v1/health"),
        "health": client.get("/health"),
        "legacy 401": client.get("/api/users/me"),
        "v1 401": client.get("/api/v1/auth/profile"),
        "legacy 404": client.get("/api/nothing-here"),
        "v1 404": client.get("/api/v1/nothing-here"),
        "legacy 405": client.delete("/api/health"),
        "v1 405": client.delete("/api/v1/health"),
        "legacy 413": client.post("/api/auth/register", content=b"x" * 4096),
        "v1 413": client.post("/api/v1/auth/register", content=b"x" * 4096),
        "legacy 429": client.post("/api/auth/login", json=login),
        "v1 429": client.post("/api/v1/auth/login", json=login),
        "metrics 403": client.get("/metrics"),
        "preflight": client.options(
            "/api/auth/login", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
        ),
        "bad host": client.get("/api/health", headers={"Host": "evil.example.net"}),
    }


def test_every_answer_of_both_halves_has_the_security_headers_once(strict: TestClient) -> None:
    answers = _answers(strict)
    statuses = {name: response.status_code for name, response in answers.items()}
    assert statuses == {
        "legacy 200": 200,
        "v1 200": 200,
        "health": 200,
        "legacy 401": 401,
        "v1 401": 401,
        "legacy 404": 404,
        "v1 404": 404,
        "legacy 405": 405,
        "v1 405": 405,
        "legacy 413": 413,
        "v1 413": 413,
        "legacy 429": 429,
        "v1 429": 429,
        "metrics 403": 403,
        "preflight": 200,
        "bad host": 400,
    }
    for response in answers.values():
        _assert_security_headers_once(response)


def test_unexpected_error_answer_keeps_request_id_and_headers(settings: Settings) -> None:
    with edge_client(settings, hsts_seconds=31_536_000) as test_client:
        app = test_client.app

        def explode() -> None:
            raise RuntimeError("boom with password=hunter2")

        app.add_api_route("/api/v1/explode", explode)  # type: ignore[attr-defined]
        response = test_client.get("/api/v1/explode", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert response.json()["error"]["request_id"] == "req-500"
    assert response.headers["x-request-id"] == "req-500"
    _assert_security_headers_once(response)
    assert "hunter2" not in response.text


def test_a_header_a_half_set_itself_is_replaced_not_duplicated(settings: Settings) -> None:
    with edge_client(settings) as test_client:
        flask_app: Flask = test_client.app.state.flask_app  # type: ignore[attr-defined]

        def own_headers() -> tuple[dict[str, str], int, dict[str, str]]:
            return {}, 200, {"X-Frame-Options": "SAMEORIGIN", "Cache-Control": "public, max-age=60"}

        flask_app.add_url_rule("/api/own-headers", view_func=own_headers)

        response = test_client.get("/api/own-headers")
    assert response.headers.get_list("x-frame-options") == ["DENY"]
    assert response.headers.get_list("cache-control") == ["no-store"]


def test_no_hsts_unless_configured(settings: Settings) -> None:
    with edge_client(settings) as test_client:
        response = test_client.get("/api/health")
    assert "strict-transport-security" not in response.headers


def test_docs_page_gets_its_own_policy_and_is_not_served_in_production(settings: Settings) -> None:
    with edge_client(settings) as test_client:
        docs = test_client.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-security-policy"] == DOCS_CSP
    assert "cdn.jsdelivr.net" not in docs.text  # the policy allows only this process
    with edge_client(settings, env="production") as test_client:
        assert test_client.get("/docs").status_code == 404
        assert test_client.get("/api/v1/openapi.json").status_code == 200


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/v1/auth/login"])
def test_cors_preflight_is_answered_for_both_halves(strict: TestClient, path: str) -> None:
    response = strict.options(
        path,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert response.status_code == 200
    assert response.headers.get_list("access-control-allow-origin") == [ORIGIN]
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize("path", ["/api/health", "/api/v1/health"])
def test_cors_headers_once_on_simple_requests_and_never_for_other_origins(
    strict: TestClient, path: str
) -> None:
    allowed = strict.get(path, headers={"Origin": ORIGIN})
    assert allowed.headers.get_list("access-control-allow-origin") == [ORIGIN]
    assert "X-Request-ID" in allowed.headers["access-control-expose-headers"]
    other = strict.get(path, headers={"Origin": "https://evil.example.net"})
    assert "access-control-allow-origin" not in other.headers
    refused = strict.options(
        path, headers={"Origin": "https://evil.example.net", "Access-Control-Request-Method": "GET"}
    )
    assert refused.status_code == 400


def test_wildcard_origin_with_credentials_is_refused_at_start(settings: Settings) -> None:
    with pytest.raises(ValidationError, match="CORS_ORIGINS may not contain"):
        edge_settings(settings, cors_origins=["*"], cors_allow_credentials=True)


@pytest.mark.parametrize("host", ["evil.example.net", "testserver.evil.example.net"])
def test_unlisted_host_is_refused_on_both_halves(strict: TestClient, host: str) -> None:
    for path in ("/api/health", "/api/v1/health"):
        assert strict.get(path, headers={"Host": host}).status_code == 400
    assert strict.get("/api/health", headers={"Host": "api.example.com"}).status_code == 200
