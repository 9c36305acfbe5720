"""Operational health outside the versioned API: /health, /health/live and /health/ready.

Not in the v1 OpenAPI document: they are for load balancers and orchestrators, not clients.
"""

from __future__ import annotations

import os
import time
from importlib.metadata import version
from typing import Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text

from datalab.migrate import SchemaState, schema_state
from datalab.tasks.observe import broker_status

router = APIRouter(include_in_schema=False)
VERSION = version("datalab")


def _ping(engine: Engine) -> SchemaState:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        return schema_state(connection)


async def _checks(request: Request) -> dict[str, dict[str, Any]]:
    """Run `SELECT 1` and read the schema revision within HEALTH_TIMEOUT seconds; report each."""
    engine: Engine = request.app.state.engine
    timeout: float = request.app.state.settings.edges.health_timeout
    start = time.perf_counter()
    unknown = {"status": "unknown"}
    try:
        with anyio.fail_after(timeout):
            # Abandoned on timeout: a hung connection attempt must not hold the probe.
            schema = await anyio.to_thread.run_sync(_ping, engine, abandon_on_cancel=True)
    except TimeoutError:
        return {"database": {"status": "timeout", "timeout_s": timeout}, "schema": unknown}
    except Exception as exc:  # any driver error means "not ready"; the class name says which
        return {"database": {"status": "down", "error": type(exc).__name__}, "schema": unknown}
    latency = round((time.perf_counter() - start) * 1000, 2)
    return {"database": {"status": "ok", "latency_ms": latency}, "schema": schema.as_json()}


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    """Report status, version, uptime, this worker's pid and each check; 503 when a check fails."""
    checks = await _checks(request)
    ok = all(check["status"] == "ok" for check in checks.values())
    body = {
        "status": "ok" if ok else "unavailable",
        "version": VERSION,
        "uptime_s": round(time.monotonic() - request.app.state.started_at, 1),
        "pid": os.getpid(),
        "checks": checks,
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/health/live")
async def live() -> JSONResponse:
    """Answer that the process serves requests; touches nothing else."""
    return JSONResponse({"status": "ok"})


@router.get("/health/ready")
async def ready(request: Request) -> JSONResponse:
    """Answer 200 when the database answers in time and its schema is at the code's head; 503 otherwise.

    The task broker and the gateway's services are reported too, never failing this app's readiness.
    """
    found = await _checks(request)
    ok = all(check["status"] == "ok" for check in found.values())
    # Without a broker the server still serves, and queues nothing.
    broker = await anyio.to_thread.run_sync(broker_status, request.app.state.settings, abandon_on_cancel=True)
    body: dict[str, Any] = {"status": "ok" if ok else "unavailable", "checks": {**found, "broker": broker}}
    gateway = getattr(request.app.state, "gateway", None)
    if gateway is not None and gateway.upstreams:
        body["services"] = gateway.report()
    return JSONResponse(body, status_code=200 if ok else 503)
