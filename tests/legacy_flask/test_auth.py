"""POST /api/auth/register, /login, /refresh and /logout: the legacy contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from datalab import tokens
from datalab.settings import Settings
from shared_models import AuditLog, AuthSession, RevokedToken, Role, User
from tests.helpers import (
    ISO_UTC,
    NOT_AN_OBJECT,
    OTHER_SECRET,
    PASSWORD,
    REVOKED,
    USER_KEYS,
    Accounts,
    audit_entries,
    bearer,
    count,
)

BAD_CREDENTIALS = {"msg": "Bad email or password"}
NEW_PASSWORD = "Brand-New-Pass-7"


def audit_text(session: Session) -> str:
    """Return every audit row as one string, to look for leaked secrets."""
    session.expire_all()
    rows = session.scalars(select(AuditLog)).all()
    return json.dumps(
        [[r.action, r.resource_type, r.resource_id, r.details, r.ip_address, r.request_id] for r in rows]
    )


def assert_stamped(entry: AuditLog, response: Response) -> None:
    """Check that an audit entry names the client IP and the response's request id."""
    assert entry.ip_address == "testclient"
    assert entry.request_id == response.headers["X-Request-ID"]


def post_json(client: TestClient, path: str, body: dict[str, Any]) -> Response:
    """Post `body` as ASCII-escaped JSON, so even lone surrogates reach the server."""
    return client.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"})


def login(client: TestClient, email: str, password: str = PASSWORD) -> Response:
    """Post credentials to the legacy login route."""
    return post_json(client, "/api/auth/login", {"email": email, "password": password})


def signed_with_other_secret(token: str) -> str:
    """Return `token`'s claims signed with a secret the server does not know."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode(claims, OTHER_SECRET, algorithm="HS256")


def expired_token(settings: Settings, user: User, kind: tokens.TokenType, session_id: str) -> str:
    """Mint a token for `user` whose expiry (plus leeway) has passed."""
    ttl = settings.security.access_ttl if kind == "access" else settings.security.refresh_ttl
    long_ago = datetime.now(UTC) - timedelta(seconds=ttl + settings.security.jwt_leeway + 60)
    return tokens.issue_token(settings, user_id=user.id, kind=kind, session_id=session_id, now=long_ago).token


# --- register -----------------------------------------------------------------------------------


def test_register_creates_user_201(client: TestClient, session: Session) -> None:
    body = {"email": "Ada.Lovelace@Example.COM", "password": PASSWORD, "first_name": "Ada", "last_name": "L"}
    response = client.post("/api/auth/register", json=body)

    assert response.status_code == 201
    data = response.json()
    assert set(data) == USER_KEYS
    assert isinstance(data["id"], int)
    assert data["email"] == "ada.lovelace@example.com"
    assert data["first_name"] == "Ada"
    assert data["last_name"] == "L"
    assert data["role"] == "user"
    assert data["is_active"] is True
    assert data["department"] is None
    assert data["organization"] is None
    assert data["timezone"] == "UTC"
    assert data["language"] == "en"
    assert data["last_login"] is None
    assert ISO_UTC.fullmatch(data["created_at"])
    stored = session.get(User, data["id"])
    assert stored is not None
    assert stored.email == "ada.lovelace@example.com"
    assert stored.password_hash != PASSWORD
    assert PASSWORD not in response.text
    assert stored.password_hash not in response.text


def test_register_then_login_with_new_password_200(client: TestClient) -> None:
    client.post("/api/auth/register", json={"email": "new@example.com", "password": NEW_PASSWORD})

    response = login(client, "NEW@example.com", NEW_PASSWORD)

    assert response.status_code == 200
    assert response.json()["user"]["email"] == "new@example.com"


def test_register_without_names_201(client: TestClient) -> None:
    response = client.post("/api/auth/register", json={"email": "plain@example.com", "password": PASSWORD})

    assert response.status_code == 201
    assert response.json()["first_name"] is None
    assert response.json()["last_name"] is None


def test_register_ignores_unknown_keys_and_never_sets_role(client: TestClient, session: Session) -> None:
    body = {
        "email": "sneaky@example.com",
        "password": PASSWORD,
        "role": "admin",
        "is_active": False,
        "id": 4242,
        "department": "Ops",
        "password_hash": "x",
    }
    response = client.post("/api/auth/register", json=body)

    assert response.status_code == 201
    data = response.json()
    assert data["role"] == "user"
    assert data["is_active"] is True
    assert data["id"] != 4242
    assert data["department"] is None
    stored = session.get(User, data["id"])
    assert stored is not None
    assert stored.role == "user"
    assert stored.password_hash != "x"


@pytest.mark.parametrize(
    "password",
    ["Abcdefg1", "Aa1" + "b" * 69, "Aa1 !~{}@#$%^&*()"],
    ids=["8-chars", "72-chars", "printable-punctuation"],
)
def test_register_password_at_policy_edges_201(client: TestClient, password: str) -> None:
    response = client.post("/api/auth/register", json={"email": "edge@example.com", "password": password})

    assert response.status_code == 201
    assert login(client, "edge@example.com", password).status_code == 200


@pytest.mark.parametrize(
    "password",
    ["Pässwörd9", "Aa1" + "é" * 10, "Aa1bcdefg\u00a0", "Aa1bcdefg\t"],
    ids=["non-ascii", "multibyte", "no-break-space", "tab"],
)
def test_register_password_outside_printable_ascii_400(
    client: TestClient, session: Session, password: str
) -> None:
    response = client.post("/api/auth/register", json={"email": "new@example.com", "password": password})

    assert response.status_code == 400
    assert response.json()["msg"].startswith("password: must be 8 to 72 printable ASCII characters")
    assert count(session, User) == 0


def test_register_email_with_surrounding_spaces_400(client: TestClient, session: Session) -> None:
    response = client.post("/api/auth/register", json={"email": " new@example.com ", "password": PASSWORD})

    assert response.status_code == 400
    assert response.json() == {"msg": "email: must be a valid email address"}
    assert count(session, User) == 0


def test_register_audits_user_register(client: TestClient, session: Session) -> None:
    response = client.post(
        "/api/auth/register",
        json={"email": "audited@example.com", "password": PASSWORD},
        headers={"X-Request-ID": "register-req-1"},
    )

    assert response.headers["X-Request-ID"] == "register-req-1"
    [entry] = audit_entries(session, "user.register")
    user_id = response.json()["id"]
    assert entry.user_id == user_id
    assert entry.resource_type == "user"
    assert entry.resource_id == str(user_id)
    assert entry.request_id == "register-req-1"
    assert_stamped(entry, response)
    stored = session.get(User, user_id)
    assert stored is not None
    leaked = audit_text(session)
    assert PASSWORD not in leaked
    assert stored.password_hash not in leaked


@pytest.mark.parametrize("sent", ["bad id with spaces", "x" * 65, ""], ids=["spaces", "too-long", "empty"])
def test_register_replaces_unusable_request_id(client: TestClient, session: Session, sent: str) -> None:
    response = client.post(
        "/api/auth/register",
        json={"email": "audited@example.com", "password": PASSWORD},
        headers={"X-Request-ID": sent},
    )

    assert response.status_code == 201
    assert response.headers["X-Request-ID"] not in ("", sent)
    [entry] = audit_entries(session, "user.register")
    assert entry.request_id == response.headers["X-Request-ID"]


@pytest.mark.parametrize(
    "email",
    ["user@example.com", "USER@EXAMPLE.COM", "User@Example.Com"],
)
def test_register_duplicate_email_409(client: TestClient, session: Session, user: User, email: str) -> None:
    response = client.post("/api/auth/register", json={"email": email, "password": PASSWORD})

    assert response.status_code == 409
    assert response.json() == {"msg": "Email already registered"}
    assert count(session, User) == 1
    assert count(session, AuditLog) == 0


@pytest.mark.parametrize(
    "password",
    [
        "Short1A",
        "alllowercase1",
        "ALLUPPERCASE1",
        "NoDigitsHere",
        "12345678901",
        "Aa1" + "b" * 70,
        "Aa1" + "é" * 35,
        "Abcdefg1\x00",
        "Abcdefg1\ud800",
        "",
    ],
    ids=[
        "7-bytes",
        "no-upper",
        "no-lower",
        "no-digit",
        "digits-only",
        "73-bytes",
        "73-bytes-multibyte",
        "nul",
        "lone-surrogate",
        "empty",
    ],
)
def test_register_weak_password_400(client: TestClient, session: Session, password: str) -> None:
    response = post_json(client, "/api/auth/register", {"email": "weak@example.com", "password": password})

    assert response.status_code == 400
    assert set(response.json()) == {"msg"}
    assert response.json()["msg"].startswith("password: ")
    assert count(session, User) == 0
    assert count(session, AuditLog) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD}, "email"),
        ({"email": "a@example.com"}, "password"),
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "", "password": PASSWORD}, "email"),
        ({"email": 123, "password": PASSWORD}, "email"),
        ({"email": None, "password": PASSWORD}, "email"),
        ({"email": "a@example.com", "password": 12345678}, "password"),
        ({"email": "a@example.com", "password": ["Abcdefg1"]}, "password"),
        ({"email": "a@example.com", "password": PASSWORD, "first_name": "x" * 101}, "first_name"),
        ({"email": "a@example.com", "password": PASSWORD, "first_name": "A\x00da"}, "first_name"),
        ({"email": "a@example.com", "password": PASSWORD, "last_name": 7}, "last_name"),
    ],
    ids=[
        "missing-email",
        "missing-password",
        "malformed-email",
        "empty-email",
        "number-email",
        "null-email",
        "number-password",
        "list-password",
        "long-first-name",
        "nul-first-name",
        "number-last-name",
    ],
)
def test_register_invalid_input_400(
    client: TestClient, session: Session, body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/auth/register", json=body)

    assert response.status_code == 400
    assert set(response.json()) == {"msg"}
    assert response.json()["msg"].startswith(f"{field}: ")
    assert count(session, User) == 0
    assert count(session, AuditLog) == 0


@pytest.mark.parametrize(
    "content",
    ["[]", '"a string"', "null", "42", "not json", "", '{"email": '],
    ids=["list", "string", "null", "number", "garbage", "empty", "truncated"],
)
@pytest.mark.parametrize("route", ["/api/auth/register", "/api/auth/login"])
def test_auth_body_not_object_400(client: TestClient, session: Session, route: str, content: str) -> None:
    response = client.post(route, content=content, headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json() == NOT_AN_OBJECT
    assert count(session, User) == 0
    assert count(session, AuditLog) == 0


# --- login --------------------------------------------------------------------------------------


def test_login_returns_tokens_and_user_200(
    client: TestClient, session: Session, settings: Settings, user: User
) -> None:
    response = login(client, "user@example.com")

    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"access_token", "refresh_token", "user"}
    assert set(data["user"]) == USER_KEYS
    assert data["user"]["id"] == user.id
    assert data["user"]["email"] == "user@example.com"
    assert data["user"]["role"] == "user"
    assert ISO_UTC.fullmatch(data["user"]["last_login"])
    access = jwt.decode(data["access_token"], settings.security.jwt_secret, algorithms=["HS256"])
    refresh = jwt.decode(data["refresh_token"], settings.security.jwt_secret, algorithms=["HS256"])
    assert access["type"] == "access"
    assert access["fresh"] is True
    assert access["sub"] == str(user.id)
    assert refresh["type"] == "refresh"
    assert refresh["sub"] == str(user.id)
    assert access["sid"] == refresh["sid"]
    assert {"iat", "nbf", "exp", "jti"} <= set(access)
    assert PASSWORD not in response.text
    assert user.password_hash not in response.text
    assert count(session, AuthSession) == 1


def test_login_access_token_works_on_both_apis_200(client: TestClient, user: User) -> None:
    token = login(client, "user@example.com").json()["access_token"]

    legacy = client.get("/api/users/me", headers=bearer(token))
    v1 = client.get("/api/v1/auth/profile", headers=bearer(token))

    assert legacy.status_code == 200
    assert legacy.json()["id"] == user.id
    assert v1.status_code == 200
    assert v1.json()["id"] == user.id


def test_login_email_is_case_insensitive_200(client: TestClient, user: User) -> None:
    response = login(client, "  USER@Example.COM ")

    assert response.status_code == 200
    assert response.json()["user"]["id"] == user.id


def test_login_sets_last_login(client: TestClient, session: Session, user: User) -> None:
    assert user.last_login is None

    response = login(client, "user@example.com")

    session.expire_all()
    stored = session.get(User, user.id)
    assert stored is not None
    assert stored.last_login is not None
    assert response.json()["user"]["last_login"] == stored.last_login.isoformat(timespec="seconds")


def test_login_audits_user_login(client: TestClient, session: Session, user: User) -> None:
    response = login(client, "user@example.com")

    [entry] = audit_entries(session, "user.login")
    assert entry.user_id == user.id
    assert entry.resource_type == "user"
    assert entry.resource_id == str(user.id)
    assert_stamped(entry, response)
    leaked = audit_text(session)
    body = response.json()
    for secret in (PASSWORD, user.password_hash, body["access_token"], body["refresh_token"]):
        assert secret not in leaked


def test_login_wrong_password_401(client: TestClient, session: Session, user: User) -> None:
    response = login(client, "user@example.com", "Wrong-Password-1")

    assert response.status_code == 401
    assert response.json() == BAD_CREDENTIALS
    assert count(session, AuthSession) == 0
    [entry] = audit_entries(session, "user.login_failed")
    assert entry.user_id == user.id
    assert entry.details == {"email": "user@example.com"}
    assert_stamped(entry, response)
    assert "Wrong-Password-1" not in audit_text(session)
    assert audit_entries(session, "user.login") == []


def test_login_unknown_email_401(client: TestClient, session: Session, user: User) -> None:
    response = login(client, "nobody@example.com")

    assert response.status_code == 401
    assert response.json() == BAD_CREDENTIALS
    assert count(session, AuthSession) == 0
    [entry] = audit_entries(session, "user.login_failed")
    assert entry.user_id is None
    assert entry.details == {"email": "nobody@example.com"}
    assert_stamped(entry, response)
    assert PASSWORD not in audit_text(session)


def test_login_inactive_account_401(client: TestClient, session: Session, accounts: Accounts) -> None:
    sleeper = accounts.create("sleeper@example.com", Role.USER, is_active=False)

    response = login(client, "sleeper@example.com")

    assert response.status_code == 401
    assert response.json() == BAD_CREDENTIALS
    assert count(session, AuthSession) == 0
    [entry] = audit_entries(session, "user.login_failed")
    assert entry.user_id == sleeper.id
    assert PASSWORD not in audit_text(session)


@pytest.mark.parametrize(
    "password",
    [
        PASSWORD + "x" * 60,
        "Aa1" + "b" * 200,
        PASSWORD + "\x00",
        "\x00",
        "Pass🔑word1",
        "🔑" * 19,
        "",
        "x" * 4096,
    ],
    ids=["73-bytes-prefix", "long", "nul-suffix", "nul", "emoji", "emoji-76-bytes", "empty", "4096"],
)
def test_login_odd_password_401(client: TestClient, session: Session, user: User, password: str) -> None:
    response = login(client, "user@example.com", password)

    assert response.status_code == 401
    assert response.json() == BAD_CREDENTIALS
    assert count(session, AuthSession) == 0
    assert len(audit_entries(session, "user.login_failed")) == 1


def test_login_password_longer_than_72_bytes_is_not_truncated_401(
    client: TestClient, accounts: Accounts
) -> None:
    # bcrypt reads only 72 bytes: a longer password sharing them must not sign in.
    seventy_two = "Aa1" + "b" * 69
    accounts.create("long@example.com", Role.USER, password=seventy_two)

    assert login(client, "long@example.com", seventy_two).status_code == 200
    response = login(client, "long@example.com", seventy_two + "extra")

    assert response.status_code == 401
    assert response.json() == BAD_CREDENTIALS


def test_login_lone_surrogate_password_401(client: TestClient, session: Session, user: User) -> None:
    # No stored password can equal it: a wrong password like any other, never a 500.
    response = login(client, "user@example.com", PASSWORD + "\ud800")

    assert response.status_code == 401
    assert response.json() == BAD_CREDENTIALS
    assert count(session, AuthSession) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD}, "email"),
        ({"email": "user@example.com"}, "password"),
        ({"email": 5, "password": PASSWORD}, "email"),
        ({"email": "user@example.com", "password": None}, "password"),
        ({"email": "user@example.com", "password": 12345678}, "password"),
    ],
    ids=["missing-email", "missing-password", "number-email", "null-password", "number-password"],
)
def test_login_invalid_input_400(
    client: TestClient, session: Session, user: User, body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/auth/login", json=body)

    assert response.status_code == 400
    assert response.json()["msg"].startswith(f"{field}: ")
    assert count(session, AuthSession) == 0
    assert count(session, AuditLog) == 0


def test_login_twice_opens_two_independent_sessions(client: TestClient, session: Session, user: User) -> None:
    first = login(client, "user@example.com").json()
    second = login(client, "user@example.com").json()

    client.post("/api/auth/logout", headers=bearer(first["access_token"]))

    assert count(session, AuthSession) == 2
    assert client.get("/api/users/me", headers=bearer(second["access_token"])).status_code == 200
    assert client.post("/api/auth/refresh", headers=bearer(second["refresh_token"])).status_code == 200


# --- refresh ------------------------------------------------------------------------------------


def test_refresh_returns_new_access_token_200(client: TestClient, settings: Settings, user: User) -> None:
    pair = login(client, "user@example.com").json()

    response = client.post("/api/auth/refresh", headers=bearer(pair["refresh_token"]))

    assert response.status_code == 200
    assert set(response.json()) == {"access_token"}
    token = response.json()["access_token"]
    assert token != pair["access_token"]
    claims = jwt.decode(token, settings.security.jwt_secret, algorithms=["HS256"])
    first = jwt.decode(pair["access_token"], settings.security.jwt_secret, algorithms=["HS256"])
    assert claims["type"] == "access"
    assert claims["fresh"] is False
    assert claims["sub"] == str(user.id)
    assert claims["sid"] == first["sid"]
    me = client.get("/api/users/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["id"] == user.id


def test_refresh_token_can_be_used_again_200(client: TestClient, user: User) -> None:
    # Legacy clients keep their refresh token until it expires (flask-jwt-extended never rotated it).
    refresh = login(client, "user@example.com").json()["refresh_token"]

    first = client.post("/api/auth/refresh", headers=bearer(refresh))
    second = client.post("/api/auth/refresh", headers=bearer(refresh))

    assert first.status_code == 200
    assert second.status_code == 200
    assert client.get("/api/users/me", headers=bearer(second.json()["access_token"])).status_code == 200


def test_refresh_without_header_401(client: TestClient) -> None:
    response = client.post("/api/auth/refresh")

    assert response.status_code == 401
    assert response.json() == {"msg": "Missing Authorization Header"}


def test_refresh_with_access_token_422(client: TestClient, user: User) -> None:
    access = login(client, "user@example.com").json()["access_token"]

    response = client.post("/api/auth/refresh", headers=bearer(access))

    assert response.status_code == 422
    assert response.json() == {"msg": "Only refresh tokens are allowed"}


def test_refresh_expired_token_401(
    client: TestClient, accounts: Accounts, settings: Settings, user: User
) -> None:
    pair = accounts.tokens(user)

    response = client.post(
        "/api/auth/refresh", headers=bearer(expired_token(settings, user, "refresh", pair.session_id))
    )

    assert response.status_code == 401
    assert response.json() == {"msg": "Token has expired"}


def test_refresh_bad_signature_422(client: TestClient, accounts: Accounts, user: User) -> None:
    refresh = accounts.tokens(user).refresh.token

    response = client.post("/api/auth/refresh", headers=bearer(signed_with_other_secret(refresh)))

    assert response.status_code == 422
    assert response.json() == {"msg": "Signature verification failed"}


def test_refresh_after_logout_401(client: TestClient, user: User) -> None:
    pair = login(client, "user@example.com").json()
    client.post("/api/auth/logout", headers=bearer(pair["access_token"]))

    response = client.post("/api/auth/refresh", headers=bearer(pair["refresh_token"]))

    assert response.status_code == 401
    assert response.json() == REVOKED


# --- logout -------------------------------------------------------------------------------------


def test_logout_200(client: TestClient, session: Session, user: User) -> None:
    access = login(client, "user@example.com").json()["access_token"]

    response = client.post("/api/auth/logout", headers=bearer(access))

    assert response.status_code == 200
    assert response.json() == {"msg": "Successfully logged out"}
    assert count(session, RevokedToken) == 1
    [auth_session] = session.scalars(select(AuthSession)).all()
    assert auth_session.revoked_at is not None


def test_logout_revokes_the_token_on_both_apis_401(client: TestClient, user: User) -> None:
    access = login(client, "user@example.com").json()["access_token"]
    client.post("/api/auth/logout", headers=bearer(access))

    legacy = client.get("/api/users/me", headers=bearer(access))
    v1 = client.get("/api/v1/auth/profile", headers=bearer(access))
    again = client.post("/api/auth/logout", headers=bearer(access))

    assert legacy.status_code == 401
    assert legacy.json() == REVOKED
    assert v1.status_code == 401
    assert again.status_code == 401
    assert again.json() == REVOKED


def test_logout_ends_the_whole_login_session_401(client: TestClient, user: User) -> None:
    pair = login(client, "user@example.com").json()
    renewed = client.post("/api/auth/refresh", headers=bearer(pair["refresh_token"])).json()["access_token"]

    client.post("/api/auth/logout", headers=bearer(pair["access_token"]))

    response = client.get("/api/users/me", headers=bearer(renewed))
    assert response.status_code == 401
    assert response.json() == REVOKED


def test_logout_on_v1_revokes_on_legacy_401(client: TestClient, user: User) -> None:
    pair = login(client, "user@example.com").json()

    assert client.post("/api/v1/auth/logout", headers=bearer(pair["access_token"])).status_code == 204

    me = client.get("/api/users/me", headers=bearer(pair["access_token"]))
    assert me.status_code == 401
    assert me.json() == REVOKED
    renewed = client.post("/api/auth/refresh", headers=bearer(pair["refresh_token"]))
    assert renewed.status_code == 401
    assert renewed.json() == REVOKED


def test_logout_keeps_other_sessions(client: TestClient, accounts: Accounts, user: User) -> None:
    other = accounts.tokens(user)
    access = login(client, "user@example.com").json()["access_token"]

    client.post("/api/auth/logout", headers=bearer(access))

    assert client.get("/api/users/me", headers=bearer(other.access.token)).status_code == 200


def test_logout_audits_user_logout(client: TestClient, session: Session, user: User) -> None:
    pair = login(client, "user@example.com").json()

    response = client.post("/api/auth/logout", headers=bearer(pair["access_token"]))

    [entry] = audit_entries(session, "user.logout")
    assert entry.user_id == user.id
    assert_stamped(entry, response)
    leaked = audit_text(session)
    assert pair["access_token"] not in leaked
    assert pair["refresh_token"] not in leaked


def test_logout_without_header_401(client: TestClient, session: Session, user: User) -> None:
    response = client.post("/api/auth/logout")

    assert response.status_code == 401
    assert response.json() == {"msg": "Missing Authorization Header"}
    assert count(session, AuditLog) == 0


def test_logout_with_refresh_token_422(client: TestClient, session: Session, user: User) -> None:
    pair = login(client, "user@example.com").json()

    response = client.post("/api/auth/logout", headers=bearer(pair["refresh_token"]))

    assert response.status_code == 422
    assert response.json() == {"msg": "Only non-refresh tokens are allowed"}
    assert count(session, RevokedToken) == 0
    assert audit_entries(session, "user.logout") == []
    assert client.get("/api/users/me", headers=bearer(pair["access_token"])).status_code == 200


def test_logout_expired_token_401(
    client: TestClient, session: Session, accounts: Accounts, settings: Settings, user: User
) -> None:
    pair = accounts.tokens(user)

    response = client.post(
        "/api/auth/logout", headers=bearer(expired_token(settings, user, "access", pair.session_id))
    )

    assert response.status_code == 401
    assert response.json() == {"msg": "Token has expired"}
    assert count(session, RevokedToken) == 0


def test_logout_bad_signature_422(
    client: TestClient, session: Session, accounts: Accounts, user: User
) -> None:
    access = accounts.tokens(user).access.token

    response = client.post("/api/auth/logout", headers=bearer(signed_with_other_secret(access)))

    assert response.status_code == 422
    assert response.json() == {"msg": "Signature verification failed"}
    assert count(session, RevokedToken) == 0
    assert client.get("/api/users/me", headers=bearer(access)).status_code == 200
