"""Liveness and readiness of the v1 API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from fastapi_app.errors import error_response
from fastapi_app.responses import errors

router = APIRouter(tags=["health"])


class Health(BaseModel):
    """The service is up and its database answers."""

    status: str
    service: str
    database: str


@router.get(
    "/health",
    summary="Report whether the API and its database are up",
    response_model=Health,
    responses=errors(503),
)
def health(request: Request) -> Health | JSONResponse:
    """Answer ok once the database has answered a trivial query; 503 while it does not."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return error_response(request, 503, "DATABASE_UNAVAILABLE", "The database does not answer")
    return Health(status="ok", service="fastapi_app", database="ok")
