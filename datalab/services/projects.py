"""Projects and their members: who shares which data sources and datasets, and with what role."""

from __future__ import annotations

from typing import Any

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from datalab import audit
from datalab.errors import Conflict, Forbidden, NotFound
from datalab.permissions import Action, member_projects, require
from datalab.services.pages import Page, PageRequest, paginate, valid_id
from shared_models import Project, ProjectMember, ProjectRole, Role, User

LAST_OWNER = "A project keeps at least one owner"


def get_visible(session: Session, actor: User, project_id: int) -> Project:
    """Return a project `actor` is a member of (any, for an admin); anything else is NotFound."""
    statement = select(Project).where(Project.id == project_id)
    if actor.role != Role.ADMIN:
        statement = statement.where(Project.id.in_(member_projects(actor)))
    project = session.scalars(statement).one_or_none() if valid_id(project_id) else None
    if project is None:
        raise NotFound("Project not found")
    return project


def list_visible(session: Session, actor: User, request: PageRequest) -> Page[Project]:
    """Return one page of the projects `actor` is in (every one, for an admin), newest first."""
    statement = select(Project)
    if actor.role != Role.ADMIN:
        statement = statement.where(Project.id.in_(member_projects(actor)))
    return paginate(session, statement.order_by(Project.id.desc()), request)


def create(session: Session, actor: User, *, name: str, description: str | None) -> Project:
    """Create a project with `actor` as its owner; viewers create nothing."""
    if actor.role == Role.VIEWER:
        raise Forbidden("Insufficient permissions")
    project = Project(name=name, description=description, created_by=actor.id)
    session.add(project)
    session.flush()
    session.add(ProjectMember(project_id=project.id, user_id=actor.id, role=ProjectRole.OWNER.value))
    _audit(session, "project.create", actor, project, {"name": name})
    return project


def update(session: Session, actor: User, project: Project, changes: dict[str, Any]) -> Project:
    """Rename or describe a project (its owners and admins)."""
    require(session, actor, project.id, Action.MANAGE_PROJECT)
    if changes.get("name") is not None:
        project.name = changes["name"]
    if "description" in changes:
        project.description = changes["description"]
    session.flush()
    _audit(session, "project.update", actor, project, {"fields": sorted(changes)})
    return project


def delete(session: Session, actor: User, project: Project) -> None:
    """Delete a project with its sources and datasets (their objects go at the next `storage gc`)."""
    require(session, actor, project.id, Action.MANAGE_PROJECT)
    _audit(session, "project.delete", actor, project, {"name": project.name})
    session.delete(project)
    session.flush()


def members(session: Session, project: Project) -> list[tuple[ProjectMember, User]]:
    """Return the project's members with their accounts, oldest first."""
    rows = session.execute(
        select(ProjectMember, User)
        .join(User, User.id == ProjectMember.user_id)
        .where(ProjectMember.project_id == project.id)
        .order_by(ProjectMember.created_at, User.id)
    )
    return [(member, user) for member, user in rows]


def add_member(
    session: Session,
    actor: User,
    project: Project,
    *,
    user_id: int | None,
    email: str | None,
    role: ProjectRole,
) -> tuple[ProjectMember, User]:
    """Add an active user, named by id or email, with `role`; a member already there is a Conflict."""
    require(session, actor, project.id, Action.MANAGE_PROJECT)
    statement = select(User).where(User.is_active.is_(True))
    if user_id is not None:
        statement = statement.where(User.id == user_id) if valid_id(user_id) else statement.where(false())
    else:
        statement = statement.where(User.email == (email or "").lower())
    user = session.scalars(statement).one_or_none()
    if user is None:
        # 409, not 404: on this route a 404 says the project is not there (or not the caller's).
        raise Conflict("No active user has that id or email", code="NO_SUCH_USER")
    if session.get(ProjectMember, (project.id, user.id)) is not None:
        raise Conflict("The user is already a member of this project")
    member = ProjectMember(project_id=project.id, user_id=user.id, role=role.value)
    session.add(member)
    session.flush()
    _audit(session, "project.member_add", actor, project, {"user_id": user.id, "role": role.value})
    return member, user


def get_member(session: Session, project: Project, user_id: int) -> tuple[ProjectMember, User]:
    """Return one member of the project, or NotFound."""
    member = session.get(ProjectMember, (project.id, user_id)) if valid_id(user_id) else None
    if member is None:
        raise NotFound("Member not found")
    user = session.get(User, user_id)
    assert user is not None, "the foreign key guarantees it"
    return member, user


def change_role(
    session: Session, actor: User, project: Project, member: ProjectMember, role: ProjectRole
) -> ProjectMember:
    """Give a member another role; the last owner cannot step down."""
    require(session, actor, project.id, Action.MANAGE_PROJECT)
    if member.role == ProjectRole.OWNER and role != ProjectRole.OWNER:
        _keep_an_owner(session, project)
    previous = member.role
    member.role = role.value
    session.flush()
    details = {"user_id": member.user_id, "from": previous, "to": role.value}
    _audit(session, "project.member_role", actor, project, details)
    return member


def remove_member(session: Session, actor: User, project: Project, member: ProjectMember) -> None:
    """Remove a member (owners and admins; anyone may leave); it counts from their next request."""
    if member.user_id != actor.id:
        require(session, actor, project.id, Action.MANAGE_PROJECT)
    if member.role == ProjectRole.OWNER:
        _keep_an_owner(session, project)
    session.delete(member)
    session.flush()
    _audit(session, "project.member_remove", actor, project, {"user_id": member.user_id})


def _keep_an_owner(session: Session, project: Project) -> None:
    owners = session.scalar(
        select(func.count())
        .select_from(ProjectMember)
        .where(ProjectMember.project_id == project.id, ProjectMember.role == ProjectRole.OWNER.value)
    )
    if (owners or 0) <= 1:
        raise Conflict(LAST_OWNER)


def _audit(session: Session, action: str, actor: User, project: Project, details: dict[str, Any]) -> None:
    audit.record(
        session, action, user_id=actor.id, resource_type="project", resource_id=project.id, details=details
    )
