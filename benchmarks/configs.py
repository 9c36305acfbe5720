"""What is measured: the servers, the measurements run side by side in groups, and the targets.

A group's servers run at the same time (idle ones cost nothing) and its measurements
alternate round by round, so machine noise falls on both sides of each ratio alike.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from benchmarks.seed import LOGIN_EMAILS
from datalab.settings.groups import EdgeSettings

WORKERS = int(EdgeSettings.model_fields["wsgi_workers"].default)
LIST_ROUTE = "GET /api/data-sources"


@dataclass(frozen=True)
class Server:
    """One process serving the app a certain way, pinned to one core."""

    name: str
    kind: Literal["flask-gunicorn", "combined", "bare"]
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def names_server(self) -> bool:
        """Tell whether its answers carry `X-Served-By` (only the full combined stack adds it)."""
        return self.kind == "combined"

    def command(self, port: int, cpu: int) -> list[str]:
        """Return the pinned command line that serves on 127.0.0.1:`port`."""
        python = [sys.executable, "-m"]
        if self.kind == "flask-gunicorn":
            serve = [
                *python, "gunicorn", "--worker-class", "gthread", "--workers", "1",
                "--threads", str(WORKERS), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                "legacy_flask.wsgi:app",
            ]  # fmt: skip
        else:
            target = ["fastapi_app.asgi:app"]
            if self.kind == "bare":
                target = ["--factory", "benchmarks.bare_asgi:create_app"]
            serve = [
                *python, "uvicorn", *target, "--host", "127.0.0.1", "--port", str(port),
                "--no-access-log", "--log-level", "warning",
            ]  # fmt: skip
        return ["taskset", "-c", str(cpu), *serve]


@dataclass(frozen=True)
class Route:
    """A path to drive and the half that must answer it (`X-Served-By`)."""

    path: str
    served_by: str


@dataclass(frozen=True)
class Measurement:
    """One configuration: a server, a route (the first of `routes` that answers 200), and data."""

    name: str
    about: str
    server: Server
    routes: tuple[Route, ...]
    method: str = "GET"
    login_email: str | None = None  # a login measurement posts this account's credentials
    rows: int = 1_000  # data sources in the table while it runs
    # Logins queue behind bcrypt on one core: 16 connections would wait past wrk's run.
    connections: int | None = None
    items_key: str | None = None  # a list answer must hold the caller's 50 rows under this key


@dataclass(frozen=True)
class Group:
    """Measurements run side by side, round by round."""

    name: str
    measurements: tuple[Measurement, ...]


@dataclass(frozen=True)
class Ratio:
    """A ratio of two measurements' req/s or p99, with the issue's target when it has one."""

    about: str
    top: str
    bottom: str
    metric: Literal["rps", "p99_ms", "cpu_ms"]
    op: Literal[">=", "<="] | None = None
    target: float | None = None


def _states(state: str) -> dict[str, str]:
    return {"ROUTE_STATES": json.dumps({LIST_ROUTE: state})}


FLASK_ALONE = Server("flask-gunicorn", "flask-gunicorn")
COMBINED = Server("combined", "combined", _states("legacy"))
MIGRATED = Server("combined-migrated", "combined", _states("migrated"))
BARE = Server("combined-no-middleware", "bare")
LOGIN_10 = Server("combined-bcrypt-10", "combined", {"BCRYPT_ROUNDS": "10"})
LOGIN_12 = Server("combined-bcrypt-12", "combined", {"BCRYPT_ROUNDS": "12"})

LEGACY_LIST = (Route("/api/data-sources?per_page=50", "legacy_flask"),)
V1_LIST = (Route("/api/v1/data-sources?limit=50", "fastapi"),)
MIGRATED_LIST = (Route("/api/data-sources?per_page=50", "fastapi"),)
# /health/live once the production edges exist; until then the legacy health route.
TRIVIAL = (Route("/health/live", "fastapi"), Route("/api/health", "legacy_flask"))
LOGIN = (Route("/api/auth/login", "legacy_flask"),)


def _list(
    name: str, about: str, server: Server, rows: int = 1_000, connections: int | None = None
) -> Measurement:
    return Measurement(
        name, about, server, LEGACY_LIST, rows=rows, items_key="data_sources", connections=connections
    )


def _login(rounds: int, server: Server) -> Measurement:
    about = f"POST /api/auth/login, BCRYPT_ROUNDS {rounds}"
    return Measurement(f"login-{rounds}", about, server, LOGIN, "POST", LOGIN_EMAILS[rounds], connections=2)


GROUPS = (
    Group(
        "mount",
        (
            _list("flask-alone", "legacy list, Flask alone under gunicorn gthread", FLASK_ALONE),
            _list("combined", "legacy list through the combined app under uvicorn", COMBINED),
        ),
    ),
    Group(
        "migration",
        (
            _list("legacy", "legacy list, ROUTE_STATES legacy (served by Flask)", COMBINED),
            Measurement(
                "migrated",
                "legacy list, ROUTE_STATES migrated (served by FastAPI)",
                MIGRATED,
                MIGRATED_LIST,
                items_key="data_sources",
            ),
            Measurement(
                "v1", "the v1 equivalent, GET /api/v1/data-sources", COMBINED, V1_LIST, items_key="items"
            ),
        ),
    ),
    Group(
        "migration-64",
        (
            _list("legacy-64", "legacy list served by Flask, 64 connections", COMBINED, connections=64),
            Measurement(
                "migrated-64",
                "legacy list served by FastAPI (migrated), 64 connections",
                MIGRATED,
                MIGRATED_LIST,
                items_key="data_sources",
                connections=64,
            ),
            Measurement(
                "v1-64",
                "GET /api/v1/data-sources, 64 connections",
                COMBINED,
                V1_LIST,
                items_key="items",
                connections=64,
            ),
        ),
    ),
    Group(
        "middleware",
        (
            Measurement("with-middleware", "trivial route, full middleware stack", COMBINED, TRIVIAL),
            Measurement("no-middleware", "trivial route, outer middleware stripped", BARE, TRIVIAL),
        ),
    ),
    Group(
        "rows",
        tuple(
            _list(f"rows-{n // 1000}k", f"legacy list, {n:,} rows in the table", COMBINED, rows=n)
            for n in (1_000, 10_000, 100_000)
        ),
    ),
    Group(
        "login",
        (_login(10, LOGIN_10), _login(12, LOGIN_12)),
    ),
)

RATIOS = (
    Ratio("combined vs Flask alone: throughput", "combined", "flask-alone", "rps", ">=", 0.95),
    Ratio("combined vs Flask alone: p99", "combined", "flask-alone", "p99_ms", "<=", 1.2),
    Ratio("migrated vs legacy: throughput", "migrated", "legacy", "rps", ">=", 3.0),
    Ratio("migrated vs legacy: p99", "migrated", "legacy", "p99_ms", "<=", 0.5),
    Ratio("v1 vs legacy: throughput", "v1", "legacy", "rps", ">=", 3.0),
    Ratio("migrated vs legacy: CPU per request", "migrated", "legacy", "cpu_ms"),
    Ratio("v1 vs legacy: CPU per request", "v1", "legacy", "cpu_ms"),
    Ratio("migrated vs legacy at 64 connections: throughput", "migrated-64", "legacy-64", "rps", ">=", 3.0),
    Ratio("v1 vs legacy at 64 connections: throughput", "v1-64", "legacy-64", "rps", ">=", 3.0),
    Ratio(
        "middleware stack: throughput kept (cost <= 10%)",
        "with-middleware",
        "no-middleware",
        "rps",
        ">=",
        0.9,
    ),
    Ratio("list p99, 10k vs 1k rows", "rows-10k", "rows-1k", "p99_ms"),
    Ratio("list p99, 100k vs 1k rows", "rows-100k", "rows-1k", "p99_ms", "<=", 1.2),
    Ratio("login throughput, bcrypt 10 vs 12", "login-10", "login-12", "rps"),
)


def measurement(name: str) -> Measurement:
    """Return the measurement called `name`."""
    for group in GROUPS:
        for candidate in group.measurements:
            if candidate.name == name:
                return candidate
    raise KeyError(name)


def names() -> list[str]:
    """Return every measurement's name, in run order."""
    return [m.name for g in GROUPS for m in g.measurements]
