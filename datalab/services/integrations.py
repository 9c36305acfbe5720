"""Integrations: owned provider configs, stored encrypted, deleted softly."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from datalab import audit
from datalab.crypto import ConfigCipher
from datalab.destinations import config_destination, keep_only_at_same_destination
from datalab.errors import NotFound
from datalab.inputs import IntegrationCreate, IntegrationUpdate
from datalab.masking import merge_masked
from datalab.services.pages import Page, PageRequest, paginate, valid_id
from shared_models import Integration, Role, User


def get_owned(session: Session, actor: User, integration_id: int) -> Integration:
    """Return an active integration the actor owns (or any, for an admin); else NotFound."""
    statement = select(Integration).where(Integration.id == integration_id, Integration.is_active.is_(True))
    if actor.role != Role.ADMIN:
        statement = statement.where(Integration.owner_id == actor.id)
    integration = session.scalars(statement).one_or_none() if valid_id(integration_id) else None
    if integration is None:
        raise NotFound("Integration not found")
    return integration


def update(
    session: Session, cipher: ConfigCipher, actor: User, integration: Integration, data: IntegrationUpdate
) -> Integration:
    """Apply the fields that were sent; a masked secret keeps the stored one."""
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "name" in changes:
        integration.name = changes["name"]
    if "config" in changes:
        stored = cipher.decrypt(integration.config_encrypted)
        merged, kept = merge_masked(stored, changes["config"])
        keep_only_at_same_destination(kept, config_destination(stored), config_destination(merged))
        integration.config_encrypted = cipher.encrypt(merged)
    audit.record(
        session,
        "integration.update",
        user_id=actor.id,
        resource_type="integration",
        resource_id=integration.id,
        details={"fields": sorted(changes)},
    )
    session.flush()
    return integration


def list_own(session: Session, owner: User, request: PageRequest) -> Page[Integration]:
    """Return one page of the owner's active integrations, newest first."""
    statement = (
        select(Integration)
        .where(Integration.owner_id == owner.id, Integration.is_active.is_(True))
        .order_by(Integration.id.desc())
    )
    return paginate(session, statement, request)


def create(session: Session, cipher: ConfigCipher, owner: User, data: IntegrationCreate) -> Integration:
    """Create an integration for `owner` with its config encrypted."""
    integration = Integration(
        owner_id=owner.id,
        name=data.name,
        provider=data.provider,
        config_encrypted=cipher.encrypt(data.config),
    )
    session.add(integration)
    session.flush()
    audit.record(
        session,
        "integration.create",
        user_id=owner.id,
        resource_type="integration",
        resource_id=integration.id,
        details={"name": integration.name, "provider": integration.provider},
    )
    return integration


def soft_delete(session: Session, actor: User, integration: Integration) -> None:
    """Deactivate an integration; it is then NotFound everywhere."""
    integration.is_active = False
    audit.record(
        session,
        "integration.delete",
        user_id=actor.id,
        resource_type="integration",
        resource_id=integration.id,
        details={"name": integration.name},
    )
    session.flush()
