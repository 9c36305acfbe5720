"""All /api/v1 routers, composed under one prefix."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from fastapi_app.auth.router import router as auth_router
from fastapi_app.health.router import router as health_router

PREFIX = "/api/v1"


def include_routers(app: FastAPI) -> None:
    """Add every v1 router to `app`."""
    api = APIRouter(prefix=PREFIX)
    api.include_router(health_router)
    api.include_router(auth_router)
    app.include_router(api)
