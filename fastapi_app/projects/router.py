"""Projects under /api/v1/projects: shared spaces for data sources and datasets, and their members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from sqlalchemy.orm import Session

from datalab.services import projects
from datalab.services.pages import MAX_ID
from fastapi_app.dependencies import CurrentUser, SessionDep
from fastapi_app.pagination import PageDep
from fastapi_app.projects.dependencies import VisibleProject
from fastapi_app.projects.schemas import (
    MemberAdd,
    MemberList,
    MemberRead,
    MemberUpdate,
    ProjectCreate,
    ProjectList,
    ProjectRead,
    ProjectUpdate,
)
from fastapi_app.responses import errors

router = APIRouter(prefix="/projects", tags=["projects"])
UserId = Annotated[int, Path(ge=1, le=MAX_ID, description="The member's user id")]


@router.get("", summary="List projects", responses=errors(401, 422))
async def list_projects(session: SessionDep, user: CurrentUser, page: PageDep) -> ProjectList:
    """List the projects the caller is a member of (every one, for an admin), newest first."""

    def answer(db: Session) -> ProjectList:
        found = projects.list_visible(db, user, page)
        items = [ProjectRead.model_validate(p) for p in found.items]
        return ProjectList(items=items, total=found.total, limit=found.limit, offset=found.offset)

    return await session.run_sync(answer)


@router.post(
    "", summary="Create a project", status_code=status.HTTP_201_CREATED, responses=errors(401, 403, 422)
)
async def create_project(session: SessionDep, user: CurrentUser, project_in: ProjectCreate) -> ProjectRead:
    """Create a project owned by the caller (users and up)."""

    def answer(db: Session) -> ProjectRead:
        project = projects.create(db, user, name=project_in.name, description=project_in.description)
        return ProjectRead.model_validate(project)

    return await session.run_sync(answer)


@router.get("/{project_id}", summary="Get a project", responses=errors(401, 404, 422))
def get_project(project: VisibleProject) -> ProjectRead:
    """Return a project the caller is a member of."""
    return ProjectRead.model_validate(project)


@router.patch("/{project_id}", summary="Change a project", responses=errors(401, 403, 404, 422))
async def update_project(
    session: SessionDep, user: CurrentUser, project: VisibleProject, project_in: ProjectUpdate
) -> ProjectRead:
    """Rename or describe a project (its owners and admins)."""

    def answer(db: Session) -> ProjectRead:
        changes = project_in.model_dump(exclude_unset=True)
        return ProjectRead.model_validate(projects.update(db, user, project, changes))

    return await session.run_sync(answer)


@router.delete(
    "/{project_id}",
    summary="Delete a project",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 422),
)
async def delete_project(session: SessionDep, user: CurrentUser, project: VisibleProject) -> Response:
    """Delete a project with its data sources and datasets (owners and admins)."""

    def answer(db: Session) -> Response:
        projects.delete(db, user, project)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return await session.run_sync(answer)


@router.get("/{project_id}/members", summary="List a project's members", responses=errors(401, 404, 422))
async def list_members(session: SessionDep, project: VisibleProject) -> MemberList:
    """List every member with their project role."""

    def answer(db: Session) -> MemberList:
        return MemberList(items=[MemberRead.of(m, u) for m, u in projects.members(db, project)])

    return await session.run_sync(answer)


@router.post(
    "/{project_id}/members",
    summary="Add a member",
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403, 404, 409, 422),
)
async def add_member(
    session: SessionDep, user: CurrentUser, project: VisibleProject, member_in: MemberAdd
) -> MemberRead:
    """Add a user by id or email with a project role (owners and admins)."""

    def answer(db: Session) -> MemberRead:
        member, added = projects.add_member(
            db, user, project, user_id=member_in.user_id, email=member_in.email, role=member_in.role
        )
        return MemberRead.of(member, added)

    return await session.run_sync(answer)


@router.patch(
    "/{project_id}/members/{user_id}",
    summary="Change a member's role",
    responses=errors(401, 403, 404, 409, 422),
)
async def change_member(
    session: SessionDep, user: CurrentUser, project: VisibleProject, user_id: UserId, member_in: MemberUpdate
) -> MemberRead:
    """Give a member another project role; the last owner cannot step down."""

    def answer(db: Session) -> MemberRead:
        member, account = projects.get_member(db, project, user_id)
        return MemberRead.of(projects.change_role(db, user, project, member, member_in.role), account)

    return await session.run_sync(answer)


@router.delete(
    "/{project_id}/members/{user_id}",
    summary="Remove a member",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 409, 422),
)
async def remove_member(
    session: SessionDep, user: CurrentUser, project: VisibleProject, user_id: UserId
) -> Response:
    """Remove a member; they lose access on their next request."""

    def answer(db: Session) -> Response:
        member, _ = projects.get_member(db, project, user_id)
        projects.remove_member(db, user, project, member)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return await session.run_sync(answer)
