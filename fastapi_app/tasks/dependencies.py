"""Loading a task once, with access checked, for every route that names one."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from datalab.services.pages import MAX_ID
from datalab.tasks import service
from datalab.tasks.executors import Tasks
from fastapi_app.dependencies import CurrentUser, SessionDep
from shared_models import AnalysisTask


async def get_visible_task(
    session: SessionDep,
    user: CurrentUser,
    task_id: Annotated[int, Path(ge=1, le=MAX_ID, description="The task's id")],
) -> AnalysisTask:
    """Return the task if the caller may see it; anything else is the same 404."""

    def answer(db: Session) -> AnalysisTask:
        return service.get_visible(db, user, task_id)

    return await session.run_sync(answer)


async def get_tasks(request: Request) -> Tasks:
    """Return the app's executor and result store."""
    return cast(Tasks, request.app.state.tasks)


VisibleTask = Annotated[AnalysisTask, Depends(get_visible_task)]
TasksDep = Annotated[Tasks, Depends(get_tasks)]
