"""Projects: a named group of users sharing data sources and datasets, each member with a role."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared_models.base import Base, UTCDateTime, utcnow


class ProjectRole(StrEnum):
    """What a member may do in a project, least first."""

    VIEWER = "viewer"
    EDITOR = "editor"
    OWNER = "owner"


class Project(Base):
    """A project; its creator is its first `owner` member."""

    __tablename__ = "project"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class ProjectMember(Base):
    """One user's membership of one project."""

    __tablename__ = "project_member"
    __table_args__ = (CheckConstraint(f"role IN {tuple(r.value for r in ProjectRole)}", name="role_known"),)

    project_id: Mapped[int] = mapped_column(ForeignKey("project.id", ondelete="CASCADE"), primary_key=True)
    # Indexed: "which projects is this user in" runs on every project-scoped request.
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
