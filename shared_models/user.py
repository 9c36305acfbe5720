"""Users and their roles."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Integer, String, text, true
from sqlalchemy.orm import Mapped, mapped_column

from shared_models.base import Base, UTCDateTime, utcnow


class Role(StrEnum):
    """Roles, highest first."""

    ADMIN = "admin"
    ANALYST = "analyst"
    USER = "user"
    VIEWER = "viewer"


ROLE_RANK = {Role.ADMIN: 4, Role.ANALYST: 3, Role.USER: 2, Role.VIEWER: 1}


class User(Base):
    """A person who signs in; `email` is stored lower-cased, so it is unique case-insensitively."""

    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint(f"role IN {tuple(r.value for r in Role)}", name="role_known"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20), default=Role.USER.value)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    department: Mapped[str | None] = mapped_column(String(100))
    organization: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    language: Mapped[str] = mapped_column(String(16), default="en")
    # v1 profile fields (revision 0005); the legacy user object does not show them.
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    last_login: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def has_role_at_least(self, role: Role) -> bool:
        """Tell whether this user's role ranks at or above `role`."""
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[role]
