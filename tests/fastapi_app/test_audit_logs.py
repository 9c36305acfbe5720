"""GET /api/v1/audit-logs: the audit log for admins, newest first, filtered and paginated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from shared_models import AuditLog, Role, User
from tests.helpers import PASSWORD, Accounts, error_of, fields_of

URL = "/api/v1/audit-logs"
PAGE_KEYS = {"items", "total", "limit", "offset"}
ENTRY_KEYS = {
    "id",
    "user_id",
    "action",
    "resource_type",
    "resource_id",
    "details",
    "ip_address",
    "request_id",
    "created_at",
}
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def listing(client: TestClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    """Return the 200 body of GET /api/v1/audit-logs with `params`."""
    response = client.get(URL, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == PAGE_KEYS
    for item in body["items"]:
        assert set(item) == ENTRY_KEYS
    return body


def add_entries(session: Session, *rows: tuple[str, datetime, int | None]) -> list[int]:
    """Write audit entries (action, created_at, user_id) directly and return their ids."""
    entries = [
        AuditLog(action=action, created_at=at, user_id=user_id, details={}) for action, at, user_id in rows
    ]
    session.add_all(entries)
    session.commit()
    return [entry.id for entry in entries]


def ids(body: dict[str, Any]) -> list[int]:
    return [item["id"] for item in body["items"]]


# --- who may read ---------------------------------------------------------------------------------


def test_list_audit_logs_without_token_401(client: TestClient) -> None:
    response = client.get(URL)
    error = error_of(response, 401, "TOKEN_MISSING")
    assert error["type"] == "authentication_error"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="datalab"'


@pytest.mark.parametrize("headers_fixture", ["viewer_headers", "user_headers", "analyst_headers"])
def test_list_audit_logs_non_admin_403(
    request: pytest.FixtureRequest, client: TestClient, headers_fixture: str
) -> None:
    headers = request.getfixturevalue(headers_fixture)
    error = error_of(client.get(URL, headers=headers), 403, "FORBIDDEN")
    assert error["type"] == "permission_error"
    assert error["message"].startswith("Insufficient permissions: this needs the admin role")


# --- contract -------------------------------------------------------------------------------------


def test_list_audit_logs_admin_200_contract(
    client: TestClient, user: User, admin_headers: dict[str, str]
) -> None:
    login = client.post(
        "/api/v1/auth/login",
        json={"email": user.email, "password": PASSWORD},
        headers={"X-Request-ID": "req-v1-login"},
    )
    assert login.status_code == 200

    body = listing(client, admin_headers, user_id=user.id)

    assert (body["total"], body["limit"], body["offset"]) == (1, 20, 0)
    [entry] = body["items"]
    assert isinstance(entry["id"], int)
    assert (entry["user_id"], entry["action"]) == (user.id, "user.login")
    assert (entry["resource_type"], entry["resource_id"]) == ("user", str(user.id))
    assert entry["details"] == {}
    assert entry["ip_address"] == "testclient"
    assert entry["request_id"] == "req-v1-login"
    created = datetime.fromisoformat(entry["created_at"])
    assert created.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=1)


def test_list_audit_logs_shows_entries_from_both_apis(
    client: TestClient, user: User, admin_headers: dict[str, str]
) -> None:
    credentials = {"email": user.email, "password": PASSWORD}
    legacy = client.post("/api/auth/login", json=credentials, headers={"X-Request-ID": "req-legacy-login"})
    assert legacy.status_code == 200
    v1 = client.post("/api/v1/auth/login", json=credentials)
    assert v1.status_code == 200

    body = listing(client, admin_headers, user_id=user.id, action="user.login")

    assert body["total"] == 2
    newest, oldest = body["items"]
    assert newest["request_id"] == v1.headers["X-Request-ID"]
    assert oldest["request_id"] == "req-legacy-login"
    for entry in body["items"]:
        assert entry["ip_address"] == "testclient"
        assert (entry["user_id"], entry["resource_id"]) == (user.id, str(user.id))
    assert newest["id"] > oldest["id"]


def test_list_audit_logs_shows_role_change_details(
    client: TestClient, admin: User, user: User, admin_headers: dict[str, str]
) -> None:
    changed = client.patch(f"/api/v1/users/{user.id}", json={"role": "viewer"}, headers=admin_headers)
    assert changed.status_code == 200

    [entry] = listing(client, admin_headers, action="user.role_change")["items"]

    assert (entry["user_id"], entry["resource_type"], entry["resource_id"]) == (
        admin.id,
        "user",
        str(user.id),
    )
    assert entry["details"] == {"old_role": "user", "new_role": "viewer"}
    assert entry["request_id"] == changed.headers["X-Request-ID"]


def test_list_audit_logs_shows_failed_login_with_email(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "Wrong-99x"}
    )
    assert response.status_code == 401

    [entry] = listing(client, admin_headers, action="user.login_failed")["items"]

    assert entry["user_id"] is None
    assert entry["details"] == {"email": "nobody@example.com"}
    assert entry["request_id"] == response.headers["X-Request-ID"]


# --- order ----------------------------------------------------------------------------------------


def test_list_audit_logs_newest_first(
    client: TestClient, session: Session, admin_headers: dict[str, str]
) -> None:
    # Written out of time order, with two entries sharing one instant: created_at desc, then id desc.
    middle, oldest, newest, tie_first, tie_second = add_entries(
        session,
        ("test.order", T0, None),
        ("test.order", T0 - timedelta(days=1), None),
        ("test.order", T0 + timedelta(days=1), None),
        ("test.order", T0 + timedelta(hours=1), None),
        ("test.order", T0 + timedelta(hours=1), None),
    )

    body = listing(client, admin_headers, action="test.order")

    assert ids(body) == [newest, tie_second, tie_first, middle, oldest]
    times = [datetime.fromisoformat(item["created_at"]) for item in body["items"]]
    assert times == sorted(times, reverse=True)


# --- filters --------------------------------------------------------------------------------------


@pytest.fixture
def log(session: Session, accounts: Accounts, admin: User) -> dict[str, Any]:
    """Entries by two users and nobody, at known times an hour apart from T0."""
    ann = accounts.create("ann@example.com", Role.ANALYST)
    bob = accounts.create("bob@example.com")
    written = add_entries(
        session,
        ("data_source.create", T0, ann.id),
        ("data_source.delete", T0 + timedelta(hours=1), ann.id),
        ("data_source.create", T0 + timedelta(hours=2), bob.id),
        ("user.login_failed", T0 + timedelta(hours=3), None),
    )
    return {"ann": ann, "bob": bob, "ids": written}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "data_source.create"}, [2, 0]),
        ({"action": "data_source.delete"}, [1]),
        ({"action": "nothing.here"}, []),
        ({"user_id": "ann"}, [1, 0]),
        ({"user_id": "bob"}, [2]),
        ({"user_id": "ann", "action": "data_source.create"}, [0]),
        ({"user_id": "bob", "action": "data_source.delete"}, []),
        ({"since": T0 + timedelta(hours=1)}, [3, 2, 1]),
        ({"until": T0 + timedelta(hours=1)}, [0]),
        ({"since": T0, "until": T0 + timedelta(hours=2)}, [1, 0]),
        ({"since": T0 + timedelta(minutes=30), "until": T0 + timedelta(hours=2, minutes=30)}, [2, 1]),
        ({"since": T0 + timedelta(hours=1), "until": T0 + timedelta(hours=1)}, []),
        ({"since": T0 + timedelta(hours=3, microseconds=1)}, []),
        ({"until": T0}, []),
        ({"since": T0, "until": T0 + timedelta(hours=3, microseconds=1), "action": "user.login_failed"}, [3]),
        ({"since": T0 + timedelta(hours=1), "user_id": "ann"}, [1]),
    ],
    ids=[
        "action",
        "action-other",
        "action-unknown",
        "user",
        "other-user",
        "user-and-action",
        "user-and-action-none",
        "since-inclusive",
        "until-exclusive",
        "since-until",
        "between-entries",
        "empty-range",
        "since-after-all",
        "until-first",
        "range-and-action",
        "since-and-user",
    ],
)
def test_list_audit_logs_filters(
    client: TestClient,
    log: dict[str, Any],
    admin_headers: dict[str, str],
    params: dict[str, Any],
    expected: list[int],
) -> None:
    query = {}
    for key, value in params.items():
        if key == "user_id":
            value = log[value].id
        elif isinstance(value, datetime):
            value = value.isoformat()
        query[key] = value
    if "action" not in params and "user_id" not in params:
        # The admin's own sign-in wrote an entry at the current time; keep only the fixture's.
        query.setdefault("until", (T0 + timedelta(days=1)).isoformat())
    body = listing(client, admin_headers, **query)
    assert ids(body) == [log["ids"][n] for n in expected]
    assert body["total"] == len(expected)


@pytest.mark.parametrize(
    "since",
    [
        "2026-03-01T13:00:00+00:00",
        "2026-03-01T13:00:00Z",
        "2026-03-01T15:00:00+02:00",
        "2026-03-01T08:00:00-05:00",
        "2026-03-01T13:00:00.000+00:00",
    ],
    ids=["utc-offset", "z", "plus-two", "minus-five", "milliseconds"],
)
def test_list_audit_logs_since_in_any_timezone(
    client: TestClient, log: dict[str, Any], admin_headers: dict[str, str], since: str
) -> None:
    body = listing(client, admin_headers, since=since, until="2026-03-01T14:00:00+00:00")
    assert ids(body) == [log["ids"][1]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-01-01T00:00:00"}, "query.since"),
        ({"until": "2026-01-01T00:00:00"}, "query.until"),
        ({"since": "2026-01-01"}, "query.since"),
        ({"since": "yesterday"}, "query.since"),
        ({"until": "2026-13-01T00:00:00+00:00"}, "query.until"),
        ({"since": ""}, "query.since"),
        ({"user_id": 0}, "query.user_id"),
        ({"user_id": -1}, "query.user_id"),
        ({"user_id": 2**31}, "query.user_id"),
        ({"user_id": 10**20}, "query.user_id"),
        ({"user_id": "ann"}, "query.user_id"),
        ({"action": ""}, "query.action"),
        ({"action": "USER.LOGIN"}, "query.action"),
        ({"action": "user login"}, "query.action"),
        ({"action": "a" * 65}, "query.action"),
    ],
    ids=[
        "since-naive",
        "until-naive",
        "since-date-only",
        "since-word",
        "until-month-13",
        "since-empty",
        "user-zero",
        "user-negative",
        "user-2**31",
        "user-10**20",
        "user-text",
        "action-empty",
        "action-upper-case",
        "action-space",
        "action-too-long",
    ],
)
def test_list_audit_logs_invalid_filter_422(
    lenient_client: TestClient, admin_headers: dict[str, str], params: dict[str, Any], field: str
) -> None:
    response = lenient_client.get(URL, params=params, headers=admin_headers)
    error = error_of(response, 422, "VALIDATION_FAILED")
    assert error["type"] == "validation_error"
    assert field in fields_of(error)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"since": "0001-01-01T00:00:00+01:00"}, "all"),
        ({"until": "0001-01-01T00:00:00+01:00"}, "none"),
        ({"since": "9999-12-31T23:59:59-01:00"}, "none"),
        ({"until": "9999-12-31T23:59:59-01:00"}, "all"),
    ],
    ids=[
        "since-before-year-1-utc",
        "until-before-year-1-utc",
        "since-after-9999-utc",
        "until-after-9999-utc",
    ],
)
def test_list_audit_logs_datetime_beyond_utc_range_clamped_200(
    client: TestClient,
    log: dict[str, Any],
    admin_headers: dict[str, str],
    params: dict[str, str],
    expected: str,
) -> None:
    # A valid aware datetime with no UTC form is the start or end of time, never a 500.
    body = listing(client, admin_headers, action="data_source.create", **params)
    assert body["total"] == (2 if expected == "all" else 0)


@pytest.mark.parametrize(
    "params",
    [
        {"since": "0001-01-01T00:00:00+00:00"},
        {"until": "9999-12-31T23:59:59+00:00"},
        {"since": "0001-01-01T00:00:00-01:00", "until": "9999-12-31T23:59:59+01:00"},
    ],
    ids=["since-year-1", "until-year-9999", "both-extremes-within-utc"],
)
def test_list_audit_logs_extreme_datetimes_200(
    client: TestClient, log: dict[str, Any], admin_headers: dict[str, str], params: dict[str, str]
) -> None:
    body = listing(client, admin_headers, action="data_source.create", **params)
    assert ids(body) == [log["ids"][2], log["ids"][0]]
    assert body["total"] == 2


# --- pagination -----------------------------------------------------------------------------------


def test_list_audit_logs_pagination(
    client: TestClient, session: Session, admin_headers: dict[str, str]
) -> None:
    written = add_entries(session, *[("test.page", T0 + timedelta(minutes=n), None) for n in range(25)])
    newest_first = list(reversed(written))

    first = listing(client, admin_headers, action="test.page")
    assert (first["total"], first["limit"], first["offset"]) == (25, 20, 0)
    assert ids(first) == newest_first[:20]

    rest = listing(client, admin_headers, action="test.page", offset=20)
    assert ids(rest) == newest_first[20:]
    assert rest["total"] == 25

    middle = listing(client, admin_headers, action="test.page", limit=4, offset=3)
    assert ids(middle) == newest_first[3:7]
    assert (middle["limit"], middle["offset"], middle["total"]) == (4, 3, 25)

    past_end = listing(client, admin_headers, action="test.page", offset=100)
    assert (past_end["items"], past_end["total"]) == ([], 25)

    everything = listing(client, admin_headers, action="test.page", limit=100)
    assert ids(everything) == newest_first


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "query.limit"),
        ({"limit": 101}, "query.limit"),
        ({"limit": -1}, "query.limit"),
        ({"limit": "x"}, "query.limit"),
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
        "limit-huge",
        "offset-negative",
        "offset-text",
        "offset-huge",
    ],
)
def test_list_audit_logs_limit_out_of_range_422(
    lenient_client: TestClient, admin_headers: dict[str, str], params: dict[str, Any], field: str
) -> None:
    error = error_of(lenient_client.get(URL, params=params, headers=admin_headers), 422, "VALIDATION_FAILED")
    assert field in fields_of(error)
