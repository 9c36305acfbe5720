"""GET and PUT /api/users/me, GET /api/users and PUT /api/users/<id>/role: the legacy contract."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from datalab import tokens
from datalab.services import users
from datalab.settings import Settings
from shared_models import AuditLog, Role, User
from tests.helpers import (
    FORBIDDEN,
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

LOWER_ROLES = [Role.VIEWER, Role.USER, Role.ANALYST]
PROFILE = {
    "first_name": "Grace",
    "last_name": "Hopper",
    "department": "Research",
    "organization": "Navy",
    "timezone": "Europe/Paris",
    "language": "pt-BR",
}


def reload(session: Session, user: User) -> User:
    """Return `user` as the database holds it now."""
    session.expire_all()
    fresh = session.get(User, user.id)
    assert fresh is not None
    return fresh


def assert_revoked_everywhere(client: TestClient, access: str, refresh: str) -> None:
    """Check that both tokens of a login are refused on /api and /api/v1."""
    legacy = client.get("/api/users/me", headers=bearer(access))
    assert legacy.status_code == 401
    assert legacy.json() == REVOKED
    v1 = client.get("/api/v1/auth/profile", headers=bearer(access))
    assert v1.status_code == 401
    assert v1.json()["error"]["message"] == "Token has been revoked"
    renewed = client.post("/api/auth/refresh", headers=bearer(refresh))
    assert renewed.status_code == 401
    assert renewed.json() == REVOKED


def expired_access(settings: Settings, user: User, session_id: str) -> str:
    """Mint an access token for `user` whose expiry (plus leeway) has passed."""
    long_ago = datetime.now(UTC) - timedelta(
        seconds=settings.security.access_ttl + settings.security.jwt_leeway + 60
    )
    return tokens.issue_token(
        settings, user_id=user.id, kind="access", session_id=session_id, now=long_ago
    ).token


TokenMaker = Callable[[Settings, User, Any], dict[str, str]]

TOKEN_ERRORS: list[tuple[str, TokenMaker, int, str]] = [
    ("no-header", lambda s, u, pair: {}, 401, "Missing Authorization Header"),
    (
        "no-bearer",
        lambda s, u, pair: {"Authorization": f"Token {pair.access.token}"},
        401,
        "Missing 'Bearer' type in 'Authorization' header. Expected 'Authorization: Bearer <JWT>'",
    ),
    (
        "expired",
        lambda s, u, pair: bearer(expired_access(s, u, pair.session_id)),
        401,
        "Token has expired",
    ),
    (
        "bad-signature",
        lambda s, u, pair: bearer(
            jwt.encode(
                jwt.decode(pair.access.token, options={"verify_signature": False}),
                OTHER_SECRET,
                algorithm="HS256",
            )
        ),
        422,
        "Signature verification failed",
    ),
    (
        "refresh-token",
        lambda s, u, pair: bearer(pair.refresh.token),
        422,
        "Only non-refresh tokens are allowed",
    ),
]


# --- GET /api/users/me --------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_read_me_200(client: TestClient, accounts: Accounts, role: Role) -> None:
    me = accounts.create("me@example.com", role)

    response = client.get("/api/users/me", headers=accounts.headers(me))

    assert response.status_code == 200
    data = response.json()
    assert set(data) == USER_KEYS
    assert data["id"] == me.id
    assert data["email"] == "me@example.com"
    assert data["role"] == role.value
    assert data["is_active"] is True
    assert data["timezone"] == "UTC"
    assert data["language"] == "en"
    assert ISO_UTC.fullmatch(data["last_login"])
    assert ISO_UTC.fullmatch(data["created_at"])
    assert me.password_hash not in response.text


def test_read_me_after_login_shows_last_login(client: TestClient, user: User) -> None:
    login = client.post("/api/auth/login", json={"email": "user@example.com", "password": PASSWORD})

    response = client.get("/api/users/me", headers=bearer(login.json()["access_token"]))

    assert ISO_UTC.fullmatch(response.json()["last_login"])
    assert response.json() == login.json()["user"]


@pytest.mark.parametrize(
    ("make_headers", "status", "message"),
    [row[1:] for row in TOKEN_ERRORS],
    ids=[row[0] for row in TOKEN_ERRORS],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/users/me"), ("PUT", "/api/users/me"), ("GET", "/api/users"), ("PUT", "/api/users/1/role")],
)
def test_users_routes_token_errors(
    client: TestClient,
    session: Session,
    accounts: Accounts,
    settings: Settings,
    admin: User,
    method: str,
    path: str,
    make_headers: TokenMaker,
    status: int,
    message: str,
) -> None:
    pair = accounts.tokens(admin)
    before = count(session, AuditLog)

    response = client.request(
        method, path, headers=make_headers(settings, admin, pair), json={"role": "viewer", "first_name": "X"}
    )

    assert response.status_code == status
    assert response.json() == {"msg": message}
    assert count(session, AuditLog) == before
    assert reload(session, admin).first_name is None


# --- PUT /api/users/me --------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_update_me_changes_every_profile_field_200(
    client: TestClient, session: Session, accounts: Accounts, role: Role
) -> None:
    me = accounts.create("me@example.com", role)
    # One login for both requests: a second one would move last_login between them.
    headers = accounts.headers(me)

    response = client.put("/api/users/me", json=PROFILE, headers=headers)

    assert response.status_code == 200
    data = response.json()
    assert set(data) == USER_KEYS
    assert {k: data[k] for k in PROFILE} == PROFILE
    assert data["id"] == me.id
    assert data["email"] == "me@example.com"
    assert data["role"] == role.value
    stored = reload(session, me)
    assert {k: getattr(stored, k) for k in PROFILE} == PROFILE
    assert client.get("/api/users/me", headers=headers).json() == data


def test_update_me_partial_keeps_other_fields_200(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    client.put("/api/users/me", json=PROFILE, headers=user_headers)

    response = client.put("/api/users/me", json={"department": "Sales"}, headers=user_headers)

    assert response.status_code == 200
    assert response.json() == {**response.json(), **PROFILE, "department": "Sales"}
    assert reload(session, user).first_name == "Grace"


def test_update_me_keeps_names_as_sent_200(client: TestClient, user_headers: dict[str, str]) -> None:
    response = client.put("/api/users/me", json={"first_name": "  Ada  "}, headers=user_headers)

    assert response.status_code == 200
    assert response.json()["first_name"] == "  Ada  "


def test_update_me_clears_name_with_null_200(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    client.put("/api/users/me", json={"first_name": "Ada"}, headers=user_headers)

    response = client.put("/api/users/me", json={"first_name": None}, headers=user_headers)

    assert response.status_code == 200
    assert response.json()["first_name"] is None
    assert reload(session, user).first_name is None


@pytest.mark.parametrize("timezone", ["UTC", "America/Sao_Paulo", "Asia/Kolkata"])
def test_update_me_accepts_iana_timezones_200(
    client: TestClient, user_headers: dict[str, str], timezone: str
) -> None:
    response = client.put("/api/users/me", json={"timezone": timezone}, headers=user_headers)

    assert response.status_code == 200
    assert response.json()["timezone"] == timezone


@pytest.mark.parametrize("language", ["en", "fr", "pt-BR", "zh-Hant-TW"])
def test_update_me_accepts_language_tags_200(
    client: TestClient, user_headers: dict[str, str], language: str
) -> None:
    response = client.put("/api/users/me", json={"language": language}, headers=user_headers)

    assert response.status_code == 200
    assert response.json()["language"] == language


def test_update_me_audits_user_update(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    response = client.put(
        "/api/users/me", json={"timezone": "Europe/Paris", "first_name": "Ada"}, headers=user_headers
    )

    [entry] = audit_entries(session, "user.update")
    assert entry.user_id == user.id
    assert entry.resource_type == "user"
    assert entry.resource_id == str(user.id)
    assert entry.details == {"fields": ["first_name", "timezone"]}
    assert entry.ip_address == "testclient"
    assert entry.request_id == response.headers["X-Request-ID"]


@pytest.mark.parametrize(
    "key",
    ["role", "email", "is_active", "id", "password", "password_hash", "last_login", "created_at", "nickname"],
)
def test_update_me_other_key_400(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str], key: str
) -> None:
    value: Any = {"role": "admin", "is_active": False, "id": 999, "email": "evil@example.com"}.get(key, "x")

    before = count(session, AuditLog)
    response = client.put("/api/users/me", json={"first_name": "Mallory", key: value}, headers=user_headers)

    assert response.status_code == 400
    assert response.json()["msg"].startswith(f"{key}: ")
    stored = reload(session, user)
    assert stored.first_name is None
    assert stored.role == "user"
    assert stored.email == "user@example.com"
    assert stored.is_active is True
    assert count(session, AuditLog) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "europe/paris"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": 2}, "timezone"),
        ({"timezone": None}, "timezone"),
        ({"language": "english"}, "language"),
        ({"language": "EN"}, "language"),
        ({"language": "pt_BR"}, "language"),
        ({"language": ""}, "language"),
        ({"language": None}, "language"),
        ({"first_name": "x" * 101}, "first_name"),
        ({"first_name": 42}, "first_name"),
        ({"last_name": ["Hopper"]}, "last_name"),
        ({"department": "R\x00D"}, "department"),
        ({"organization": "o" * 101}, "organization"),
    ],
    ids=[
        "unknown-timezone",
        "lowercase-timezone",
        "empty-timezone",
        "number-timezone",
        "null-timezone",
        "word-language",
        "uppercase-language",
        "underscore-language",
        "empty-language",
        "null-language",
        "long-first-name",
        "number-first-name",
        "list-last-name",
        "nul-department",
        "long-organization",
    ],
)
def test_update_me_invalid_value_400(
    client: TestClient,
    session: Session,
    user: User,
    user_headers: dict[str, str],
    body: dict[str, Any],
    field: str,
) -> None:
    before = count(session, AuditLog)
    response = client.put("/api/users/me", json=body, headers=user_headers)

    assert response.status_code == 400
    assert set(response.json()) == {"msg"}
    assert response.json()["msg"].startswith(f"{field}: ")
    stored = reload(session, user)
    assert stored.timezone == "UTC"
    assert stored.language == "en"
    assert stored.first_name is None
    assert count(session, AuditLog) == before


@pytest.mark.parametrize(
    "content", ["[]", '"Ada"', "null", "nope"], ids=["list", "string", "null", "garbage"]
)
def test_update_me_body_not_object_400(
    client: TestClient, session: Session, user_headers: dict[str, str], content: str
) -> None:
    headers = {**user_headers, "Content-Type": "application/json"}

    before = count(session, AuditLog)
    response = client.put("/api/users/me", content=content, headers=headers)

    assert response.status_code == 400
    assert response.json() == NOT_AN_OBJECT
    assert count(session, AuditLog) == before


# --- GET /api/users -----------------------------------------------------------------------------


def test_list_users_admin_200(
    client: TestClient, accounts: Accounts, admin: User, admin_headers: dict[str, str]
) -> None:
    others = [accounts.create(f"u{i}@example.com", Role.USER) for i in range(3)]

    response = client.get("/api/users", headers=admin_headers)

    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"users", "total", "page", "per_page"}
    assert data["total"] == 4
    assert data["page"] == 1
    assert data["per_page"] == 20
    assert [u["id"] for u in data["users"]] == [admin.id, *(u.id for u in others)]
    for item in data["users"]:
        assert set(item) == USER_KEYS
    assert data["users"][1]["email"] == "u0@example.com"
    assert "password_hash" not in response.text
    assert admin.password_hash not in response.text


def test_list_users_pages_200(
    client: TestClient, accounts: Accounts, admin: User, admin_headers: dict[str, str]
) -> None:
    others = [accounts.create(f"u{i}@example.com", Role.USER) for i in range(4)]

    second = client.get("/api/users?page=2&per_page=2", headers=admin_headers)
    last = client.get("/api/users?page=3&per_page=2", headers=admin_headers)
    beyond = client.get("/api/users?page=9&per_page=2", headers=admin_headers)

    assert second.status_code == 200
    assert second.json()["total"] == 5
    assert second.json()["page"] == 2
    assert second.json()["per_page"] == 2
    assert [u["id"] for u in second.json()["users"]] == [others[1].id, others[2].id]
    assert [u["id"] for u in last.json()["users"]] == [others[3].id]
    assert beyond.status_code == 200
    assert beyond.json() == {"users": [], "total": 5, "page": 9, "per_page": 2}


@pytest.mark.parametrize("per_page", ["1", "100"])
def test_list_users_per_page_bounds_200(
    client: TestClient, admin_headers: dict[str, str], per_page: str
) -> None:
    response = client.get(f"/api/users?per_page={per_page}", headers=admin_headers)

    assert response.status_code == 200
    assert response.json()["per_page"] == int(per_page)
    assert len(response.json()["users"]) == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("per_page=-1", "per_page"),
        ("per_page=abc", "per_page"),
        ("per_page=2.5", "per_page"),
        ("per_page=", "per_page"),
        ("page=0", "page"),
        ("page=-2", "page"),
        ("page=one", "page"),
    ],
)
def test_list_users_bad_paging_400(
    client: TestClient, admin_headers: dict[str, str], query: str, field: str
) -> None:
    response = client.get(f"/api/users?{query}", headers=admin_headers)

    assert response.status_code == 400
    assert response.json()["msg"].startswith(f"{field}: ")


@pytest.mark.parametrize("role", LOWER_ROLES)
def test_list_users_non_admin_403(client: TestClient, accounts: Accounts, role: Role) -> None:
    caller = accounts.create("caller@example.com", role)

    response = client.get("/api/users", headers=accounts.headers(caller))

    assert response.status_code == 403
    assert response.json() == FORBIDDEN


def test_list_users_role_is_read_from_database(
    client: TestClient, session: Session, accounts: Accounts, user: User
) -> None:
    headers = accounts.headers(user)
    assert client.get("/api/users", headers=headers).status_code == 403

    user.role = Role.ADMIN.value
    session.commit()

    assert client.get("/api/users", headers=headers).status_code == 200


# --- PUT /api/users/<id>/role -------------------------------------------------------------------


@pytest.mark.parametrize("new_role", list(Role))
def test_change_role_200(
    client: TestClient,
    session: Session,
    accounts: Accounts,
    admin_headers: dict[str, str],
    new_role: Role,
) -> None:
    target = accounts.create("target@example.com", Role.VIEWER if new_role != Role.VIEWER else Role.USER)

    response = client.put(
        f"/api/users/{target.id}/role", json={"role": new_role.value}, headers=admin_headers
    )

    assert response.status_code == 200
    data = response.json()
    assert set(data) == USER_KEYS
    assert data["id"] == target.id
    assert data["email"] == "target@example.com"
    assert data["role"] == new_role.value
    assert reload(session, target).role == new_role.value


def test_change_role_audits_old_and_new_role(
    client: TestClient, session: Session, accounts: Accounts, admin: User, admin_headers: dict[str, str]
) -> None:
    target = accounts.create("target@example.com", Role.USER)

    response = client.put(f"/api/users/{target.id}/role", json={"role": "analyst"}, headers=admin_headers)

    [entry] = audit_entries(session, "user.role_change")
    assert entry.user_id == admin.id
    assert entry.resource_type == "user"
    assert entry.resource_id == str(target.id)
    assert entry.details == {"old_role": "user", "new_role": "analyst"}
    assert entry.ip_address == "testclient"
    assert entry.request_id == response.headers["X-Request-ID"]


def test_change_role_revokes_target_tokens_401(
    client: TestClient, accounts: Accounts, admin: User, admin_headers: dict[str, str]
) -> None:
    target = accounts.create("target@example.com", Role.USER)
    first, second = accounts.tokens(target), accounts.tokens(target)
    assert client.get("/api/users/me", headers=bearer(first.access.token)).status_code == 200

    client.put(f"/api/users/{target.id}/role", json={"role": "analyst"}, headers=admin_headers)

    assert_revoked_everywhere(client, first.access.token, first.refresh.token)
    assert_revoked_everywhere(client, second.access.token, second.refresh.token)
    assert client.get("/api/users/me", headers=admin_headers).status_code == 200


def test_change_role_then_fresh_login_has_new_role_200(
    client: TestClient, accounts: Accounts, admin_headers: dict[str, str]
) -> None:
    target = accounts.create("target@example.com", Role.USER)
    client.put(f"/api/users/{target.id}/role", json={"role": "admin"}, headers=admin_headers)

    login = client.post("/api/auth/login", json={"email": "target@example.com", "password": PASSWORD})

    assert login.status_code == 200
    assert login.json()["user"]["role"] == "admin"
    listing = client.get("/api/users", headers=bearer(login.json()["access_token"]))
    assert listing.status_code == 200


def test_change_role_demoted_admin_loses_access(
    client: TestClient, accounts: Accounts, admin_headers: dict[str, str]
) -> None:
    other = accounts.create("other-admin@example.com", Role.ADMIN)
    client.put(f"/api/users/{other.id}/role", json={"role": "viewer"}, headers=admin_headers)

    login = client.post("/api/auth/login", json={"email": "other-admin@example.com", "password": PASSWORD})
    response = client.get("/api/users", headers=bearer(login.json()["access_token"]))

    assert response.status_code == 403
    assert response.json() == FORBIDDEN


@pytest.mark.parametrize(
    "body",
    [{"role": "superuser"}, {"role": ""}, {"role": 4}, {"role": None}, {"role": ["admin"]}, {}],
    ids=["unknown", "empty", "number", "null", "list", "missing"],
)
def test_change_role_invalid_role_400(
    client: TestClient,
    session: Session,
    accounts: Accounts,
    admin_headers: dict[str, str],
    body: dict[str, Any],
) -> None:
    target = accounts.create("target@example.com", Role.USER)
    target_headers = accounts.headers(target)

    before = count(session, AuditLog)
    response = client.put(f"/api/users/{target.id}/role", json=body, headers=admin_headers)

    assert response.status_code == 400
    assert response.json()["msg"].startswith("role: ")
    assert reload(session, target).role == "user"
    assert count(session, AuditLog) == before
    assert client.get("/api/users/me", headers=target_headers).status_code == 200


@pytest.mark.parametrize(
    "content", ["[]", '"admin"', "null", "nope"], ids=["list", "string", "null", "garbage"]
)
def test_change_role_body_not_object_400(
    client: TestClient, session: Session, accounts: Accounts, admin_headers: dict[str, str], content: str
) -> None:
    target = accounts.create("target@example.com", Role.USER)
    headers = {**admin_headers, "Content-Type": "application/json"}

    before = count(session, AuditLog)
    response = client.put(f"/api/users/{target.id}/role", content=content, headers=headers)

    assert response.status_code == 400
    assert response.json() == NOT_AN_OBJECT
    assert reload(session, target).role == "user"
    assert count(session, AuditLog) == before


@pytest.mark.parametrize("user_id", ["999999", "0", str(2**31), str(10**20)])
def test_change_role_missing_user_404(
    client: TestClient, session: Session, admin_headers: dict[str, str], user_id: str
) -> None:
    before = count(session, AuditLog)
    response = client.put(f"/api/users/{user_id}/role", json={"role": "analyst"}, headers=admin_headers)

    assert response.status_code == 404
    assert response.json() == {"msg": "User not found"}
    assert count(session, AuditLog) == before


def test_change_role_own_role_403(
    client: TestClient, session: Session, admin: User, admin_headers: dict[str, str]
) -> None:
    before = count(session, AuditLog)
    response = client.put(f"/api/users/{admin.id}/role", json={"role": "viewer"}, headers=admin_headers)

    assert response.status_code == 403
    assert response.json() == {"msg": "You cannot change your own role"}
    assert reload(session, admin).role == "admin"
    assert count(session, AuditLog) == before
    assert client.get("/api/users", headers=admin_headers).status_code == 200


@pytest.mark.parametrize("role", LOWER_ROLES)
def test_change_role_non_admin_403(
    client: TestClient, session: Session, accounts: Accounts, role: Role
) -> None:
    caller = accounts.create("caller@example.com", role)
    target = accounts.create("target@example.com", Role.VIEWER)
    headers = accounts.headers(caller)

    before = count(session, AuditLog)
    response = client.put(f"/api/users/{target.id}/role", json={"role": "admin"}, headers=headers)
    own = client.put(f"/api/users/{caller.id}/role", json={"role": "admin"}, headers=headers)

    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert own.status_code == 403
    assert own.json() == FORBIDDEN
    assert reload(session, target).role == "viewer"
    assert reload(session, caller).role == role.value
    assert count(session, AuditLog) == before


# --- deactivation -------------------------------------------------------------------------------


def test_deactivation_revokes_earlier_tokens_401(
    client: TestClient, session: Session, accounts: Accounts, user: User
) -> None:
    pair = accounts.tokens(user)
    assert client.get("/api/users/me", headers=bearer(pair.access.token)).status_code == 200

    users.set_active(session, actor=None, user_id=user.id, active=False)
    session.commit()

    assert_revoked_everywhere(client, pair.access.token, pair.refresh.token)
    update = client.put("/api/users/me", json={"first_name": "Ghost"}, headers=bearer(pair.access.token))
    assert update.status_code == 401
    assert update.json() == REVOKED


def test_deactivated_user_fresh_login_401(client: TestClient, session: Session, user: User) -> None:
    users.set_active(session, actor=None, user_id=user.id, active=False)
    session.commit()

    response = client.post("/api/auth/login", json={"email": "user@example.com", "password": PASSWORD})

    assert response.status_code == 401
    assert response.json() == {"msg": "Bad email or password"}


def test_inactive_flag_is_read_from_database_401(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    user.is_active = False
    session.commit()

    response = client.get("/api/users/me", headers=user_headers)

    assert response.status_code == 401
    assert response.json() == REVOKED


def test_reactivated_user_can_log_in_again_200(client: TestClient, session: Session, user: User) -> None:
    users.set_active(session, actor=None, user_id=user.id, active=False)
    session.commit()
    users.set_active(session, actor=None, user_id=user.id, active=True)
    session.commit()

    response = client.post("/api/auth/login", json={"email": "user@example.com", "password": PASSWORD})

    assert response.status_code == 200
    assert response.json()["user"]["is_active"] is True


def test_list_users_shows_deactivated_user(
    client: TestClient, session: Session, user: User, admin_headers: dict[str, str]
) -> None:
    users.set_active(session, actor=None, user_id=user.id, active=False)
    session.commit()

    response = client.get("/api/users", headers=admin_headers)

    listed = {u["id"]: u for u in response.json()["users"]}
    assert listed[user.id]["is_active"] is False
