"""The migration report: each legacy route's live state, successor, dates, traffic split and mismatches.

It also says whether Flask can be retired (LEGACY_MOUNT=off) and, if not, which routes keep it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fastapi_app.migration.live import read_snapshot
from fastapi_app.migration.registry import Registry
from fastapi_app.migration.stats import Implementation, Latency, read_stats, recent_mismatches
from shared_models import RouteState


@dataclass(frozen=True)
class RouteReport:
    """One line of the report."""

    route: str
    state: str
    percent: int | None
    ported: bool
    changed_at: datetime | None
    changed_by: str | None
    reason: str | None
    live_state: str | None
    successor: str | None
    deprecation: datetime | None
    sunset: datetime | None
    served_legacy_flask: int
    served_fastapi: int
    fastapi_share: float | None
    shadow_compared: int
    shadow_mismatches: int
    shadow_skipped: int
    last_mismatch: str | None
    last_mismatch_at: datetime | None
    latency: dict[Implementation, Latency] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """Return the line as JSON-ready values (times as ISO 8601)."""
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


def build_report(
    registry: Registry, session: Session, latencies: Mapping[str, dict[Implementation, Latency]] | None = None
) -> list[RouteReport]:
    """Combine the registry with the live states, the counts the servers stored and `latencies`."""
    stats = read_stats(session)
    live = read_snapshot(session, registry)
    changes = {row.name: row for row in session.scalars(select(RouteState))}
    lines = []
    for entry in registry.routes.values():
        row = stats.get(entry.name)
        change = changes.get(entry.name)
        latest = recent_mismatches(session, entry.name, limit=1) if row and row.shadow_mismatches else []
        served = (row.served_legacy_flask + row.served_fastapi) if row else 0
        lines.append(
            RouteReport(
                route=entry.name,
                state=live.of(entry.name).state,
                percent=live.of(entry.name).percent,
                ported=entry.name in registry.ported,
                changed_at=change.changed_at if change else None,
                changed_by=change.changed_by if change else None,
                reason=change.reason if change else None,
                live_state=row.live_state if row else None,
                successor=entry.successor,
                deprecation=entry.deprecation,
                sunset=entry.sunset,
                served_legacy_flask=row.served_legacy_flask if row else 0,
                served_fastapi=row.served_fastapi if row else 0,
                fastapi_share=round(100 * row.served_fastapi / served, 1) if row and served else None,
                shadow_compared=row.shadow_compared if row else 0,
                shadow_mismatches=row.shadow_mismatches if row else 0,
                shadow_skipped=row.shadow_skipped if row else 0,
                last_mismatch=latest[0].diff if latest else None,
                last_mismatch_at=latest[0].created_at if latest else None,
                latency=dict((latencies or {}).get(entry.name, {})),
            )
        )
    return lines


COLUMNS = (
    "route",
    "state",
    "successor",
    "flask",
    "fastapi",
    "fastapi %",
    "compared",
    "mismatches",
    "deprecation",
    "sunset",
)


def format_table(lines: list[RouteReport]) -> str:
    """Return the report as an aligned text table, with the latest diff under each mismatching route."""
    rows = [COLUMNS] + [
        (
            line.route,
            _state(line),
            line.successor or "-",
            str(line.served_legacy_flask),
            str(line.served_fastapi),
            "-" if line.fastapi_share is None else f"{line.fastapi_share:g}",
            str(line.shadow_compared),
            str(line.shadow_mismatches),
            line.deprecation.date().isoformat() if line.deprecation else "-",
            line.sunset.date().isoformat() if line.sunset else "-",
        )
        for line in lines
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    out = []
    for row, line in zip(rows, [None, *lines], strict=True):
        out.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if line is not None and line.last_mismatch:
            out.extend(f"    | {text}" for text in line.last_mismatch.splitlines())
    return "\n".join(out)


def _state(line: RouteReport) -> str:
    state = f"canary:{line.percent}" if line.state == "canary" else line.state
    # A server that last ran the route in another state than the live one is worth seeing.
    if line.live_state and line.live_state != state:
        return f"{state} (servers: {line.live_state})"
    return state


def flask_blockers(states: Mapping[str, str], ported: Iterable[str]) -> list[str]:
    """Return what keeps Flask loaded: each route not `migrated`, its state, and whether it lacks a port."""
    available = set(ported)
    return [
        f"{name} ({state}{'' if name in available else ', no FastAPI port'})"
        for name, state in states.items()
        if state != "migrated"
    ]


FLASK_MODULES = ("flask", "werkzeug", "flask_sqlalchemy", "flask_jwt_extended", "a2wsgi", "legacy_flask")


def flask_modules() -> list[str]:
    """Return which of Flask's packages (and legacy_flask) this process has imported."""
    return [name for name in FLASK_MODULES if name in sys.modules]


def format_retirement(blockers: list[str]) -> str:
    """Return one line saying whether Flask can be retired, then what blocks it."""
    if not blockers:
        return "Flask can be retired: every route is migrated (LEGACY_MOUNT=off)."
    head = f"Flask cannot be retired yet: {len(blockers)} route(s) not migrated:"
    return "\n".join([head, *(f"  {blocker}" for blocker in blockers)])
