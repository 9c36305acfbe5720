"""Who may do what to a data source or dataset: the one access decision every route uses.

A personal resource (no project) is its owner's alone; an admin reaches everything. A resource
in a project is reached through membership only: a non-member gets the same NotFound as for a
missing id (no existence leak), whoever created it. What a member may do is decided by the lower
of their global role and their project role, a project viewer ranking as a global viewer, an
editor as an analyst and an owner as an admin (inside that project only).
"""

from __future__ import annotations

from enum import Enum

from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from datalab.errors import Forbidden
from shared_models import ROLE_RANK, ProjectMember, ProjectRole, Role, User

PROJECT_RANK = {
    ProjectRole.VIEWER: ROLE_RANK[Role.VIEWER],
    ProjectRole.EDITOR: ROLE_RANK[Role.ANALYST],
    ProjectRole.OWNER: ROLE_RANK[Role.ADMIN],
}


class Action(Enum):
    """What a request does to a resource, with the lowest effective role it needs."""

    READ = Role.VIEWER
    CHANGE_SOURCE = Role.USER  # create, change, delete or test a data source
    CHANGE_DATASET = Role.ANALYST  # upload, add a version, delete a dataset
    QUERY = Role.ANALYST  # schema and query
    # Rename, delete, members: a project's owners (whatever their global role) and admins.
    MANAGE_PROJECT = Role.ADMIN


def member_projects(actor: User) -> ColumnElement[int]:
    """Select the ids of the projects `actor` is a member of, as a subquery."""
    return select(ProjectMember.project_id).where(ProjectMember.user_id == actor.id).scalar_subquery()


def visible(
    actor: User, owner_id: InstrumentedAttribute[int], project_id: InstrumentedAttribute[int | None]
) -> ColumnElement[bool]:
    """Return the WHERE condition for rows `actor` may see: own personal ones, or in their projects."""
    if actor.role == Role.ADMIN:
        return true()
    personal = and_(project_id.is_(None), owner_id == actor.id)
    return or_(personal, project_id.in_(member_projects(actor)))


def owned_and_visible(
    actor: User, owner_id: InstrumentedAttribute[int], project_id: InstrumentedAttribute[int | None]
) -> ColumnElement[bool]:
    """Return the condition for rows `actor` owns and may still see (the legacy API's "own")."""
    if actor.role == Role.ADMIN:
        return true()
    return and_(owner_id == actor.id, or_(project_id.is_(None), project_id.in_(member_projects(actor))))


def project_role(session: Session, actor: User, project_id: int) -> ProjectRole | None:
    """Return `actor`'s role in the project, read now (so a removal counts on the next request)."""
    role = session.scalar(
        select(ProjectMember.role).where(
            ProjectMember.project_id == project_id, ProjectMember.user_id == actor.id
        )
    )
    return ProjectRole(role) if role is not None else None


def effective_rank(session: Session, actor: User, project_id: int | None) -> int:
    """Return the rank `actor` acts with on a resource: the lower of global and project role."""
    rank = ROLE_RANK[Role(actor.role)]
    if project_id is None or actor.role == Role.ADMIN:
        return rank
    role = project_role(session, actor, project_id)
    return min(rank, PROJECT_RANK[role]) if role is not None else 0


def allows(session: Session, actor: User, project_id: int | None, action: Action) -> bool:
    """Tell whether `actor` may do `action` on a resource of `project_id` they can already see."""
    if action is Action.MANAGE_PROJECT and project_id is not None and actor.role != Role.ADMIN:
        return project_role(session, actor, project_id) == ProjectRole.OWNER
    return effective_rank(session, actor, project_id) >= ROLE_RANK[action.value]


def role_refusal(role: Role) -> Forbidden:
    """Return the 403 for a caller below `role`, naming the roles that may."""
    allowed = [r.value for r in Role if ROLE_RANK[r] >= ROLE_RANK[role]]
    return Forbidden(
        f"Insufficient permissions: this needs the {role.value} role or higher ({', '.join(allowed)})",
        details={"required_role": role.value, "allowed_roles": allowed},
    )


def require(session: Session, actor: User, project_id: int | None, action: Action) -> None:
    """Raise Forbidden unless `actor` may do `action` on a resource of `project_id`."""
    # The global role alone falls short (project owners manage whatever their role): say who may.
    if action is not Action.MANAGE_PROJECT and not actor.has_role_at_least(action.value):
        raise role_refusal(action.value)
    if not allows(session, actor, project_id, action):
        raise Forbidden("Insufficient permissions")
