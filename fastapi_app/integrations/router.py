"""Integrations under /api/v1/integrations: the caller's own, or any for an admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response, status
from sqlalchemy.orm import Session

from datalab.inputs import IntegrationCreate, IntegrationUpdate
from datalab.services import integrations
from datalab.services.pages import MAX_ID
from fastapi_app.dependencies import CurrentUser, RuntimeDep, SessionDep, require_role
from fastapi_app.integrations.schemas import IntegrationList, IntegrationRead
from fastapi_app.pagination import PageDep
from fastapi_app.responses import errors
from shared_models import Integration, Role, User

router = APIRouter(prefix="/integrations", tags=["integrations"])
Writer = Annotated[User, require_role(Role.USER)]


async def get_owned_integration(
    session: SessionDep,
    user: CurrentUser,
    integration_id: Annotated[int, Path(ge=1, le=MAX_ID, description="The integration's id")],
) -> Integration:
    """Return the integration if the caller owns it or is an admin; anything else is the same 404."""
    return await session.run_sync(integrations.get_owned, user, integration_id)


OwnedIntegration = Annotated[Integration, Depends(get_owned_integration)]


@router.get("", summary="List integrations", responses=errors(401, 422))
async def list_integrations(
    session: SessionDep, runtime: RuntimeDep, user: CurrentUser, page: PageDep
) -> IntegrationList:
    """List the caller's active integrations, newest first."""

    def answer(db: Session) -> IntegrationList:
        found = integrations.list_own(db, user, page)
        return IntegrationList(
            items=[IntegrationRead.of(i, runtime.cipher, listed=True) for i in found.items],
            total=found.total,
            limit=found.limit,
            offset=found.offset,
        )

    return await session.run_sync(answer)


@router.post(
    "",
    summary="Create an integration",
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403, 413, 422),
)
async def create_integration(
    session: SessionDep, runtime: RuntimeDep, owner: Writer, integration_in: IntegrationCreate
) -> IntegrationRead:
    """Create an integration owned by the caller (user and up); its config is stored encrypted."""

    def answer(db: Session) -> IntegrationRead:
        created = integrations.create(db, runtime.cipher, owner, integration_in)
        return IntegrationRead.of(created, runtime.cipher)

    return await session.run_sync(answer)


@router.get("/{integration_id}", summary="Get one integration", responses=errors(401, 404, 422))
async def get_integration(integration: OwnedIntegration, runtime: RuntimeDep) -> IntegrationRead:
    """Return one integration the caller owns (any, for an admin)."""
    return IntegrationRead.of(integration, runtime.cipher)


@router.patch("/{integration_id}", summary="Change an integration", responses=errors(401, 403, 404, 413, 422))
async def update_integration(
    session: SessionDep,
    runtime: RuntimeDep,
    integration: OwnedIntegration,
    actor: Writer,
    integration_in: IntegrationUpdate,
) -> IntegrationRead:
    """Change the fields sent; a masked secret ("********") keeps the stored one."""

    def answer(db: Session) -> IntegrationRead:
        updated = integrations.update(db, runtime.cipher, actor, integration, integration_in)
        return IntegrationRead.of(updated, runtime.cipher)

    return await session.run_sync(answer)


@router.delete(
    "/{integration_id}",
    summary="Delete an integration",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors(401, 403, 404, 422),
)
async def delete_integration(session: SessionDep, integration: OwnedIntegration, actor: Writer) -> Response:
    """Soft-delete an integration: it answers 404 from then on."""
    await session.run_sync(integrations.soft_delete, actor, integration)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
