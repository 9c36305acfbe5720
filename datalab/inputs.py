"""Request bodies both halves accept; unknown keys are refused unless a route says otherwise."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from datalab.connectors.configs import config_schema
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


def _create_variants(schema: dict[str, Any]) -> None:
    # One variant per type, its config checked as that type's: what the service enforces.
    base = {k: v for k, v in schema.items() if k not in ("$defs", "description")}
    variants = []
    for source_type in SourceType:
        properties = {
            **base["properties"],
            "type": {"type": "string", "enum": [source_type.value]},
            "config": config_schema(source_type),
        }
        variants.append({**base, "properties": properties, "title": f"{source_type.value} source"})
    description = schema.get("description")
    schema.clear()
    schema.update({"oneOf": variants, "description": description})


def _any_config(schema: dict[str, Any]) -> None:
    # Any type's config; it must fit the source's type (the new one, when `type` is sent too).
    configs = list({str(config_schema(t)): config_schema(t) for t in SourceType}.values())
    schema["properties"]["config"] = {"anyOf": [*configs, {"type": "null"}]}


class DataSourceCreate(Input):
    """A new data source."""

    model_config = ConfigDict(json_schema_extra=_create_variants)

    name: ResourceName
    type: SourceType = Field(strict=False)
    config: Config
    description: Description | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)


class DataSourceUpdate(Input):
    """Changes to a data source; every field optional, a masked secret keeps its stored value."""

    model_config = ConfigDict(json_schema_extra=_any_config)

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
