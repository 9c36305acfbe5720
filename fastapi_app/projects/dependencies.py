"""Loading a project once, membership checked, for every route that names one."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path
from sqlalchemy.orm import Session

from datalab.services import projects
from datalab.services.pages import MAX_ID
from fastapi_app.dependencies import CurrentUser, SessionDep
from shared_models import Project


async def get_visible_project(
    session: SessionDep,
    user: CurrentUser,
    project_id: Annotated[int, Path(ge=1, le=MAX_ID, description="The project's id")],
) -> Project:
    """Return the project if the caller is a member or an admin; anything else is the same 404."""

    def answer(db: Session) -> Project:
        return projects.get_visible(db, user, project_id)

    return await session.run_sync(answer)


VisibleProject = Annotated[Project, Depends(get_visible_project)]
