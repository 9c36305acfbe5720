"""Projects and members as the v1 API reads and writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from datalab.fields import Description, Email, ResourceName, whole_number
from datalab.inputs import Input
from datalab.services.pages import MAX_ID
from fastapi_app.pagination import Paginated
from shared_models import ProjectMember, ProjectRole, User


class ProjectCreate(Input):
    """A new project; its creator becomes its owner."""

    name: ResourceName
    description: Description | None = None


class ProjectUpdate(Input):
    """Changes to a project; a null name means unchanged."""

    name: ResourceName | None = None
    description: Description | None = None


class ProjectRead(BaseModel):
    """A project."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    created_by: int | None
    created_at: datetime
    updated_at: datetime


class ProjectList(Paginated[ProjectRead]):
    """A slice of the caller's projects."""


# A project's id in a JSON body: 7 or 7.0, as JSON Schema counts integers.
ProjectId = whole_number(1, MAX_ID)


MemberId = Annotated[int, Field(ge=1, le=MAX_ID)]


def _given(value: object) -> object:
    # Left out, not null: the schema's "exactly one of" counts the keys that are present.
    if value is None:
        raise ValueError("leave it out instead of sending null")
    if isinstance(value, float) and value.is_integer():
        return int(value)  # 7.0 is the integer 7 to JSON Schema, so to us too
    return value


def _absent_by_default(schema: dict[str, Any]) -> None:
    # The two keys are absent, not null, when not given; the schema shows no null default.
    for name in ("user_id", "email"):
        schema["properties"][name].pop("default", None)


def _member_add_schema(schema: dict[str, Any]) -> None:
    _absent_by_default(schema)
    schema["oneOf"] = [{"required": ["user_id"]}, {"required": ["email"]}]


class MemberAdd(Input):
    """A user to add, by id or by email (exactly one), with a project role."""

    model_config = ConfigDict(json_schema_extra=_member_add_schema)

    user_id: Annotated[
        Annotated[int, Field(ge=1, le=MAX_ID)] | SkipJsonSchema[None], BeforeValidator(_given)
    ] = None
    email: Annotated[Email | SkipJsonSchema[None], BeforeValidator(_given)] = None
    role: ProjectRole = Field(ProjectRole.VIEWER, strict=False)

    @model_validator(mode="after")
    def _one_way(self) -> MemberAdd:
        if (self.user_id is None) == (self.email is None):
            raise ValueError("give exactly one of user_id and email")
        return self


class MemberUpdate(Input):
    """A member's new project role."""

    role: ProjectRole = Field(strict=False)


class MemberRead(BaseModel):
    """A project member."""

    user_id: int
    email: str
    role: ProjectRole
    created_at: datetime

    @classmethod
    def of(cls, member: ProjectMember, user: User) -> MemberRead:
        """Describe one membership."""
        return cls(
            user_id=user.id, email=user.email, role=ProjectRole(member.role), created_at=member.created_at
        )


class MemberList(BaseModel):
    """Every member of a project."""

    items: list[MemberRead]
