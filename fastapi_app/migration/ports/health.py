"""FastAPI port of GET /api/health (legacy_flask/health.py)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from fastapi_app.migration.ports.common import LegacyJSONResponse, legacy_responses

router = APIRouter()


@router.api_route(
    "/api/health",
    methods=["GET", "HEAD"],
    name="GET /api/health",
    responses=legacy_responses(token=False, database=False),
)
async def health() -> Response:
    """Answer that the legacy API is up (the contract keeps the word `legacy_flask`)."""
    return LegacyJSONResponse({"status": "ok", "service": "legacy_flask"})
