"""Helpers the tests share: accounts with known passwords, tokens and table counts."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from typing import Any

from fastapi import FastAPI
from httpx2 import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datalab.connectors.registry import KINDS
from datalab.passwords import PasswordHasher
from datalab.services import sessions
from shared_models import AuditLog, Base, Role, User

PASSWORD = "Correct-Horse-9"
OTHER_SECRET = "a-different-signing-secret-that-is-long-enough-for-hs256-0123456789"

# What the legacy contract promises, as clients check it.
USER_KEYS = {
    "id",
    "email",
    "first_name",
    "last_name",
    "role",
    "is_active",
    "department",
    "organization",
    "timezone",
    "language",
    "last_login",
    "created_at",
}
# The caller's own profile on v1 shows two more (never in the legacy user object).
PROFILE_KEYS = USER_KEYS | {"avatar_url", "preferences"}
ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00")
REVOKED = {"msg": "Token has been revoked"}
FORBIDDEN = {"msg": "Insufficient permissions"}
NOT_AN_OBJECT = {"msg": "Request body must be a JSON object"}


@cache
def _hash(password: str, rounds: int) -> str:
    # bcrypt is slow on purpose; hash each test password once per run.
    return PasswordHasher(rounds).hash(password)


class Accounts:
    """Create users directly in the database and mint their tokens without a login request."""

    def __init__(self, app: FastAPI, session: Session) -> None:
        self.app = app
        self.session = session
        self.settings = app.state.settings

    def create(
        self, email: str, role: Role = Role.USER, *, password: str = PASSWORD, is_active: bool = True
    ) -> User:
        """Create and commit a user with `password`."""
        user = User(
            email=email.lower(),
            password_hash=_hash(password, self.settings.security.bcrypt_rounds),
            role=role.value,
            is_active=is_active,
        )
        self.session.add(user)
        self.session.commit()
        return user

    def tokens(self, user: User) -> sessions.TokenPair:
        """Open a login session for `user` and return its tokens."""
        pair = sessions.sign_in(self.session, self.settings, user)
        self.session.commit()
        return pair

    def headers(self, user: User) -> dict[str, str]:
        """Return Authorization headers with a fresh access token for `user`."""
        return bearer(self.tokens(user).access.token)


def bearer(token: str) -> dict[str, str]:
    """Return the Authorization header for `token`."""
    return {"Authorization": f"Bearer {token}"}


def count(session: Session, model: type[Base]) -> int:
    """Return how many rows `model`'s table holds now."""
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


ENVELOPE_KEYS = {"type", "code", "message", "details", "request_id", "timestamp", "service"}


def error_of(response: Response, status: int, code: str) -> dict[str, Any]:
    """Check the v1 envelope of an error answer and return its `error` object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == ENVELOPE_KEYS
    assert error["code"] == code
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert error["service"] == "datalab-api"
    assert isinstance(error["message"], str)
    assert error["message"]
    assert datetime.fromisoformat(error["timestamp"]).utcoffset() is not None
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    return error


def fields_of(error: dict[str, Any]) -> list[str]:
    """Return the fields a validation error names."""
    return [detail["field"] for detail in error["details"]]


def audit_entries(session: Session, action: str) -> list[AuditLog]:
    """Return the committed audit entries with `action`, oldest first."""
    session.expire_all()
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


def ids_of(response: Response) -> list[int]:
    """Check a v1 list answered 200 and return the ids of its items, in order."""
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def valid_config(source_type: str, secret: str) -> dict[str, Any]:
    """Return a config that fits `source_type`, with `secret` where that type keeps one."""
    database: dict[str, Any] = {
        "host": "db.internal",
        "database": "sales",
        "username": "reporter",
        "password": secret,
    }
    configs: dict[str, dict[str, Any]] = {
        "postgresql": {**database, "port": 5432},
        "mysql": {**database, "port": 3306},
        "sqlite": {"path": "sales.db"},
        "csv": {"path": "sales.csv"},
        "json": {"path": "sales.json"},
        "rest_api": {"base_url": "https://api.example.com", "headers": {"Authorization": f"Bearer {secret}"}},
    }
    kind = KINDS.get(source_type)
    if source_type not in configs and kind is not None and kind.is_file:
        return {"path": f"sales.{source_type}"}
    return configs.get(source_type, {})
