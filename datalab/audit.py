"""The audit writer both halves call; entries join the request's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from datalab.context import current_request
from datalab.masking import mask_secrets
from shared_models import AuditLog


def record(
    session: Session,
    action: str,
    *,
    user_id: int | None,
    resource_type: str | None = None,
    resource_id: int | str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    """Add an audit entry for `action`, stamped with the request's id and client IP."""
    context = current_request()
    entry = AuditLog(
        user_id=user_id,
        action=action,
        resource_type=resource_type,
        resource_id=None if resource_id is None else str(resource_id),
        details=mask_secrets(details or {}),
        ip_address=context.client_ip,
        request_id=context.request_id,
    )
    session.add(entry)
    return entry
