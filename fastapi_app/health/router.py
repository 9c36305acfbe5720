"""Liveness and readiness of the v1 API."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from fastapi_app.dependencies import SessionDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The service is up and its database answers."""

    status: str
    service: str
    database: str


@router.get("/health", summary="Report whether the API and its database are up")
def health(session: SessionDep) -> Health:
    """Answer ok once the database has answered a trivial query."""
    session.execute(text("SELECT 1"))
    return Health(status="ok", service="fastapi_app", database="ok")
