"""GET /api/v1/users, GET and PATCH /api/v1/users/{id}: the admin's user management."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session

from shared_models import Role, User
from tests.helpers import PASSWORD, REVOKED, USER_KEYS, Accounts, audit_entries, bearer, error_of, fields_of

URL = "/api/v1/users"
V1_LOGIN = "/api/v1/auth/login"
V1_PROFILE = "/api/v1/auth/profile"
V1_REFRESH = "/api/v1/auth/refresh"
LEGACY_LOGIN = "/api/auth/login"
LEGACY_ME = "/api/users/me"
LEGACY_REFRESH = "/api/auth/refresh"
PAGE_KEYS = {"items", "total", "limit", "offset"}
NON_ADMINS = ["viewer_headers", "user_headers", "analyst_headers"]


def listing(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    """Return the 200 body of GET /api/v1/users with `params`."""
    response = client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == PAGE_KEYS
    return body


def emails(body: dict[str, Any]) -> list[str]:
    return [item["email"] for item in body["items"]]


def reload(session: Session, user: User) -> User:
    """Return `user` as the database holds it now."""
    session.expire_all()
    fresh = session.get(User, user.id)
    assert fresh is not None
    return fresh


def patch(client: TestClient, headers: dict[str, str], user_id: int | str, body: Any) -> Response:
    return client.patch(f"{URL}/{user_id}", json=body, headers=headers)


def login(client: TestClient, url: str, email: str) -> Response:
    return client.post(url, json={"email": email, "password": PASSWORD})


def assert_revoked_on_both_sides(client: TestClient, access: str, refresh: str) -> None:
    """Check that a login's tokens are refused on /api/v1 and on /api."""
    error = error_of(client.get(V1_PROFILE, headers=bearer(access)), 401, "TOKEN_REVOKED")
    assert error["message"] == "Token has been revoked"
    error_of(client.get(URL, headers=bearer(access)), 401, "TOKEN_REVOKED")
    error_of(client.post(V1_REFRESH, json={"refresh_token": refresh}), 401, "TOKEN_REVOKED")
    legacy = client.get(LEGACY_ME, headers=bearer(access))
    assert (legacy.status_code, legacy.json()) == (401, REVOKED)
    legacy_refresh = client.post(LEGACY_REFRESH, headers=bearer(refresh))
    assert (legacy_refresh.status_code, legacy_refresh.json()) == (401, REVOKED)


def assert_still_valid(client: TestClient, access: str, user: User) -> None:
    response = client.get(V1_PROFILE, headers=bearer(access))
    assert response.status_code == 200, response.text
    assert response.json()["id"] == user.id
    assert client.get(LEGACY_ME, headers=bearer(access)).status_code == 200


# --- who may call -----------------------------------------------------------------------------------


ENDPOINTS = [
    ("GET", URL, None),
    ("GET", f"{URL}/1", None),
    ("PATCH", f"{URL}/1", {"role": "viewer"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=["list", "get", "patch"])
def test_users_without_token_401(client: TestClient, method: str, path: str, body: Any) -> None:
    response = client.request(method, path, json=body)
    error = error_of(response, 401, "TOKEN_MISSING")
    assert error["type"] == "authentication_error"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="datalab"'


@pytest.mark.parametrize("headers_fixture", NON_ADMINS)
@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=["list", "get", "patch"])
def test_users_non_admin_403(
    request: pytest.FixtureRequest,
    client: TestClient,
    session: Session,
    other: User,
    headers_fixture: str,
    method: str,
    path: str,
    body: Any,
) -> None:
    headers = request.getfixturevalue(headers_fixture)
    path = path.replace("/1", f"/{other.id}")
    error = error_of(client.request(method, path, json=body, headers=headers), 403, "FORBIDDEN")
    assert error["type"] == "permission_error"
    assert error["message"].startswith("Insufficient permissions: this needs the admin role")
    assert reload(session, other).role == "user"
    assert audit_entries(session, "user.role_change") == []


@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_user_cannot_promote_themselves_403(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str], role: str
) -> None:
    error_of(patch(client, user_headers, user.id, {"role": role}), 403, "FORBIDDEN")
    assert reload(session, user).role == "user"


def test_users_deactivated_admin_token_401(
    client: TestClient, session: Session, admin: User, admin_headers: dict[str, str]
) -> None:
    admin.is_active = False
    session.commit()
    error_of(client.get(URL, headers=admin_headers), 401, "TOKEN_REVOKED")


# --- list -------------------------------------------------------------------------------------------


def test_list_users_admin_200_contract(
    client: TestClient, admin: User, user: User, viewer: User, admin_headers: dict[str, str]
) -> None:
    body = listing(client, admin_headers)
    assert (body["total"], body["limit"], body["offset"]) == (3, 20, 0)
    assert [item["id"] for item in body["items"]] == [admin.id, user.id, viewer.id]
    for item in body["items"]:
        assert set(item) == USER_KEYS
        assert datetime.fromisoformat(item["created_at"]).utcoffset() is not None
    first = body["items"][1]
    assert (first["email"], first["role"], first["is_active"]) == ("user@example.com", "user", True)
    assert "password_hash" not in first
    assert "hash" not in str(body).lower()


def test_list_users_oldest_first(
    client: TestClient, accounts: Accounts, admin_headers: dict[str, str]
) -> None:
    created = [accounts.create(f"u{n}@example.com").id for n in (3, 1, 2)]
    ids = [item["id"] for item in listing(client, admin_headers)["items"]]
    assert ids == sorted(ids)
    assert ids[1:] == created


@pytest.fixture
def population(accounts: Accounts, admin: User) -> dict[str, User]:
    """A mix of roles and active flags, created after `admin`."""
    return {
        "ann": accounts.create("Ann.Lee@Example.org", Role.ANALYST),
        "bob": accounts.create("bob@example.com", Role.USER, is_active=False),
        "cat": accounts.create("cat@corp.example.org", Role.VIEWER),
        "dan": accounts.create("dan@example.com", Role.ADMIN, is_active=False),
        "eve": accounts.create("eve@example.com", Role.USER),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"role": "admin"}, ["admin@example.com", "dan@example.com"]),
        ({"role": "analyst"}, ["ann.lee@example.org"]),
        ({"role": "user"}, ["bob@example.com", "eve@example.com"]),
        ({"role": "viewer"}, ["cat@corp.example.org"]),
        (
            {"is_active": "true"},
            ["admin@example.com", "ann.lee@example.org", "cat@corp.example.org", "eve@example.com"],
        ),
        ({"is_active": "false"}, ["bob@example.com", "dan@example.com"]),
        ({"email": "example.org"}, ["ann.lee@example.org", "cat@corp.example.org"]),
        ({"email": "EXAMPLE.ORG"}, ["ann.lee@example.org", "cat@corp.example.org"]),
        ({"email": "Ann.L"}, ["ann.lee@example.org"]),
        ({"email": "b@"}, ["bob@example.com"]),
        ({"email": "nobody"}, []),
        ({"role": "user", "is_active": "true"}, ["eve@example.com"]),
        ({"role": "admin", "is_active": "false", "email": "DAN"}, ["dan@example.com"]),
        ({"role": "viewer", "email": "example.com"}, []),
    ],
    ids=[
        "role-admin",
        "role-analyst",
        "role-user",
        "role-viewer",
        "active",
        "inactive",
        "email-domain",
        "email-upper-case",
        "email-mixed-case",
        "email-middle",
        "email-no-match",
        "role-and-active",
        "all-three",
        "no-match-combined",
    ],
)
def test_list_users_filters(
    client: TestClient,
    population: dict[str, User],
    admin_headers: dict[str, str],
    params: dict[str, str],
    expected: list[str],
) -> None:
    body = listing(client, admin_headers, **params)
    assert emails(body) == expected
    assert body["total"] == len(expected)


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("_", ["a_b@example.com"]),
        ("a_b", ["a_b@example.com"]),
        ("%", ["a%b@example.com"]),
        ("a%b", ["a%b@example.com"]),
        ("/", ["a/b@example.com"]),
        ("\\", ["a\\b@example.com"]),
        ("[", ["a[b]@example.com"]),
        ("%@", []),
        ("_@", []),
    ],
    ids=[
        "underscore",
        "a-underscore-b",
        "percent",
        "a-percent-b",
        "slash",
        "backslash",
        "bracket",
        "%@",
        "_@",
    ],
)
def test_list_users_email_search_is_literal(
    client: TestClient, accounts: Accounts, admin_headers: dict[str, str], search: str, expected: list[str]
) -> None:
    for email in ("axb@example.com", "a_b@example.com", "a%b@example.com", "a/b@example.com"):
        accounts.create(email)
    accounts.create("a\\b@example.com")
    accounts.create("a[b]@example.com")
    body = listing(client, admin_headers, email=search)
    assert emails(body) == expected
    assert body["total"] == len(expected)


def test_list_users_pagination(
    client: TestClient, accounts: Accounts, admin: User, admin_headers: dict[str, str]
) -> None:
    ids = [admin.id] + [accounts.create(f"u{n:02}@example.com").id for n in range(24)]

    first = listing(client, admin_headers)
    assert (first["total"], first["limit"], first["offset"], len(first["items"])) == (25, 20, 0, 20)
    assert [item["id"] for item in first["items"]] == ids[:20]

    rest = listing(client, admin_headers, limit=20, offset=20)
    assert (rest["total"], rest["offset"]) == (25, 20)
    assert [item["id"] for item in rest["items"]] == ids[20:]

    middle = listing(client, admin_headers, limit=3, offset=7)
    assert [item["id"] for item in middle["items"]] == ids[7:10]
    assert (middle["total"], middle["limit"], middle["offset"]) == (25, 3, 7)

    past_end = listing(client, admin_headers, offset=25)
    assert (past_end["items"], past_end["total"]) == ([], 25)


def test_list_users_total_counts_filtered_rows_across_pages(
    client: TestClient, accounts: Accounts, admin_headers: dict[str, str]
) -> None:
    for n in range(5):
        accounts.create(f"viewer{n}@example.com", Role.VIEWER)
        accounts.create(f"user{n}@example.com", Role.USER)
    body = listing(client, admin_headers, role="viewer", limit=2, offset=2)
    assert emails(body) == ["viewer2@example.com", "viewer3@example.com"]
    assert body["total"] == 5


@pytest.mark.parametrize("limit", [1, 100])
def test_list_users_limit_bounds_accepted(
    client: TestClient, accounts: Accounts, admin_headers: dict[str, str], limit: int
) -> None:
    for n in range(3):
        accounts.create(f"u{n}@example.com")
    body = listing(client, admin_headers, limit=limit)
    assert body["limit"] == limit
    assert len(body["items"]) == min(limit, 4)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 101}, "query.limit"),
        ({"limit": -1}, "query.limit"),
        ({"limit": "x"}, "query.limit"),
        ({"limit": "1.5"}, "query.limit"),
        ({"limit": ""}, "query.limit"),
        ({"limit": 10**20}, "query.limit"),
        ({"offset": -1}, "query.offset"),
        ({"offset": "x"}, "query.offset"),
        ({"offset": 10**20}, "query.offset"),
    ],
    ids=[
        "limit-0",
        "limit-101",
        "limit-negative",
        "limit-text",
        "limit-fraction",
        "limit-empty",
        "limit-huge",
        "offset-negative",
        "offset-text",
        "offset-huge",
    ],
)
def test_list_users_limit_out_of_range_422(
    lenient_client: TestClient, admin_headers: dict[str, str], params: dict[str, Any], field: str
) -> None:
    response = lenient_client.get(URL, params=params, headers=admin_headers)
    error = error_of(response, 422, "VALIDATION_FAILED")
    assert error["type"] == "validation_error"
    assert field in fields_of(error)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"role": "superuser"}, "query.role"),
        ({"role": "ADMIN"}, "query.role"),
        ({"is_active": "maybe"}, "query.is_active"),
        ({"is_active": "2"}, "query.is_active"),
        ({"email": "a" * 300}, "query.email"),
    ],
    ids=["role-unknown", "role-upper-case", "active-not-bool", "active-two", "email-too-long"],
)
def test_list_users_invalid_filter_422(
    client: TestClient, admin_headers: dict[str, str], params: dict[str, str], field: str
) -> None:
    error = error_of(client.get(URL, params=params, headers=admin_headers), 422, "VALIDATION_FAILED")
    assert field in fields_of(error)


# --- get one ----------------------------------------------------------------------------------------


def test_get_user_200(client: TestClient, viewer: User, admin_headers: dict[str, str]) -> None:
    response = client.get(f"{URL}/{viewer.id}", headers=admin_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == USER_KEYS
    assert (body["id"], body["email"], body["role"], body["is_active"]) == (
        viewer.id,
        "viewer@example.com",
        "viewer",
        True,
    )


def test_get_inactive_user_200(client: TestClient, accounts: Accounts, admin_headers: dict[str, str]) -> None:
    gone = accounts.create("gone@example.com", is_active=False)
    response = client.get(f"{URL}/{gone.id}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json()["is_active"] is False


@pytest.mark.parametrize("user_id", [999_999, 2**31 - 1], ids=["unknown", "largest-id"])
def test_get_user_unknown_404(
    lenient_client: TestClient, admin_headers: dict[str, str], user_id: int
) -> None:
    error = error_of(lenient_client.get(f"{URL}/{user_id}", headers=admin_headers), 404, "NOT_FOUND")
    assert error["type"] == "not_found"
    assert error["message"] == "User not found"


@pytest.mark.parametrize(
    "user_id",
    [0, -1, 2**31, 10**20, "abc", "1.5"],
    ids=["zero", "negative", "2**31", "10**20", "text", "fraction"],
)
def test_get_user_id_out_of_range_422(
    lenient_client: TestClient, admin_headers: dict[str, str], user_id: int | str
) -> None:
    error = error_of(lenient_client.get(f"{URL}/{user_id}", headers=admin_headers), 422, "VALIDATION_FAILED")
    assert fields_of(error) == ["path.user_id"]


# --- change role ------------------------------------------------------------------------------------


def test_change_role_200_revokes_all_earlier_tokens(
    client: TestClient,
    session: Session,
    accounts: Accounts,
    admin: User,
    user: User,
    admin_headers: dict[str, str],
) -> None:
    minted = accounts.tokens(user)
    v1 = login(client, V1_LOGIN, user.email).json()
    legacy = login(client, LEGACY_LOGIN, user.email).json()

    response = patch(client, {**admin_headers, "X-Request-ID": "req-role-1"}, user.id, {"role": "analyst"})

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == USER_KEYS
    assert (body["id"], body["role"], body["is_active"]) == (user.id, "analyst", True)
    assert reload(session, user).role == "analyst"
    assert_revoked_on_both_sides(client, minted.access.token, minted.refresh.token)
    assert_revoked_on_both_sides(client, v1["access_token"], v1["refresh_token"])
    assert_revoked_on_both_sides(client, legacy["access_token"], legacy["refresh_token"])
    # The admin's own login is untouched, and the user can sign in again with the new role.
    assert_still_valid(client, admin_headers["Authorization"].removeprefix("Bearer "), admin)
    fresh = login(client, V1_LOGIN, user.email)
    assert fresh.status_code == 200
    profile = client.get(V1_PROFILE, headers=bearer(fresh.json()["access_token"]))
    assert profile.json()["role"] == "analyst"

    [entry] = audit_entries(session, "user.role_change")
    assert (entry.user_id, entry.resource_type, entry.resource_id) == (admin.id, "user", str(user.id))
    assert entry.details == {"old_role": "user", "new_role": "analyst"}
    assert entry.request_id == "req-role-1"
    assert entry.ip_address == "testclient"


@pytest.mark.parametrize(
    ("old", "new"), [(Role.USER, Role.ADMIN), (Role.ADMIN, Role.VIEWER), (Role.VIEWER, Role.ANALYST)]
)
def test_change_role_between_roles_200(
    client: TestClient,
    session: Session,
    accounts: Accounts,
    admin_headers: dict[str, str],
    old: Role,
    new: Role,
) -> None:
    target = accounts.create("target@example.com", old)
    response = patch(client, admin_headers, target.id, {"role": new.value})
    assert response.status_code == 200, response.text
    assert response.json()["role"] == new.value
    assert reload(session, target).role == new.value
    [entry] = audit_entries(session, "user.role_change")
    assert entry.details == {"old_role": old.value, "new_role": new.value}


def test_demoted_admin_loses_admin_access(
    client: TestClient, accounts: Accounts, admin_headers: dict[str, str]
) -> None:
    second = accounts.create("second-admin@example.com", Role.ADMIN)
    assert patch(client, admin_headers, second.id, {"role": "user"}).status_code == 200
    fresh = login(client, V1_LOGIN, second.email).json()
    error_of(client.get(URL, headers=bearer(fresh["access_token"])), 403, "FORBIDDEN")


def test_promoted_user_gains_admin_access(
    client: TestClient, user: User, admin_headers: dict[str, str]
) -> None:
    assert patch(client, admin_headers, user.id, {"role": "admin"}).status_code == 200
    fresh = login(client, V1_LOGIN, user.email).json()
    assert client.get(URL, headers=bearer(fresh["access_token"])).status_code == 200


@pytest.mark.parametrize("role", ["admin", "analyst", "user", "viewer"])
def test_change_own_role_403(
    client: TestClient, session: Session, admin: User, admin_headers: dict[str, str], role: str
) -> None:
    error = error_of(patch(client, admin_headers, admin.id, {"role": role}), 403, "OWN_ROLE")
    assert error["type"] == "permission_error"
    assert reload(session, admin).role == "admin"
    assert audit_entries(session, "user.role_change") == []
    assert client.get(URL, headers=admin_headers).status_code == 200


def test_change_own_role_with_active_flag_403(
    client: TestClient, session: Session, admin: User, admin_headers: dict[str, str]
) -> None:
    response = patch(client, admin_headers, admin.id, {"role": "viewer", "is_active": True})
    error_of(response, 403, "OWN_ROLE")
    assert reload(session, admin).role == "admin"


# --- activate and deactivate -------------------------------------------------------------------------


def test_deactivate_user_200_revokes_tokens_and_blocks_login(
    client: TestClient,
    session: Session,
    accounts: Accounts,
    admin: User,
    user: User,
    admin_headers: dict[str, str],
) -> None:
    minted = accounts.tokens(user)
    v1 = login(client, V1_LOGIN, user.email).json()

    response = patch(client, {**admin_headers, "X-Request-ID": "req-off-1"}, user.id, {"is_active": False})

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == USER_KEYS
    assert (body["id"], body["role"], body["is_active"]) == (user.id, "user", False)
    assert reload(session, user).is_active is False
    assert_revoked_on_both_sides(client, minted.access.token, minted.refresh.token)
    assert_revoked_on_both_sides(client, v1["access_token"], v1["refresh_token"])
    error_of(login(client, V1_LOGIN, user.email), 401, "BAD_CREDENTIALS")
    legacy = login(client, LEGACY_LOGIN, user.email)
    assert legacy.status_code == 401
    assert emails(listing(client, admin_headers, is_active="false")) == [user.email]

    [entry] = audit_entries(session, "user.update")
    assert (entry.user_id, entry.resource_type, entry.resource_id) == (admin.id, "user", str(user.id))
    assert entry.details == {"fields": ["is_active"], "is_active": False}
    assert entry.request_id == "req-off-1"
    assert audit_entries(session, "user.role_change") == []


def test_reactivate_user_200_allows_login(
    client: TestClient, session: Session, accounts: Accounts, admin: User, admin_headers: dict[str, str]
) -> None:
    gone = accounts.create("gone@example.com", is_active=False)
    error_of(login(client, V1_LOGIN, gone.email), 401, "BAD_CREDENTIALS")

    response = patch(client, admin_headers, gone.id, {"is_active": True})

    assert response.status_code == 200, response.text
    assert response.json()["is_active"] is True
    assert reload(session, gone).is_active is True
    signed_in = login(client, V1_LOGIN, gone.email)
    assert signed_in.status_code == 200
    assert_still_valid(client, signed_in.json()["access_token"], gone)
    assert login(client, LEGACY_LOGIN, gone.email).status_code == 200
    [entry] = audit_entries(session, "user.update")
    assert entry.user_id == admin.id
    assert entry.details == {"fields": ["is_active"], "is_active": True}


def test_deactivate_then_reactivate_old_tokens_stay_revoked(
    client: TestClient, accounts: Accounts, user: User, admin_headers: dict[str, str]
) -> None:
    minted = accounts.tokens(user)
    assert patch(client, admin_headers, user.id, {"is_active": False}).status_code == 200
    assert patch(client, admin_headers, user.id, {"is_active": True}).status_code == 200
    assert_revoked_on_both_sides(client, minted.access.token, minted.refresh.token)


def test_deactivate_yourself_403(
    client: TestClient, session: Session, admin: User, admin_headers: dict[str, str]
) -> None:
    error = error_of(patch(client, admin_headers, admin.id, {"is_active": False}), 403, "OWN_ACCOUNT")
    assert error["type"] == "permission_error"
    assert reload(session, admin).is_active is True
    assert audit_entries(session, "user.update") == []
    assert client.get(URL, headers=admin_headers).status_code == 200


def test_change_role_and_deactivate_together_200(
    client: TestClient,
    session: Session,
    accounts: Accounts,
    admin: User,
    user: User,
    admin_headers: dict[str, str],
) -> None:
    minted = accounts.tokens(user)
    response = patch(client, admin_headers, user.id, {"role": "viewer", "is_active": False})
    assert response.status_code == 200, response.text
    assert (response.json()["role"], response.json()["is_active"]) == ("viewer", False)
    fresh = reload(session, user)
    assert (fresh.role, fresh.is_active) == ("viewer", False)
    assert_revoked_on_both_sides(client, minted.access.token, minted.refresh.token)
    [role_entry] = audit_entries(session, "user.role_change")
    assert role_entry.details == {"old_role": "user", "new_role": "viewer"}
    [update_entry] = audit_entries(session, "user.update")
    assert update_entry.details == {"fields": ["is_active"], "is_active": False}


def test_patch_empty_body_changes_nothing(
    client: TestClient, session: Session, accounts: Accounts, user: User, admin_headers: dict[str, str]
) -> None:
    minted = accounts.tokens(user)
    response = patch(client, admin_headers, user.id, {})
    assert response.status_code == 200, response.text
    assert (response.json()["role"], response.json()["is_active"]) == ("user", True)
    assert_still_valid(client, minted.access.token, user)
    assert audit_entries(session, "user.role_change") == []
    assert audit_entries(session, "user.update") == []


# --- invalid changes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "new@example.com"}, "body.email"),
        ({"password": "New-Password-99"}, "body.password"),
        ({"id": 1}, "body.id"),
        ({"role": "viewer", "email": "new@example.com"}, "body.email"),
        ({"role": "superuser"}, "body.role"),
        ({"role": "Admin"}, "body.role"),
        ({"role": ""}, "body.role"),
        ({"role": 1}, "body.role"),
        ({"is_active": "yes"}, "body.is_active"),
        ({"is_active": "true"}, "body.is_active"),
        ({"is_active": 0}, "body.is_active"),
        ({"is_active": 1}, "body.is_active"),
        ([], "body"),
        ("admin", "body"),
    ],
    ids=[
        "email",
        "password",
        "id",
        "valid-role-plus-email",
        "role-unknown",
        "role-capitalised",
        "role-empty",
        "role-number",
        "active-yes",
        "active-string-true",
        "active-zero",
        "active-one",
        "list",
        "string",
    ],
)
def test_patch_user_invalid_body_422(
    client: TestClient,
    session: Session,
    accounts: Accounts,
    user: User,
    admin_headers: dict[str, str],
    body: Any,
    field: str,
) -> None:
    minted = accounts.tokens(user)
    error = error_of(patch(client, admin_headers, user.id, body), 422, "VALIDATION_FAILED")
    assert error["type"] == "validation_error"
    assert field in fields_of(error)
    fresh = reload(session, user)
    assert (fresh.email, fresh.role, fresh.is_active) == ("user@example.com", "user", True)
    assert_still_valid(client, minted.access.token, user)
    assert audit_entries(session, "user.role_change") == []
    assert audit_entries(session, "user.update") == []


def test_patch_user_body_not_json_422(client: TestClient, user: User, admin_headers: dict[str, str]) -> None:
    response = client.patch(
        f"{URL}/{user.id}",
        content=b"role=admin",
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    error_of(response, 422, "VALIDATION_FAILED")


def test_patch_unknown_user_404(client: TestClient, session: Session, admin_headers: dict[str, str]) -> None:
    error = error_of(patch(client, admin_headers, 999_999, {"role": "viewer"}), 404, "NOT_FOUND")
    assert error["message"] == "User not found"
    assert audit_entries(session, "user.role_change") == []


@pytest.mark.parametrize(
    "user_id", [0, -1, 2**31, 10**20, "abc"], ids=["zero", "negative", "2**31", "10**20", "text"]
)
def test_patch_user_id_out_of_range_422(
    lenient_client: TestClient, admin_headers: dict[str, str], user_id: int | str
) -> None:
    response = patch(lenient_client, admin_headers, user_id, {"role": "viewer"})
    error = error_of(response, 422, "VALIDATION_FAILED")
    assert "path.user_id" in fields_of(error)
