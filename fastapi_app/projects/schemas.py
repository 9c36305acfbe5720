"""Projects and members as the v1 API reads and writes them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from datalab.fields import Description, Email, ResourceName
from datalab.inputs import Input
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


class MemberAdd(Input):
    """A user to add, by id or by email (exactly one), with a project role."""

    user_id: int | None = Field(None, ge=1)
    email: Email | None = None
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
