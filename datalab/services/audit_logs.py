"""Reading the audit log."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from datalab.services.pages import Page, PageRequest, paginate
from shared_models import AuditLog


def list_entries(
    session: Session, request: PageRequest, *, user_id: int | None = None, action: str | None = None
) -> Page[AuditLog]:
    """Return one page of audit entries, newest first, optionally for one user or action."""
    statement = select(AuditLog)
    if user_id is not None:
        statement = statement.where(AuditLog.user_id == user_id)
    if action is not None:
        statement = statement.where(AuditLog.action == action)
    return paginate(session, statement.order_by(AuditLog.created_at.desc(), AuditLog.id.desc()), request)
