"""Request bodies both halves accept; unknown keys are refused unless a route says otherwise."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from datalab.errors import InvalidInput
from datalab.fields import (
    Config,
    Description,
    Email,
    Language,
    LoginEmail,
    LoginPassword,
    NewPassword,
    OrgName,
    PersonName,
    Provider,
    ResourceName,
    Tag,
    Timezone,
)
from shared_models import Role, SourceType

M = TypeVar("M", bound="Input")


class Input(BaseModel):
    """Base of every request body: strict about unknown keys and about types."""

    model_config = ConfigDict(extra="forbid", strict=True)


class RegisterIn(Input):
    """Sign-up: new accounts always get the `user` role."""

    email: Email
    password: NewPassword
    first_name: PersonName | None = None
    last_name: PersonName | None = None


class LoginIn(Input):
    """Credentials; any password string is accepted here and checked against the hash."""

    email: LoginEmail
    password: LoginPassword


class ProfileUpdate(Input):
    """The profile fields a user may change about themselves."""

    first_name: PersonName | None = None
    last_name: PersonName | None = None
    department: OrgName | None = None
    organization: OrgName | None = None
    # Not nullable: these columns always hold a value. Defaults are never applied (exclude_unset).
    timezone: Timezone = "UTC"
    language: Language = "en"


class RoleChange(Input):
    """A new role for a user."""

    role: Role = Field(strict=False)


class DataSourceCreate(Input):
    """A new data source."""

    name: ResourceName
    type: SourceType = Field(strict=False)
    config: Config
    description: Description | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)


class DataSourceUpdate(Input):
    """Changes to a data source; every field optional, a masked secret keeps its stored value."""

    name: ResourceName | None = None
    type: SourceType | None = Field(None, strict=False)
    config: Config | None = None
    description: Description | None = None
    tags: list[Tag] | None = Field(None, max_length=20)


class IntegrationCreate(Input):
    """A new integration."""

    name: ResourceName
    provider: Provider
    config: Config


class IntegrationUpdate(Input):
    """Changes to an integration; a masked secret keeps its stored value."""

    name: ResourceName | None = None
    config: Config | None = None


def parse_input(model: type[M], data: dict[str, object], *, ignore_unknown: bool = False) -> M:
    """Validate `data` as `model`, turning the first problem into `InvalidInput`."""
    if ignore_unknown:
        data = {k: v for k, v in data.items() if k in model.model_fields}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_input(exc) from None


def invalid_input(exc: ValidationError) -> InvalidInput:
    """Describe the first problem of a validation error as `field: reason`."""
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "body"
    if error["type"] == "extra_forbidden":
        return InvalidInput(field, "unknown field")
    if error["type"] == "missing":
        return InvalidInput(field, "is required")
    reason = error["msg"].removeprefix("Value error, ")
    return InvalidInput(field, reason[:1].lower() + reason[1:])
