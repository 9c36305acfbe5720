"""Helpers the tests share: accounts with known passwords, tokens and table counts."""

from __future__ import annotations

import re
from functools import cache

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from datalab.passwords import PasswordHasher
from datalab.services import sessions
from shared_models import Base, Role, User

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
            password_hash=_hash(password, self.settings.bcrypt_rounds),
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
