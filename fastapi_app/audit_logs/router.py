"""The audit log under /api/v1/audit-logs (admin)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict
from sqlalchemy.orm import Session

from datalab.fields import Action
from datalab.services import audit_logs
from datalab.services.pages import MAX_ID
from fastapi_app.dependencies import SessionDep, require_role
from fastapi_app.pagination import PageDep, Paginated
from fastapi_app.responses import errors
from shared_models import Role, User

router = APIRouter(prefix="/audit-logs", tags=["audit log"])


def _utc(moment: datetime) -> datetime:
    # A valid aware time so near year 1 or 9999 that it has no UTC form means "from the start" or
    # "to the end"; clamping keeps every datetime the schema allows acceptable.
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


def _rfc3339(value: object) -> object:
    # pydantic would also read bare numbers as Unix times; the schema promises RFC 3339 only.
    if isinstance(value, str) and not RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time with a time zone, e.g. 2026-11-22T08:00:00Z")
    return value


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
Moment = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_utc)]


class AuditLogRead(BaseModel):
    """One audited action: who, what, on which resource, from where, in which request."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int | None
    action: str
    resource_type: str | None
    resource_id: str | None
    details: dict[str, Any]
    ip_address: str | None
    request_id: str | None
    created_at: datetime


class AuditLogList(Paginated[AuditLogRead]):
    """A slice of the audit log."""


@router.get("", summary="List audit log entries", responses=errors(401, 403, 422))
async def list_entries(
    session: SessionDep,
    page: PageDep,
    _: Annotated[User, require_role(Role.ADMIN)],
    user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    action: Annotated[Action | None, Query(description="Only this action, e.g. user.login")] = None,
    since: Annotated[Moment | None, Query(description="Entries at or after this time")] = None,
    until: Annotated[Moment | None, Query(description="Entries before this time")] = None,
) -> AuditLogList:
    """List entries newest first, filtered by user, action or time range."""

    def answer(db: Session) -> AuditLogList:
        found = audit_logs.list_entries(db, page, user_id=user_id, action=action, since=since, until=until)
        return AuditLogList(
            items=[AuditLogRead.model_validate(e) for e in found.items],
            total=found.total,
            limit=found.limit,
            offset=found.offset,
        )

    return await session.run_sync(answer)
