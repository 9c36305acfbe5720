"""Operator views under /api/v1/admin (admin): the route migration report, and moving routes live."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, BackgroundTasks, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from fastapi_app.dependencies import SessionDep, require_role
from fastapi_app.migration import Migration
from fastapi_app.migration.live import LiveRoute, change_states
from fastapi_app.migration.ports import PORTED
from fastapi_app.migration.report import build_report, flask_blockers, flask_modules
from fastapi_app.responses import errors
from shared_models import Role, User

router = APIRouter(prefix="/admin", tags=["admin"])
StateName = Literal["legacy", "shadow", "canary", "migrated"]
Admin = Annotated[User, require_role(Role.ADMIN)]


class LatencyRead(BaseModel):
    """How long one implementation took to answer a route's latest requests."""

    samples: int = Field(description="How many of the latest requests these percentiles cover")
    p50_ms: float
    p99_ms: float


class RouteMigrationRead(BaseModel):
    """One legacy route: who serves it, what replaces it, and what it has served."""

    route: str = Field(description="Method and path as the legacy contract writes them")
    state: StateName = Field(description="The live state every server runs the route in")
    percent: int | None = Field(description="In state canary, the share of callers the port serves")
    ported: bool = Field(description="Whether a FastAPI port exists (needed by shadow, canary, migrated)")
    changed_at: datetime | None = Field(description="When the live state last changed")
    changed_by: str | None = Field(description="Who: an admin's email, `cli:<user>`, `rollback guard`...")
    reason: str | None = Field(description="Why, as given with the change")
    live_state: str | None = Field(description="The state the last server process to report counts ran")
    successor: str | None = Field(description="Its /api/v1 replacement")
    deprecation: datetime | None
    sunset: datetime | None
    served_legacy_flask: int = Field(description="Requests Flask served, all processes")
    served_fastapi: int = Field(description="Requests the FastAPI port served, all processes")
    fastapi_share: float | None = Field(description="Percent of the served requests the port answered")
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
    flask_modules: list[str] = Field(description="Flask's packages this server process has imported")


class RouteStateUpdate(BaseModel):
    """The state one route moves to."""

    state: StateName
    percent: int | None = Field(None, description="Required for canary: 1 to 99; absent otherwise")


class MigrationUpdate(BaseModel):
    """Routes to move, all or none, and why."""

    routes: dict[str, RouteStateUpdate] = Field(
        min_length=1, examples=[{"GET /api/users/me": {"state": "canary", "percent": 10}}]
    )
    reason: str = Field(min_length=1, max_length=500, description="Why; kept in the audit log")


@router.get("/migration", summary="Report the route migration", responses=errors(401, 403, 422))
async def migration_report(request: Request, session: SessionDep, _: Admin) -> MigrationReport:
    """List every legacy route: live state, successor, dates, requests per side, shadow mismatches."""
    migration: Migration = request.app.state.migration
    # This process's counts first, so the report is up to date for it (the counter writes on its own engine).
    await anyio.to_thread.run_sync(migration.counter.flush)
    return await session.run_sync(_report, migration)


@router.patch("/migration", summary="Move routes at run time", responses=errors(401, 403, 422))
async def move_routes(
    request: Request, session: SessionDep, admin: Admin, body: MigrationUpdate, background: BackgroundTasks
) -> MigrationReport:
    """Change routes' live states, all or none; every server follows within 2 s. Answers the new report.

    A 422 names the refused route (unknown, no port for the state, a bad percent) and nothing changes.
    """
    migration: Migration = request.app.state.migration
    wanted = {name: LiveRoute(change.state, change.percent) for name, change in body.routes.items()}

    def apply(db: Session) -> MigrationReport:
        change_states(
            db,
            registry=migration.registry,
            wanted=wanted,
            actor=admin.email,
            user_id=admin.id,
            reason=body.reason,
        )
        return _report(db, migration)

    report = await session.run_sync(apply)
    # Once committed (after this returns), this worker reads it at once; the others within their poll.
    background.add_task(anyio.to_thread.run_sync, migration.live.refresh)
    return report


def _report(db: Session, migration: Migration) -> MigrationReport:
    lines = build_report(migration.registry, db, migration.counter.latencies())
    blockers = flask_blockers({line.route: line.state for line in lines}, PORTED)
    return MigrationReport(
        registry=migration.registry.source,
        routes=[RouteMigrationRead.model_validate(line.as_json()) for line in lines],
        flask_retirable=not blockers,
        flask_blockers=blockers,
        flask_modules=flask_modules(),
    )
