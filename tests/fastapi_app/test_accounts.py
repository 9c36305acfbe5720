"""/api/v1/auth accounts: register, profile PUT, change-password, password reset, and the mailers."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import logging
import re
import secrets
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session

from datalab.mail import LogMailer, Mail, Mailer, SmtpMailer, build_mailer
from datalab.passwords import POLICY
from datalab.settings import Settings
from shared_models import AuditLog, AuthSession, PasswordResetToken, Role, User
from tests.helpers import (
    PASSWORD,
    PROFILE_KEYS,
    USER_KEYS,
    Accounts,
    audit_entries,
    bearer,
    count,
    error_of,
    fields_of,
)

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
PROFILE = "/api/v1/auth/profile"
CHANGE_PASSWORD = "/api/v1/auth/change-password"
RESET = "/api/v1/auth/reset-password"
CONFIRM = "/api/v1/auth/reset-password/confirm"
LEGACY_LOGIN = "/api/auth/login"
LEGACY_REFRESH = "/api/auth/refresh"
LEGACY_ME = "/api/users/me"

NEW_PASSWORD = "Brand-New-Pass-7"
RESET_MESSAGE = {"message": "If that email belongs to an account, a reset link is on its way."}
REVOKED_MSG = {"msg": "Token has been revoked"}
TOKEN_IN_LINK = re.compile(r"[?&]token=([A-Za-z0-9_-]+)")
WEAK_PASSWORDS = pytest.mark.parametrize(
    "weak",
    ["Short-1", "all-lower-case-1", "ALL-UPPER-CASE-1", "No-Digits-Here", "Aa1" + "é" * 40],
    ids=["too-short", "no-upper", "no-lower", "no-digit", "over-72-bytes"],
)


def fresh(session: Session, user: User) -> User:
    """Return `user` as the database holds it now."""
    session.expire_all()
    found = session.get(User, user.id)
    assert found is not None
    return found


def v1_login(client: TestClient, email_address: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post(LOGIN, json={"email": email_address, "password": password})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def legacy_login(client: TestClient, email_address: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post(LEGACY_LOGIN, json={"email": email_address, "password": password})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def assert_password(client: TestClient, email_address: str, good: str, bad: str) -> None:
    """`good` signs in on both APIs, `bad` is refused on both."""
    v1_login(client, email_address, good)
    legacy_login(client, email_address, good)
    refused = client.post(LOGIN, json={"email": email_address, "password": bad})
    error_of(refused, 401, "BAD_CREDENTIALS")
    legacy = client.post(LEGACY_LOGIN, json={"email": email_address, "password": bad})
    assert legacy.status_code == 401, legacy.text


def assert_alive(client: TestClient, tokens: dict[str, Any], user: User) -> None:
    """The pair still works on both APIs (the legacy refresh does not rotate)."""
    access = bearer(tokens["access_token"])
    assert client.get(PROFILE, headers=access).json()["id"] == user.id
    assert client.get(LEGACY_ME, headers=access).json()["id"] == user.id
    legacy = client.post(LEGACY_REFRESH, headers=bearer(tokens["refresh_token"]))
    assert legacy.status_code == 200, legacy.text


def assert_revoked(client: TestClient, tokens: dict[str, Any]) -> None:
    """Both tokens of the pair are refused as revoked on both APIs."""
    access = bearer(tokens["access_token"])
    error_of(client.get(PROFILE, headers=access), 401, "TOKEN_REVOKED")
    legacy_me = client.get(LEGACY_ME, headers=access)
    assert (legacy_me.status_code, legacy_me.json()) == (401, REVOKED_MSG)
    error_of(client.post(REFRESH, json={"refresh_token": tokens["refresh_token"]}), 401, "TOKEN_REVOKED")
    legacy_refresh = client.post(LEGACY_REFRESH, headers=bearer(tokens["refresh_token"]))
    assert (legacy_refresh.status_code, legacy_refresh.json()) == (401, REVOKED_MSG)


def logged_tokens(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Tokens of the reset links the development mailer wrote to the log."""
    found = []
    for record in caplog.records:
        if record.name == "datalab.mail" and record.levelno == logging.WARNING:
            found.extend(TOKEN_IN_LINK.findall(record.getMessage()))
    return found


def request_reset(client: TestClient, caplog: pytest.LogCaptureFixture, email_address: str) -> str:
    """Ask for a reset mail and return the token of its link, read from the development log."""
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="datalab.mail"):
        response = client.post(RESET, json={"email": email_address})
    assert (response.status_code, response.json()) == (202, RESET_MESSAGE)
    tokens = logged_tokens(caplog)
    assert len(tokens) == 1, caplog.text
    return tokens[0]


def confirm(client: TestClient, token: str, password: str = NEW_PASSWORD) -> Response:
    return client.post(CONFIRM, json={"token": token, "new_password": password})


def in_parallel(requests: int, send: Callable[[], Response]) -> list[Response]:
    with ThreadPoolExecutor(requests) as pool:
        return list(pool.map(lambda _: send(), range(requests)))


# --- register ---------------------------------------------------------------------------------------


def test_register_creates_user_201(client: TestClient, session: Session) -> None:
    response = client.post(
        REGISTER,
        json={
            "email": "New.Person@Example.COM",
            "password": PASSWORD,
            "first_name": "Ada",
            "last_name": "L",
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == USER_KEYS
    assert body["email"] == "new.person@example.com"
    assert (body["role"], body["is_active"]) == ("user", True)
    assert (body["first_name"], body["last_name"]) == ("Ada", "L")
    assert (body["timezone"], body["language"], body["last_login"]) == ("UTC", "en", None)
    created = datetime.fromisoformat(body["created_at"])
    assert created.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=1)
    stored = session.get(User, body["id"])
    assert stored is not None
    assert (stored.email, stored.role) == ("new.person@example.com", "user")
    assert PASSWORD not in stored.password_hash
    entries = audit_entries(session, "user.register")
    assert [(e.user_id, e.resource_type, e.resource_id) for e in entries] == [
        (body["id"], "user", str(body["id"]))
    ]
    assert entries[0].request_id == response.headers["X-Request-ID"]
    # The account works at once, with the password given.
    tokens = v1_login(client, "new.person@example.com")
    assert client.get(PROFILE, headers=bearer(tokens["access_token"])).json()["id"] == body["id"]


def test_register_minimal_body_201(client: TestClient) -> None:
    response = client.post(REGISTER, json={"email": "min@example.com", "password": PASSWORD})
    assert response.status_code == 201, response.text
    assert (response.json()["first_name"], response.json()["last_name"]) == (None, None)


@pytest.mark.parametrize(
    "taken", ["user@example.com", "USER@EXAMPLE.COM", "User@Example.Com"], ids=["same", "upper", "mixed"]
)
def test_register_email_taken_409(client: TestClient, session: Session, user: User, taken: str) -> None:
    error = error_of(client.post(REGISTER, json={"email": taken, "password": PASSWORD}), 409, "EMAIL_TAKEN")
    assert error["type"] == "conflict"
    assert count(session, User) == 1
    assert audit_entries(session, "user.register") == []


@WEAK_PASSWORDS
def test_register_weak_password_422(client: TestClient, session: Session, weak: str) -> None:
    response = client.post(REGISTER, json={"email": "weak@example.com", "password": weak})
    error = error_of(response, 422, "WEAK_PASSWORD")
    assert error["type"] == "validation_error"
    assert len(error["details"]) == 1
    assert error["details"][0]["field"] in {"password", "body.password"}
    assert count(session, User) == 0
    assert audit_entries(session, "user.register") == []


def test_register_weak_password_details_name_the_field(client: TestClient) -> None:
    error = error_of(
        client.post(REGISTER, json={"email": "weak@example.com", "password": "weakpass"}),
        422,
        "WEAK_PASSWORD",
    )
    assert error["details"] == [{"field": "password", "message": POLICY, "type": "weak_password"}]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("role", "admin"),
        ("id", 999),
        ("is_active", False),
        ("created_at", "2020-01-01T00:00:00+00:00"),
        ("last_login", "2020-01-01T00:00:00+00:00"),
        ("password_hash", "$2b$10$abcdefghijklmnopqrstuv"),
        ("owner_id", 1),
        ("user_id", 1),
    ],
)
def test_register_forbidden_field_422(client: TestClient, session: Session, key: str, value: Any) -> None:
    body = {"email": "sneaky@example.com", "password": PASSWORD, key: value}
    error = error_of(client.post(REGISTER, json=body), 422, "VALIDATION_FAILED")
    assert f"body.{key}" in fields_of(error)
    assert count(session, User) == 0
    assert count(session, AuditLog) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": PASSWORD}, "body.email"),
        ({"email": "a@example.com"}, "body.password"),
        ({"email": "not-an-email", "password": PASSWORD}, "body.email"),
        ({"email": "a@example.com", "password": 123456789}, "body.password"),
        ({"email": "a@example.com", "password": PASSWORD, "first_name": "x" * 101}, "body.first_name"),
        ([], "body"),
    ],
    ids=["no-email", "no-password", "bad-email", "password-not-string", "long-name", "not-object"],
)
def test_register_invalid_body_422(client: TestClient, session: Session, body: Any, field: str) -> None:
    error = error_of(client.post(REGISTER, json=body), 422, "VALIDATION_FAILED")
    assert field in fields_of(error)
    assert count(session, User) == 0


# --- profile PUT ------------------------------------------------------------------------------------

PROFILE_CHANGES = {
    "first_name": "Grace",
    "last_name": "Hopper",
    "department": "Research",
    "organization": "Navy",
    "timezone": "Europe/Paris",
    "language": "fr",
}


def test_update_profile_200(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    response = client.put(PROFILE, headers=user_headers, json=PROFILE_CHANGES)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == PROFILE_KEYS
    assert {key: body[key] for key in PROFILE_CHANGES} == PROFILE_CHANGES
    assert (body["id"], body["email"], body["role"]) == (user.id, "user@example.com", "user")
    read_back = client.get(PROFILE, headers=user_headers).json()
    assert {key: read_back[key] for key in PROFILE_CHANGES} == PROFILE_CHANGES
    stored = fresh(session, user)
    assert (stored.timezone, stored.department) == ("Europe/Paris", "Research")
    entries = audit_entries(session, "user.update")
    assert len(entries) == 1
    assert (entries[0].user_id, entries[0].resource_id) == (user.id, str(user.id))
    assert entries[0].details == {"fields": sorted(PROFILE_CHANGES)}


def test_update_profile_partial_keeps_other_fields(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    user.department = "Sales"
    user.timezone = "Asia/Tokyo"
    session.commit()
    response = client.put(PROFILE, headers=user_headers, json={"first_name": "Ada"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["first_name"], body["department"], body["timezone"], body["language"]) == (
        "Ada",
        "Sales",
        "Asia/Tokyo",
        "en",
    )
    assert audit_entries(session, "user.update")[0].details == {"fields": ["first_name"]}


def test_update_profile_null_clears_optional_field(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str]
) -> None:
    user.department = "Sales"
    session.commit()
    response = client.put(PROFILE, headers=user_headers, json={"department": None})
    assert response.status_code == 200, response.text
    assert response.json()["department"] is None
    assert fresh(session, user).department is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("email", "new@example.com"),
        ("role", "admin"),
        ("is_active", False),
        ("id", 999),
        ("created_at", "2020-01-01T00:00:00+00:00"),
        ("last_login", "2020-01-01T00:00:00+00:00"),
        ("password", NEW_PASSWORD),
        ("password_hash", "x"),
        ("owner_id", 1),
    ],
)
def test_update_profile_forbidden_field_422(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str], key: str, value: Any
) -> None:
    response = client.put(PROFILE, headers=user_headers, json={"first_name": "Mallory", key: value})
    error = error_of(response, 422, "VALIDATION_FAILED")
    assert f"body.{key}" in fields_of(error)
    stored = fresh(session, user)
    assert (stored.email, stored.role, stored.is_active, stored.first_name) == (
        "user@example.com",
        "user",
        True,
        None,
    )
    assert audit_entries(session, "user.update") == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("timezone", None),
        ("timezone", "Mars/Olympus_Mons"),
        ("language", None),
        ("language", "English!"),
        ("first_name", "x" * 101),
        ("first_name", 5),
        ("department", "nul\x00byte"),
    ],
    ids=["null-timezone", "bad-timezone", "null-language", "bad-language", "long-name", "int-name", "nul"],
)
def test_update_profile_invalid_value_422(
    client: TestClient, session: Session, user: User, user_headers: dict[str, str], key: str, value: Any
) -> None:
    error = error_of(client.put(PROFILE, headers=user_headers, json={key: value}), 422, "VALIDATION_FAILED")
    assert f"body.{key}" in fields_of(error)
    stored = fresh(session, user)
    assert (stored.timezone, stored.language, stored.first_name, stored.department) == (
        "UTC",
        "en",
        None,
        None,
    )
    assert audit_entries(session, "user.update") == []


def test_update_profile_without_token_401(client: TestClient, session: Session, user: User) -> None:
    error_of(client.put(PROFILE, json={"first_name": "X"}), 401, "TOKEN_MISSING")
    assert fresh(session, user).first_name is None


# --- change-password --------------------------------------------------------------------------------


def test_change_password_204_ends_other_sessions(client: TestClient, session: Session, user: User) -> None:
    caller = v1_login(client, user.email)
    other_v1 = v1_login(client, user.email)
    other_legacy = legacy_login(client, user.email)

    response = client.post(
        CHANGE_PASSWORD,
        headers=bearer(caller["access_token"]),
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 204, response.text
    assert response.content == b""

    assert_revoked(client, other_v1)
    assert_revoked(client, other_legacy)
    # The caller's own session goes on, on both APIs.
    assert_alive(client, caller, user)
    rotated = client.post(REFRESH, json={"refresh_token": caller["refresh_token"]})
    assert rotated.status_code == 200, rotated.text

    assert_password(client, user.email, NEW_PASSWORD, PASSWORD)
    entries = audit_entries(session, "user.password_change")
    assert [(e.user_id, e.resource_type, e.resource_id) for e in entries] == [(user.id, "user", str(user.id))]
    assert NEW_PASSWORD not in str(entries[0].details)


def test_change_password_from_legacy_login_keeps_that_session(client: TestClient, user: User) -> None:
    caller = legacy_login(client, user.email)
    other = v1_login(client, user.email)
    response = client.post(
        CHANGE_PASSWORD,
        headers=bearer(caller["access_token"]),
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 204, response.text
    assert_alive(client, caller, user)
    assert_revoked(client, other)


def test_change_password_leaves_other_users_alone(
    client: TestClient, user: User, other: User, user_headers: dict[str, str]
) -> None:
    others = v1_login(client, other.email)
    response = client.post(
        CHANGE_PASSWORD,
        headers=user_headers,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 204, response.text
    assert_alive(client, others, other)
    v1_login(client, other.email, PASSWORD)


@pytest.mark.parametrize(
    "current",
    ["Wrong-Horse-9", "", "correct-horse-9", "é" * 40, "\ud800"],
    ids=["wrong", "empty", "wrong-case", "over-72-bytes", "lone-surrogate"],
)
def test_change_password_wrong_current_403(
    client: TestClient, session: Session, user: User, current: str
) -> None:
    caller = v1_login(client, user.email)
    other = v1_login(client, user.email)
    # Sent as ASCII-escaped JSON, so a lone surrogate travels as the JSON escape it is.
    response = client.post(
        CHANGE_PASSWORD,
        headers={**bearer(caller["access_token"]), "Content-Type": "application/json"},
        content=json.dumps({"current_password": current, "new_password": NEW_PASSWORD}),
    )
    # 403, not 422: the request is well formed; the proof it carries is refused.
    error = error_of(response, 403, "WRONG_PASSWORD")
    assert error["message"] == "The current password is wrong"
    assert_password(client, user.email, PASSWORD, NEW_PASSWORD)
    assert_alive(client, other, user)
    assert audit_entries(session, "user.password_change") == []


@WEAK_PASSWORDS
def test_change_password_weak_new_422(client: TestClient, session: Session, user: User, weak: str) -> None:
    caller = v1_login(client, user.email)
    other = v1_login(client, user.email)
    response = client.post(
        CHANGE_PASSWORD,
        headers=bearer(caller["access_token"]),
        json={"current_password": PASSWORD, "new_password": weak},
    )
    error = error_of(response, 422, "WEAK_PASSWORD")
    assert fields_of(error) in (["new_password"], ["body.new_password"])
    v1_login(client, user.email, PASSWORD)
    assert_alive(client, other, user)
    assert audit_entries(session, "user.password_change") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"current_password": PASSWORD}, "body.new_password"),
        ({"new_password": NEW_PASSWORD}, "body.current_password"),
        ({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "user_id": 2}, "body.user_id"),
        ({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "email": "x@y.z"}, "body.email"),
        ({"current_password": PASSWORD, "new_password": 12345678}, "body.new_password"),
        ([], "body"),
    ],
    ids=["no-new", "no-current", "user-id", "email", "new-not-string", "not-object"],
)
def test_change_password_invalid_body_422(
    client: TestClient, user: User, user_headers: dict[str, str], body: Any, field: str
) -> None:
    error = error_of(client.post(CHANGE_PASSWORD, headers=user_headers, json=body), 422, "VALIDATION_FAILED")
    assert field in fields_of(error)
    v1_login(client, user.email, PASSWORD)


def test_change_password_without_token_401(client: TestClient, user: User) -> None:
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    error_of(client.post(CHANGE_PASSWORD, json=body), 401, "TOKEN_MISSING")
    v1_login(client, user.email, PASSWORD)


def test_change_password_with_revoked_token_401(client: TestClient, user: User) -> None:
    tokens = v1_login(client, user.email)
    assert client.post("/api/v1/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    error_of(
        client.post(CHANGE_PASSWORD, headers=bearer(tokens["access_token"]), json=body), 401, "TOKEN_REVOKED"
    )
    v1_login(client, user.email, PASSWORD)


# --- reset-password (request) -----------------------------------------------------------------------


def test_reset_request_same_answer_for_any_email(
    client: TestClient, session: Session, accounts: Accounts, caplog: pytest.LogCaptureFixture
) -> None:
    active = accounts.create("active@example.com")
    inactive = accounts.create("inactive@example.com", is_active=False)
    answers = []
    with caplog.at_level(logging.WARNING, logger="datalab.mail"):
        for address in ("active@example.com", "nobody@example.com", "inactive@example.com"):
            response = client.post(RESET, json={"email": address})
            answers.append((response.status_code, response.headers["content-type"], response.content))
    assert answers[0][0] == 202
    assert answers[0][2] == b'{"message":"If that email belongs to an account, a reset link is on its way."}'
    assert answers[1] == answers[0]
    assert answers[2] == answers[0]
    # Only the active account got a token and a mail; every request is audited alike.
    rows = list(session.scalars(select(PasswordResetToken)))
    assert [row.user_id for row in rows] == [active.id]
    entries = audit_entries(session, "user.password_reset_request")
    assert [(e.user_id, e.details) for e in entries] == [
        (active.id, {"email": "active@example.com"}),
        (None, {"email": "nobody@example.com"}),
        (inactive.id, {"email": "inactive@example.com"}),
    ]
    assert len(logged_tokens(caplog)) == 1


@pytest.mark.parametrize("active", [True, False], ids=["unknown", "inactive"])
def test_reset_request_unknown_or_inactive_sends_nothing(
    client: TestClient,
    session: Session,
    accounts: Accounts,
    caplog: pytest.LogCaptureFixture,
    active: bool,
) -> None:
    accounts.create("someone@example.com", is_active=active)
    address = "nobody@example.com" if active else "someone@example.com"
    with caplog.at_level(logging.DEBUG, logger="datalab.mail"):
        response = client.post(RESET, json={"email": address})
    assert (response.status_code, response.json()) == (202, RESET_MESSAGE)
    assert [r for r in caplog.records if r.name == "datalab.mail"] == []
    assert count(session, PasswordResetToken) == 0
    [entry] = audit_entries(session, "user.password_reset_request")
    assert entry.details == {"email": address}


def _statements_of(app: FastAPI, call: Callable[[], Response]) -> list[str]:
    """Return the SQL statements (text only, no values) the app runs while `call` runs."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    # On every engine: v1 routes run on the async engine, whose pools exist per event loop.
    event.listen(Engine, "before_cursor_execute", record)
    try:
        assert call().status_code == 202
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    return statements


def test_reset_request_does_the_same_work_for_any_email(
    client: TestClient, app: FastAPI, accounts: Accounts, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Equal work, not equal wall-clock (benchmarks/reset_timing.py measures that): the same
    # statements in the same order, and one new token drawn, whether or not the account exists.
    accounts.create("known@example.com")
    accounts.create("gone@example.com", is_active=False)
    drawn: list[int] = []
    real = secrets.token_urlsafe

    def draw(nbytes: int) -> str:
        drawn.append(nbytes)
        return real(nbytes)

    monkeypatch.setattr(secrets, "token_urlsafe", draw)
    runs = {
        address: _statements_of(app, partial(client.post, RESET, json={"email": address}))
        for address in ("known@example.com", "nobody@example.com", "gone@example.com")
    }
    assert runs["nobody@example.com"] == runs["known@example.com"]
    assert runs["gone@example.com"] == runs["known@example.com"]
    assert any(
        s.lstrip().upper().startswith("INSERT INTO PASSWORD_RESET_TOKEN") for s in runs["known@example.com"]
    )
    assert drawn == [32, 32, 32]


def test_reset_request_stores_only_a_hash_valid_30_minutes(
    client: TestClient, session: Session, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    before = datetime.now(UTC)
    token = request_reset(client, caplog, user.email)
    after = datetime.now(UTC)
    assert len(token) >= 32
    row = session.scalars(select(PasswordResetToken)).one()
    assert row.user_id == user.id
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {row.token_hash, str(row.id)}
    assert row.used_at is None
    assert before - timedelta(seconds=1) <= row.created_at <= after + timedelta(seconds=1)
    assert row.expires_at - row.created_at == timedelta(minutes=30)
    # The development mail names the recipient and the subject.
    mail_log = [r.getMessage() for r in caplog.records if r.name == "datalab.mail"]
    assert mail_log[0].startswith(f"mail to {user.email}: Reset your Datalab password")
    assert "30 minutes" in mail_log[0]
    assert f"http://127.0.0.1:8000/reset-password?token={token}" in mail_log[0]


def test_reset_request_email_is_case_insensitive(
    client: TestClient, session: Session, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    request_reset(client, caplog, "USER@Example.COM")
    assert session.scalars(select(PasswordResetToken)).one().user_id == user.id


def test_reset_request_tokens_are_random(
    client: TestClient, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = {request_reset(client, caplog, user.email) for _ in range(3)}
    assert len(tokens) == 3


def test_reset_request_again_retires_earlier_token(
    client: TestClient, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    first = request_reset(client, caplog, user.email)
    second = request_reset(client, caplog, user.email)
    error_of(confirm(client, first), 401, "INVALID_RESET_TOKEN")
    assert confirm(client, second).status_code == 204
    assert_password(client, user.email, NEW_PASSWORD, PASSWORD)


def test_reset_request_leaves_other_users_tokens_working(
    client: TestClient, user: User, other: User, caplog: pytest.LogCaptureFixture
) -> None:
    users_token = request_reset(client, caplog, user.email)
    request_reset(client, caplog, other.email)
    assert confirm(client, users_token).status_code == 204


def test_reset_request_does_not_end_sessions(
    client: TestClient, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    # Anyone may ask for a reset of any email: asking alone must not sign the owner out.
    tokens = v1_login(client, user.email)
    request_reset(client, caplog, user.email)
    assert_alive(client, tokens, user)
    v1_login(client, user.email, PASSWORD)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body.email"),
        ({"email": 5}, "body.email"),
        ({"email": "user@example.com", "user_id": 1}, "body.user_id"),
        ({"email": "user@example.com", "token": "mine"}, "body.token"),
        ([], "body"),
    ],
    ids=["empty", "not-string", "user-id", "own-token", "not-object"],
)
def test_reset_request_invalid_body_422(
    client: TestClient, session: Session, user: User, body: Any, field: str
) -> None:
    error = error_of(client.post(RESET, json=body), 422, "VALIDATION_FAILED")
    assert field in fields_of(error)
    assert count(session, PasswordResetToken) == 0


# --- reset-password/confirm -------------------------------------------------------------------------


def test_reset_confirm_204_ends_every_session(
    client: TestClient,
    session: Session,
    accounts: Accounts,
    user: User,
    caplog: pytest.LogCaptureFixture,
) -> None:
    v1_tokens = v1_login(client, user.email)
    legacy_tokens = legacy_login(client, user.email)
    pair = accounts.tokens(user)
    minted = {"access_token": pair.access.token, "refresh_token": pair.refresh.token}
    token = request_reset(client, caplog, user.email)

    response = confirm(client, token)
    assert response.status_code == 204, response.text
    assert response.content == b""

    for tokens in (v1_tokens, legacy_tokens, minted):
        assert_revoked(client, tokens)
    assert_password(client, user.email, NEW_PASSWORD, PASSWORD)
    session.expire_all()
    assert session.scalars(select(PasswordResetToken)).one().used_at is not None
    entries = audit_entries(session, "user.password_reset")
    assert [(e.user_id, e.resource_type, e.resource_id) for e in entries] == [(user.id, "user", str(user.id))]
    assert entries[0].request_id == response.headers["X-Request-ID"]


def test_reset_confirm_leaves_other_users_alone(
    client: TestClient, user: User, other: User, caplog: pytest.LogCaptureFixture
) -> None:
    others = v1_login(client, other.email)
    assert confirm(client, request_reset(client, caplog, user.email)).status_code == 204
    assert_alive(client, others, other)
    v1_login(client, other.email, PASSWORD)


def test_reset_confirm_token_single_use_401(
    client: TestClient, session: Session, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    token = request_reset(client, caplog, user.email)
    assert confirm(client, token).status_code == 204
    error = error_of(confirm(client, token, "Third-Password-3"), 401, "INVALID_RESET_TOKEN")
    assert error["type"] == "authentication_error"
    assert error["message"] == "The reset token is invalid, expired or already used"
    assert_password(client, user.email, NEW_PASSWORD, "Third-Password-3")
    assert len(audit_entries(session, "user.password_reset")) == 1


@pytest.mark.parametrize(
    ("age", "status"),
    [(timedelta(minutes=29), 204), (timedelta(minutes=31), 422), (timedelta(days=2), 422)],
    ids=["29-minutes", "31-minutes", "2-days"],
)
def test_reset_confirm_token_valid_30_minutes(
    client: TestClient,
    session: Session,
    user: User,
    caplog: pytest.LogCaptureFixture,
    age: timedelta,
    status: int,
) -> None:
    token = request_reset(client, caplog, user.email)
    row = session.scalars(select(PasswordResetToken)).one()
    row.created_at -= age
    row.expires_at -= age
    session.commit()
    response = confirm(client, token)
    if status == 204:
        assert response.status_code == 204, response.text
        assert_password(client, user.email, NEW_PASSWORD, PASSWORD)
    else:
        error_of(response, 401, "INVALID_RESET_TOKEN")
        assert_password(client, user.email, PASSWORD, NEW_PASSWORD)


def test_reset_confirm_expired_token_401(
    client: TestClient, session: Session, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    tokens = v1_login(client, user.email)
    token = request_reset(client, caplog, user.email)
    row = session.scalars(select(PasswordResetToken)).one()
    row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    session.commit()
    error = error_of(confirm(client, token), 401, "INVALID_RESET_TOKEN")
    assert error["message"] == "The reset token is invalid, expired or already used"
    assert_password(client, user.email, PASSWORD, NEW_PASSWORD)
    assert_alive(client, tokens, user)
    assert audit_entries(session, "user.password_reset") == []


@pytest.mark.parametrize("kind", ["unknown", "stored-hash", "prefix", "upper-cased"])
def test_reset_confirm_unknown_token_401(
    client: TestClient, session: Session, user: User, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    token = request_reset(client, caplog, user.email)
    stored = session.scalars(select(PasswordResetToken)).one().token_hash
    presented = {
        "unknown": "x" * 43,
        "stored-hash": stored,
        "prefix": token[:-1],
        "upper-cased": token.upper() if token.upper() != token else token.lower(),
    }[kind]
    error_of(confirm(client, presented), 401, "INVALID_RESET_TOKEN")
    assert_password(client, user.email, PASSWORD, NEW_PASSWORD)
    # A failed guess does not spend the real token.
    assert confirm(client, token).status_code == 204


@WEAK_PASSWORDS
def test_reset_confirm_weak_password_keeps_token_422(
    client: TestClient, session: Session, user: User, caplog: pytest.LogCaptureFixture, weak: str
) -> None:
    tokens = v1_login(client, user.email)
    token = request_reset(client, caplog, user.email)
    error = error_of(confirm(client, token, weak), 422, "WEAK_PASSWORD")
    assert fields_of(error) in (["new_password"], ["body.new_password"])
    assert_alive(client, tokens, user)
    session.expire_all()
    assert session.scalars(select(PasswordResetToken)).one().used_at is None
    assert confirm(client, token).status_code == 204
    assert_password(client, user.email, NEW_PASSWORD, PASSWORD)


def test_reset_confirm_for_deactivated_account_401(
    client: TestClient, session: Session, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    token = request_reset(client, caplog, user.email)
    user.is_active = False
    session.commit()
    error_of(confirm(client, token), 401, "INVALID_RESET_TOKEN")
    assert fresh(session, user).password_hash.startswith("$2")
    assert audit_entries(session, "user.password_reset") == []
    user.is_active = True
    session.commit()
    assert_password(client, user.email, PASSWORD, NEW_PASSWORD)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"new_password": NEW_PASSWORD}, "body.token"),
        ({"token": "abc"}, "body.new_password"),
        ({"token": "", "new_password": NEW_PASSWORD}, "body.token"),
        ({"token": "x" * 257, "new_password": NEW_PASSWORD}, "body.token"),
        ({"token": 5, "new_password": NEW_PASSWORD}, "body.token"),
        ({"token": "abc", "new_password": NEW_PASSWORD, "email": "user@example.com"}, "body.email"),
        ({"token": "abc", "new_password": NEW_PASSWORD, "user_id": 1}, "body.user_id"),
        ([], "body"),
    ],
    ids=[
        "no-token",
        "no-password",
        "blank-token",
        "long-token",
        "token-not-string",
        "email",
        "user-id",
        "list",
    ],
)
def test_reset_confirm_invalid_body_422(client: TestClient, body: Any, field: str) -> None:
    error = error_of(client.post(CONFIRM, json=body), 422, "VALIDATION_FAILED")
    assert field in fields_of(error)


def test_reset_confirm_unknown_key_does_not_spend_token(
    client: TestClient, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    token = request_reset(client, caplog, user.email)
    body = {"token": token, "new_password": NEW_PASSWORD, "role": "admin"}
    error_of(client.post(CONFIRM, json=body), 422, "VALIDATION_FAILED")
    assert confirm(client, token).status_code == 204


def test_parallel_reset_confirm_succeeds_once(
    lenient_client: TestClient, session: Session, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    token = request_reset(lenient_client, caplog, user.email)
    answers = in_parallel(8, partial(confirm, lenient_client, token))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [204] + [401] * 7, statuses
    assert len(audit_entries(session, "user.password_reset")) == 1


# --- mailers ----------------------------------------------------------------------------------------


@dataclass
class Inbox:
    """What the local SMTP server received."""

    port: int
    envelopes: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(content, policy=email.policy.default) for _, _, content in self.envelopes
        ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    """A real SMTP server on 127.0.0.1 that keeps what it receives."""
    received = Inbox(port=_free_port())
    controller = Controller(received, hostname="127.0.0.1", port=received.port)
    controller.start()
    try:
        yield received
    finally:
        controller.stop()


def smtp_settings(tmp_path: Path, port: int) -> Settings:
    return Settings(
        _env_file=None,
        env="test",
        var_dir=tmp_path,
        jwt_secret_key="k" * 40,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
    )


@pytest.fixture
def use_mailer(app: FastAPI) -> Iterator[Callable[[Mailer], None]]:
    """Swap the app's mailer for the test; the original comes back afterwards."""
    original = app.state.mailer

    def use(mailer: Mailer) -> None:
        app.state.mailer = mailer

    try:
        yield use
    finally:
        app.state.mailer = original


def test_build_mailer_with_smtp_host_sends_over_smtp(tmp_path: Path, inbox: Inbox) -> None:
    settings = smtp_settings(tmp_path, inbox.port)
    mailer = build_mailer(settings)
    assert isinstance(mailer, SmtpMailer)
    mailer.send(Mail(to="ada@example.com", subject="Hello there", body="Line one\nhttp://x/?token=abc\n"))
    assert len(inbox.envelopes) == 1
    mail_from, recipients, _ = inbox.envelopes[0]
    assert recipients == ["ada@example.com"]
    assert mail_from == "no-reply@localhost"
    message = inbox.messages()[0]
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Hello there"
    assert message["From"] == "Datalab <no-reply@localhost>"
    assert message.get_content().replace("\r\n", "\n") == "Line one\nhttp://x/?token=abc\n"


@pytest.mark.parametrize("env", ["development", "test"])
def test_build_mailer_without_smtp_host_logs_the_mail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, env: str
) -> None:
    settings = Settings(_env_file=None, env=env, var_dir=tmp_path, jwt_secret_key="k" * 40, smtp_host=None)
    mailer = build_mailer(settings)
    assert not isinstance(mailer, SmtpMailer)
    with caplog.at_level(logging.WARNING, logger="datalab.mail"):
        mailer.send(Mail(to="ada@example.com", subject="Reset", body="go to http://x/?token=abc123"))
    assert TOKEN_IN_LINK.findall(caplog.text) == ["abc123"]
    assert "ada@example.com" in caplog.text


def test_build_mailer_in_production_without_smtp_never_logs_the_body(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        _env_file=None,
        env="production",
        var_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'prod.db'}",
        jwt_secret_key="0123456789abcdefghijklmnopqrstuvwxyzABCD",
        encryption_keys="ZmRqa2xzamZka2xzamZka2xzamZka2xzamZka2xzams=",
        smtp_host=None,
    )
    mailer = build_mailer(settings)
    assert not isinstance(mailer, SmtpMailer)
    with caplog.at_level(logging.DEBUG):
        mailer.send(Mail(to="ada@example.com", subject="Reset", body="secret http://x/?token=abc123"))
    assert "dropped" in caplog.text
    assert "abc123" not in caplog.text
    assert "secret" not in caplog.text


def test_log_mailer_hidden_logs_drop_but_never_body(caplog: pytest.LogCaptureFixture) -> None:
    body = "Follow http://127.0.0.1:8000/reset-password?token=SuperSecretToken123 now"
    with caplog.at_level(logging.DEBUG):
        LogMailer(reveal=False).send(Mail(to="ada@example.com", subject="Reset your password", body=body))
    records = [r for r in caplog.records if r.name == "datalab.mail"]
    assert len(records) == 1
    assert records[0].levelno >= logging.WARNING
    assert "dropped" in records[0].getMessage()
    assert "SuperSecretToken123" not in caplog.text
    assert "token=" not in caplog.text
    assert "Follow" not in caplog.text


def test_reset_request_over_smtp_delivers_working_token(
    client: TestClient,
    session: Session,
    user: User,
    tmp_path: Path,
    inbox: Inbox,
    use_mailer: Callable[[Mailer], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    use_mailer(SmtpMailer(smtp_settings(tmp_path, inbox.port)))
    with caplog.at_level(logging.DEBUG, logger="datalab.mail"):
        response = client.post(RESET, json={"email": "USER@example.com"})
    assert (response.status_code, response.json()) == (202, RESET_MESSAGE)
    assert len(inbox.envelopes) == 1
    assert inbox.envelopes[0][1] == [user.email]
    message = inbox.messages()[0]
    assert (message["To"], message["Subject"]) == (user.email, "Reset your Datalab password")
    tokens = TOKEN_IN_LINK.findall(message.get_content())
    assert len(tokens) == 1
    # Over SMTP the link is not written to the log as well.
    assert tokens[0] not in caplog.text
    assert (
        session.scalars(select(PasswordResetToken)).one().token_hash
        == hashlib.sha256(tokens[0].encode()).hexdigest()
    )

    assert confirm(client, tokens[0]).status_code == 204
    assert_password(client, user.email, NEW_PASSWORD, PASSWORD)


def test_reset_request_over_smtp_unknown_email_sends_nothing(
    client: TestClient, tmp_path: Path, inbox: Inbox, use_mailer: Callable[[Mailer], None], user: User
) -> None:
    use_mailer(SmtpMailer(smtp_settings(tmp_path, inbox.port)))
    response = client.post(RESET, json={"email": "nobody@example.com"})
    assert (response.status_code, response.json()) == (202, RESET_MESSAGE)
    assert inbox.envelopes == []


def test_reset_request_answer_unchanged_when_smtp_is_down(
    lenient_client: TestClient,
    session: Session,
    user: User,
    tmp_path: Path,
    use_mailer: Callable[[Mailer], None],
) -> None:
    # Nothing listens on the port: the mail fails after the answer, which stays the usual one.
    use_mailer(SmtpMailer(smtp_settings(tmp_path, _free_port())))
    for address in (user.email, "nobody@example.com"):
        response = lenient_client.post(RESET, json={"email": address})
        assert (response.status_code, response.json()) == (202, RESET_MESSAGE)
    assert count(session, PasswordResetToken) == 1


def test_reset_request_in_production_without_smtp_never_logs_the_link(
    client: TestClient,
    session: Session,
    user: User,
    use_mailer: Callable[[Mailer], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    use_mailer(LogMailer(reveal=False))
    with caplog.at_level(logging.DEBUG):
        response = client.post(RESET, json={"email": user.email})
    assert (response.status_code, response.json()) == (202, RESET_MESSAGE)
    assert count(session, PasswordResetToken) == 1
    assert "dropped" in caplog.text
    assert "token=" not in caplog.text
    assert TOKEN_IN_LINK.findall(caplog.text) == []


def test_sessions_table_untouched_by_reset_request(
    client: TestClient, session: Session, user: User, caplog: pytest.LogCaptureFixture
) -> None:
    v1_login(client, user.email)
    request_reset(client, caplog, user.email)
    session.expire_all()
    assert [s.revoked_at for s in session.scalars(select(AuthSession))] == [None]


def test_register_cannot_make_admin_even_with_admin_token(
    client: TestClient, session: Session, admin_headers: dict[str, str]
) -> None:
    body = {"email": "x@example.com", "password": PASSWORD, "role": Role.ADMIN.value}
    error_of(client.post(REGISTER, headers=admin_headers, json=body), 422, "VALIDATION_FAILED")
    assert session.scalars(select(User).where(User.email == "x@example.com")).one_or_none() is None
