"""Users as the v1 API shows and changes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fastapi_app.pagination import Paginated
from shared_models import Role


class UserRead(BaseModel):
    """A user; never the password hash."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    first_name: str | None
    last_name: str | None
    role: Role
    is_active: bool
    department: str | None
    organization: str | None
    timezone: str
    language: str
    last_login: datetime | None
    created_at: datetime


class ProfileRead(UserRead):
    """The caller's own profile: a user, with the avatar and the preferences the client keeps."""

    avatar_url: str | None
    preferences: dict[str, Any]


class UserList(Paginated[UserRead]):
    """A slice of the user list."""


class UserAdminUpdate(BaseModel):
    """What an admin may change about a user."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    is_active: bool | None = Field(None, strict=True)
