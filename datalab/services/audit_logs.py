"""Reading the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from datalab.services.pages import Page, PageRequest, paginate
from shared_models import AuditLog


def list_entries(
    session: Session,
    request: PageRequest,
    *,
    user_id: int | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AuditLog]:
    """Return one page of audit entries, newest first, filtered by user, action or time range."""
    statement = select(AuditLog)
    if since is not None:
        statement = statement.where(AuditLog.created_at >= since)
    if until is not None:
        statement = statement.where(AuditLog.created_at < until)
    if user_id is not None:
        statement = statement.where(AuditLog.user_id == user_id)
    if action is not None:
        statement = statement.where(AuditLog.action == action)
    return paginate(session, statement.order_by(AuditLog.created_at.desc(), AuditLog.id.desc()), request)
