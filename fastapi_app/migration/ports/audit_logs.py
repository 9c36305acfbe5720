"""FastAPI port of GET /api/audit-logs (legacy_flask/audit_logs.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from starlette.responses import Response

from datalab.legacy_input import audit_log_query
from datalab.legacy_json import audit_json, page_json
from datalab.services import audit_logs
from fastapi_app.dependencies import SessionDep
from fastapi_app.migration.ports.common import (
    LegacyJSONResponse,
    RuntimeDep,
    first_arg,
    legacy_responses,
    require_role,
    signed_in,
)
from shared_models import Role

router = APIRouter()


@router.api_route(
    "/api/audit-logs",
    methods=["GET", "HEAD"],
    name="GET /api/audit-logs",
    responses=legacy_responses(400, 403),
)
async def list_entries(request: Request, session: SessionDep, runtime: RuntimeDep) -> Response:
    """List audit entries newest first, optionally for one `user_id` or `action` (admin)."""

    def answer(db: Session) -> dict[str, Any]:
        user, _, _ = signed_in(request, db, runtime)
        require_role(user, Role.ADMIN)
        query = audit_log_query(first_arg(request))
        page = audit_logs.list_entries(db, query.page, user_id=query.user_id, action=query.action)
        return page_json("audit_logs", page, audit_json)

    return LegacyJSONResponse(await session.run_sync(answer))
