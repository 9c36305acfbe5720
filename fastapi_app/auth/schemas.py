"""Bodies of the v1 auth routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class TokenPairRead(BaseModel):
    """An access token and the refresh token that renews it."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires")


class RefreshIn(BaseModel):
    """A refresh token to exchange for a new pair."""

    model_config = ConfigDict(extra="forbid", strict=True)

    refresh_token: str = Field(min_length=1, max_length=4096)


class UserRead(BaseModel):
    """A user as the API shows it; never the password hash."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    first_name: str | None
    last_name: str | None
    role: str
    is_active: bool
    department: str | None
    organization: str | None
    timezone: str
    language: str
    last_login: datetime | None
    created_at: datetime
