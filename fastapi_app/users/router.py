"""User management under /api/v1/users (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from sqlalchemy.orm import Session

from datalab.fields import SearchText
from datalab.services import users
from datalab.services.pages import MAX_ID
from fastapi_app.dependencies import SessionDep, require_role
from fastapi_app.pagination import PageDep
from fastapi_app.responses import errors
from fastapi_app.users.schemas import UserAdminUpdate, UserList, UserRead
from shared_models import Role, User

router = APIRouter(prefix="/users", tags=["users"])
Admin = Annotated[User, require_role(Role.ADMIN)]
UserId = Annotated[int, Path(ge=1, le=MAX_ID, description="The user's id")]


@router.get("", summary="List users", responses=errors(401, 403, 422))
async def list_users(
    session: SessionDep,
    page: PageDep,
    _: Admin,
    role: Role | None = None,
    is_active: bool | None = None,
    email: Annotated[SearchText | None, Query(description="Part of the email")] = None,
) -> UserList:
    """List users oldest first, filtered by role, active flag or part of the email."""

    def answer(db: Session) -> UserList:
        found = users.list_users(db, page, role=role, is_active=is_active, email_contains=email)
        return UserList(
            items=[UserRead.model_validate(u) for u in found.items],
            total=found.total,
            limit=found.limit,
            offset=found.offset,
        )

    return await session.run_sync(answer)


@router.get("/{user_id}", summary="Get one user", responses=errors(401, 403, 404, 422))
async def get_user(session: SessionDep, user_id: UserId, _: Admin) -> UserRead:
    """Return one user."""
    return await session.run_sync(lambda db: UserRead.model_validate(users.get_user(db, user_id)))


@router.patch(
    "/{user_id}", summary="Change a user's role or active flag", responses=errors(401, 403, 404, 413, 422)
)
async def update_user(
    session: SessionDep, user_id: UserId, changes: UserAdminUpdate, actor: Admin
) -> UserRead:
    """Change role or active flag; either change ends the user's sessions. Nobody changes their own role."""

    def answer(db: Session) -> UserRead:
        user = users.get_user(db, user_id)
        if changes.role is not None:
            user = users.change_role(db, actor=actor, user_id=user_id, role=changes.role)
        if changes.is_active is not None and changes.is_active != user.is_active:
            user = users.set_active(db, actor=actor, user_id=user_id, active=changes.is_active)
        return UserRead.model_validate(user)

    return await session.run_sync(answer)
