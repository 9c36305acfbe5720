"""POST /api/v1/auth/{login,refresh,logout} and GET /api/v1/auth/profile, and the v1 error envelope."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from shared_models import AuthSession, RevokedToken, Role, User
from tests.helpers import PASSWORD, PROFILE_KEYS, Accounts, audit_entries, bearer, count, error_of

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
PROFILE = "/api/v1/auth/profile"


def in_parallel(requests: int, send: Callable[[], Response]) -> list[Response]:
    """Send `requests` copies of a request at once and return the answers."""
    with ThreadPoolExecutor(requests) as pool:
        return list(pool.map(lambda _: send(), range(requests)))


def login(client: TestClient, email: str, password: str = PASSWORD) -> Response:
    return client.post(LOGIN, json={"email": email, "password": password})


# --- login ------------------------------------------------------------------------------------------


def test_login_returns_token_pair(client: TestClient, session: Session, user: User) -> None:
    response = login(client, user.email)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["access_token"] != body["refresh_token"]
    assert client.get(PROFILE, headers=bearer(body["access_token"])).json()["id"] == user.id
    assert [entry.user_id for entry in audit_entries(session, "user.login")] == [user.id]
    assert count(session, AuthSession) == 1


def test_login_email_is_case_insensitive(client: TestClient, user: User) -> None:
    response = login(client, "  USER@Example.COM ")
    assert response.status_code == 200, response.text


def test_login_sets_last_login(client: TestClient, session: Session, user: User) -> None:
    assert login(client, user.email).status_code == 200
    session.expire_all()
    profile = session.get(User, user.id)
    assert profile is not None
    assert profile.last_login is not None


@pytest.mark.parametrize(
    ("email", "password", "active"),
    [
        ("user@example.com", "Wrong-Horse-9", True),
        ("nobody@example.com", PASSWORD, True),
        ("user@example.com", PASSWORD, False),
        ("user@example.com", "", True),
        ("user@example.com", "é" * 40, True),
    ],
    ids=["wrong-password", "unknown-email", "inactive", "empty-password", "over-72-bytes"],
)
def test_login_bad_credentials_401(
    client: TestClient,
    session: Session,
    accounts: Accounts,
    email: str,
    password: str,
    active: bool,
) -> None:
    accounts.create("user@example.com", is_active=active)
    response = login(client, email, password)
    error = error_of(response, 401, "BAD_CREDENTIALS")
    assert error["message"] == "Bad email or password"
    assert error["type"] == "authentication_error"
    failures = audit_entries(session, "user.login_failed")
    assert len(failures) == 1
    assert failures[0].details == {"email": email}
    assert failures[0].request_id == response.headers["X-Request-ID"]
    assert count(session, AuthSession) == 0


@pytest.mark.parametrize(
    "stored_hash",
    ["pbkdf2:sha256:600000$salt$0123abcd", "", "$2b$10$truncated"],
    ids=["werkzeug-hash", "empty", "truncated-bcrypt"],
)
def test_login_account_with_unusable_hash_401(
    lenient_client: TestClient, session: Session, user: User, stored_hash: str
) -> None:
    # e.g. an account imported with another scheme's hash: a refusal, never a 500.
    user.password_hash = stored_hash
    session.commit()
    error = error_of(login(lenient_client, user.email), 401, "BAD_CREDENTIALS")
    assert error["message"] == "Bad email or password"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "user@example.com", "password": PASSWORD, "remember": True}, "body.remember"),
        ({"email": "user@example.com"}, "body.password"),
        ({"password": PASSWORD}, "body.email"),
        ({"email": "user@example.com", "password": 12345678}, "body.password"),
        ({"email": ["user@example.com"], "password": PASSWORD}, "body.email"),
        ([], "body"),
    ],
    ids=["unknown-key", "no-password", "no-email", "password-not-string", "email-not-string", "not-object"],
)
def test_login_invalid_body_422(client: TestClient, user: User, body: Any, field: str) -> None:
    error = error_of(client.post(LOGIN, json=body), 422, "VALIDATION_FAILED")
    assert error["type"] == "validation_error"
    assert field in [detail["field"] for detail in error["details"]]


def test_login_body_not_json_422(client: TestClient) -> None:
    response = client.post(LOGIN, content=b"email=a", headers={"Content-Type": "application/json"})
    error_of(response, 422, "VALIDATION_FAILED")


# --- profile ----------------------------------------------------------------------------------------


def test_profile_returns_user(client: TestClient, user: User, user_headers: dict[str, str]) -> None:
    response = client.get(PROFILE, headers=user_headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PROFILE_KEYS
    assert (body["id"], body["email"], body["role"], body["is_active"]) == (user.id, user.email, "user", True)


def test_profile_reads_role_from_database(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    user.role = Role.ANALYST.value
    session.commit()
    assert client.get(PROFILE, headers=user_headers).json()["role"] == "analyst"


@pytest.mark.parametrize(
    ("headers", "code", "message"),
    [
        ({}, "TOKEN_MISSING", "Missing Authorization Header"),
        (
            {"Authorization": "Basic dXNlcjpwYXNz"},
            "TOKEN_MISSING",
            "Missing 'Bearer' type in 'Authorization' header. Expected 'Authorization: Bearer <JWT>'",
        ),
        (
            {"Authorization": "Bearer a b"},
            "TOKEN_INVALID",
            "Bad Authorization header. Expected 'Authorization: Bearer <JWT>'",
        ),
        ({"Authorization": "Bearer garbage"}, "TOKEN_INVALID", "Not enough segments"),
    ],
    ids=["no-header", "basic", "two-parts", "garbage"],
)
@pytest.mark.parametrize(("method", "path"), [("GET", PROFILE), ("POST", LOGOUT)])
def test_bad_authorization_401(
    client: TestClient, method: str, path: str, headers: dict[str, str], code: str, message: str
) -> None:
    error = error_of(client.request(method, path, headers=headers), 401, code)
    assert error["message"] == message
    assert error["type"] == "authentication_error"


@pytest.mark.parametrize(("method", "path"), [("GET", PROFILE), ("POST", LOGOUT)])
def test_refresh_token_as_access_401(
    client: TestClient, accounts: Accounts, user: User, method: str, path: str
) -> None:
    pair = accounts.tokens(user)
    error = error_of(
        client.request(method, path, headers=bearer(pair.refresh.token)), 401, "TOKEN_WRONG_TYPE"
    )
    assert error["message"] == "Only non-refresh tokens are allowed"


# --- the envelope -----------------------------------------------------------------------------------


def test_error_request_id_echoes_client_request_id(client: TestClient) -> None:
    response = client.get(PROFILE, headers={"X-Request-ID": "client-req-42"})
    error = error_of(response, 401, "TOKEN_MISSING")
    assert error["request_id"] == "client-req-42"


def test_error_request_id_replaces_unsafe_client_request_id(client: TestClient) -> None:
    response = client.get(PROFILE, headers={"X-Request-ID": "bad id\twith spaces"})
    error = error_of(response, 401, "TOKEN_MISSING")
    assert error["request_id"] != "bad id\twith spaces"
    assert error["request_id"]


# --- refresh ----------------------------------------------------------------------------------------


def test_refresh_rotates_token_pair(client: TestClient, session: Session, user: User) -> None:
    first = login(client, user.email).json()
    response = client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert response.status_code == 200, response.text
    second = response.json()
    assert set(second) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert (second["token_type"], second["expires_in"]) == ("bearer", 900)
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert client.get(PROFILE, headers=bearer(second["access_token"])).json()["id"] == user.id
    # The new refresh token is the session's current one and rotates again.
    third = client.post(REFRESH, json={"refresh_token": second["refresh_token"]})
    assert third.status_code == 200
    # Rotation keeps the login session: still one, still open.
    session.expire_all()
    sessions = list(session.scalars(select(AuthSession)))
    assert len(sessions) == 1
    assert sessions[0].revoked_at is None


def test_refresh_reuse_revokes_whole_session(client: TestClient, session: Session, user: User) -> None:
    first = login(client, user.email).json()
    second = client.post(REFRESH, json={"refresh_token": first["refresh_token"]}).json()

    reuse = client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    error = error_of(reuse, 401, "TOKEN_REVOKED")
    assert error["message"] == "Token has been revoked"

    for access in (first["access_token"], second["access_token"]):
        error_of(client.get(PROFILE, headers=bearer(access)), 401, "TOKEN_REVOKED")
    error_of(client.post(REFRESH, json={"refresh_token": second["refresh_token"]}), 401, "TOKEN_REVOKED")

    entries = audit_entries(session, "user.token_reuse")
    assert len(entries) == 1
    assert entries[0].user_id == user.id
    assert entries[0].resource_type == "session"
    auth_session = session.scalars(select(AuthSession)).one()
    assert entries[0].resource_id == auth_session.id
    assert auth_session.revoked_at is not None


def test_refresh_reuse_leaves_other_sessions_open(client: TestClient, user: User) -> None:
    stolen = login(client, user.email).json()
    other = login(client, user.email).json()
    client.post(REFRESH, json={"refresh_token": stolen["refresh_token"]})
    error_of(client.post(REFRESH, json={"refresh_token": stolen["refresh_token"]}), 401, "TOKEN_REVOKED")
    assert client.get(PROFILE, headers=bearer(other["access_token"])).status_code == 200
    assert client.post(REFRESH, json={"refresh_token": other["refresh_token"]}).status_code == 200


def test_parallel_refresh_with_same_token_succeeds_at_most_once(
    lenient_client: TestClient, user: User
) -> None:
    # A stolen refresh token raced against its owner must not yield two live pairs.
    for _ in range(10):
        tokens = login(lenient_client, user.email).json()
        answers = in_parallel(
            8, partial(lenient_client.post, REFRESH, json={"refresh_token": tokens["refresh_token"]})
        )
        statuses = [answer.status_code for answer in answers]
        assert set(statuses) <= {200, 401}, statuses
        assert statuses.count(200) <= 1, statuses


def test_refresh_with_access_token_401(client: TestClient, user: User) -> None:
    tokens = login(client, user.email).json()
    error = error_of(
        client.post(REFRESH, json={"refresh_token": tokens["access_token"]}), 401, "TOKEN_WRONG_TYPE"
    )
    assert error["message"] == "Only refresh tokens are allowed"


def test_refresh_with_garbage_401(client: TestClient) -> None:
    error = error_of(client.post(REFRESH, json={"refresh_token": "garbage"}), 401, "TOKEN_INVALID")
    assert error["message"] == "Not enough segments"


@pytest.mark.parametrize(
    "body",
    [{}, {"refresh_token": ""}, {"refresh_token": 1}, {"refresh_token": "x", "access_token": "y"}, []],
    ids=["empty", "blank", "not-string", "unknown-key", "not-object"],
)
def test_refresh_invalid_body_422(client: TestClient, body: Any) -> None:
    error_of(client.post(REFRESH, json=body), 422, "VALIDATION_FAILED")


def test_refresh_after_logout_401(client: TestClient, user: User) -> None:
    tokens = login(client, user.email).json()
    assert client.post(LOGOUT, headers=bearer(tokens["access_token"])).status_code == 204
    error = error_of(
        client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]}), 401, "TOKEN_REVOKED"
    )
    assert error["message"] == "Token has been revoked"


# --- logout -----------------------------------------------------------------------------------------


def test_logout_revokes_token_and_session(client: TestClient, session: Session, user: User) -> None:
    tokens = login(client, user.email).json()
    response = client.post(LOGOUT, headers=bearer(tokens["access_token"]))
    assert response.status_code == 204
    assert response.content == b""

    error = error_of(client.get(PROFILE, headers=bearer(tokens["access_token"])), 401, "TOKEN_REVOKED")
    assert error["message"] == "Token has been revoked"
    error_of(client.post(LOGOUT, headers=bearer(tokens["access_token"])), 401, "TOKEN_REVOKED")

    assert count(session, RevokedToken) == 1
    assert session.scalars(select(AuthSession)).one().revoked_at is not None
    assert [entry.user_id for entry in audit_entries(session, "user.logout")] == [user.id]


def test_parallel_logout_with_same_token_never_500(lenient_client: TestClient, user: User) -> None:
    # A double-clicked or retried logout: one 204, the rest 401 revoked.
    for _ in range(10):
        tokens = login(lenient_client, user.email).json()
        answers = in_parallel(8, partial(lenient_client.post, LOGOUT, headers=bearer(tokens["access_token"])))
        statuses = sorted(answer.status_code for answer in answers)
        assert set(statuses) <= {204, 401}, statuses
        assert statuses.count(204) >= 1, statuses


def test_logout_leaves_other_sessions_open(client: TestClient, user: User) -> None:
    first = login(client, user.email).json()
    second = login(client, user.email).json()
    assert client.post(LOGOUT, headers=bearer(first["access_token"])).status_code == 204
    assert client.get(PROFILE, headers=bearer(second["access_token"])).status_code == 200
    assert client.post(REFRESH, json={"refresh_token": second["refresh_token"]}).status_code == 200


def test_logout_kills_access_tokens_refreshed_in_same_session(client: TestClient, user: User) -> None:
    first = login(client, user.email).json()
    second = client.post(REFRESH, json={"refresh_token": first["refresh_token"]}).json()
    assert client.post(LOGOUT, headers=bearer(first["access_token"])).status_code == 204
    error_of(client.get(PROFILE, headers=bearer(second["access_token"])), 401, "TOKEN_REVOKED")


# --- unknown paths and wrong methods ----------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/api/v1", "/api/v1/", "/api/v1/auth", "/api/v1/auth/login/x"]
)
def test_unknown_v1_path_json_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    error = error_of(response, 404, "NOT_FOUND")
    assert error["type"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", LOGIN, "POST"),
        ("GET", REFRESH, "POST"),
        ("GET", LOGOUT, "POST"),
        ("POST", PROFILE, "GET"),
        ("DELETE", "/api/v1/health", "GET"),
    ],
)
def test_wrong_method_on_v1_path_json_405(client: TestClient, method: str, path: str, allowed: str) -> None:
    response = client.request(method, path)
    error = error_of(response, 405, "METHOD_NOT_ALLOWED")
    assert error["type"] == "method_not_allowed"
    assert allowed in [m.strip() for m in response.headers["Allow"].split(",")]


# --- OpenAPI ----------------------------------------------------------------------------------------


def test_openapi_lists_auth_routes_with_bearer_scheme(client: TestClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    schemes = spec["components"]["securitySchemes"]
    bearer_names = [name for name, s in schemes.items() if s["type"] == "http" and s["scheme"] == "bearer"]
    assert len(bearer_names) == 1
    name = bearer_names[0]

    paths = spec["paths"]
    assert set(paths[LOGIN]) == {"post"}
    assert set(paths[REFRESH]) == {"post"}
    assert set(paths[LOGOUT]) == {"post"}
    assert set(paths[PROFILE]) == {"get", "put"}
    # Sign-in is public, refresh takes its token in the body or as a bearer token (optional);
    # logout and profile need the bearer token.
    assert paths[LOGIN]["post"]["security"] == []
    assert paths[REFRESH]["post"]["security"] == [{}, {"HTTPBearer": []}]
    assert paths[LOGOUT]["post"]["security"] == [{name: []}]
    assert paths[PROFILE]["get"]["security"] == [{name: []}]
    assert "401" in paths[PROFILE]["get"]["responses"]
