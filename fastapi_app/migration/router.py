"""Operator views under /api/v1/admin (admin): the route migration report."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from fastapi_app.dependencies import SessionDep, require_role
from fastapi_app.migration import Migration
from fastapi_app.migration.ports import PORTED
from fastapi_app.migration.report import build_report, flask_blockers
from fastapi_app.responses import errors
from shared_models import Role, User

router = APIRouter(prefix="/admin", tags=["admin"])
StateName = Literal["legacy", "shadow", "migrated"]


class LatencyRead(BaseModel):
    """How long one implementation took to answer a route's latest requests."""

    samples: int = Field(description="How many of the latest requests these percentiles cover")
    p50_ms: float
    p99_ms: float


class RouteMigrationRead(BaseModel):
    """One legacy route: who serves it, what replaces it, and what it has served."""

    route: str = Field(description="Method and path as the legacy contract writes them")
    state: StateName = Field(description="The state this server runs the route in")
    live_state: StateName | None = Field(description="The state the last server process to report it ran")
    successor: str | None = Field(description="Its /api/v1 replacement")
    deprecation: datetime | None
    sunset: datetime | None
    served_legacy_flask: int = Field(description="Requests Flask served, all processes")
    served_fastapi: int = Field(description="Requests the FastAPI port served, all processes")
    shadow_compared: int
    shadow_mismatches: int
    shadow_skipped: int = Field(description="Shadow calls skipped because too many were running")
    last_mismatch: str | None = Field(description="The latest mismatch's diff")
    last_mismatch_at: datetime | None
    latency: dict[Literal["legacy_flask", "fastapi"], LatencyRead] = Field(
        description="p50 and p99 by implementation, of this server process's latest requests"
    )


class MigrationReport(BaseModel):
    """The migration report: every legacy route with its state and counts."""

    registry: str = Field(description="The registry file this server read")
    routes: list[RouteMigrationRead]
    flask_retirable: bool = Field(description="Every route is migrated: LEGACY_MOUNT=off may run")
    flask_blockers: list[str] = Field(description="The routes that keep Flask, with their state")


@router.get("/migration", summary="Report the route migration", responses=errors(401, 403, 422))
async def migration_report(
    request: Request, session: SessionDep, _: Annotated[User, require_role(Role.ADMIN)]
) -> MigrationReport:
    """List every legacy route: state, successor, dates, requests per implementation, shadow mismatches."""
    migration: Migration = request.app.state.migration
    # This process's counts first, so the report is up to date for it (the counter writes on its own engine).
    await anyio.to_thread.run_sync(migration.counter.flush)

    def answer(db: Session) -> MigrationReport:
        lines = build_report(migration.registry, db, migration.counter.latencies())
        blockers = flask_blockers(migration.registry, PORTED)
        return MigrationReport(
            registry=migration.registry.source,
            routes=[RouteMigrationRead.model_validate(line.as_json()) for line in lines],
            flask_retirable=not blockers,
            flask_blockers=blockers,
        )

    return await session.run_sync(answer)
