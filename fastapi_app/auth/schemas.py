"""Bodies of the v1 auth routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from datalab.fields import AvatarUrl, LoginEmail, LoginPassword, NewPassword, Preferences
from datalab.inputs import ProfileUpdate


class Body(BaseModel):
    """Base of the auth bodies: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class TokenPairRead(BaseModel):
    """An access token and the refresh token that renews it."""

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth 2 token type, not a secret
    expires_in: int = Field(description="Seconds until the access token expires")


class RefreshIn(Body):
    """A refresh token to exchange for a new pair."""

    refresh_token: str = Field(min_length=1, max_length=4096)


class ProfileChange(ProfileUpdate):
    """The profile fields a user may change through v1: the legacy ones, an avatar and preferences.

    The legacy PUT /api/users/me keeps refusing the two new keys; its contract is frozen.
    """

    avatar_url: AvatarUrl | None = None
    # Not nullable: an empty object clears them. Defaults are never applied (exclude_unset).
    preferences: Preferences = Field(default_factory=dict)


class ChangePasswordIn(Body):
    """The current password, to prove it is really the user, and the new one."""

    current_password: LoginPassword
    new_password: NewPassword


class ResetRequestIn(Body):
    """The email of the account whose password was forgotten."""

    email: LoginEmail


class ResetConfirmIn(Body):
    """The token from the reset mail and the new password."""

    token: str = Field(min_length=1, max_length=256)
    new_password: NewPassword


class MessageRead(BaseModel):
    """A sentence for people."""

    message: str
