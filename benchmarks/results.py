"""Results: each configuration's rounds, the ratios against the issue's targets, and results.md."""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.configs import Measurement, Ratio
from benchmarks.load import Sample

HERE = Path(__file__).resolve().parent
FINDINGS = HERE / "findings.md"
PACKAGES = (
    *("fastapi", "starlette", "uvicorn", "gunicorn", "a2wsgi", "flask", "sqlalchemy", "psycopg2-binary"),
    *("pydantic", "bcrypt", "httptools", "uvloop"),
)
README_START = "<!-- benchmark-table:start -->"
README_END = "<!-- benchmark-table:end -->"


@dataclass
class Outcome:
    """What happened to one configuration: the route it drove and its rounds, or why it did not run."""

    measurement: Measurement
    route: str | None = None
    samples: list[Sample] = field(default_factory=list)
    unavailable: str | None = None
    failed: str | None = None  # the load generator broke off (the run goes on with the others)
    pg_connections: int | None = None  # PostgreSQL connections its server held at rest, after its rounds
    connections: int | None = None  # wrk's connections

    def median(self, metric: str) -> float | None:
        """Return the median over rounds of `metric` (rps, p50_ms, p99_ms, cpu_ms, system_share), or None."""
        values = [float(v) for v in (getattr(s, metric) for s in self.samples) if v is not None]
        return statistics.median(values) if values else None

    @property
    def failures(self) -> int:
        """Count socket errors, timeouts and non-2xx answers across rounds (an empty round counts one)."""
        return sum(s.errors + s.bad_status + (s.requests == 0) for s in self.samples)


@dataclass(frozen=True)
class Verdict:
    """A ratio's value and whether it meets its target."""

    ratio: Ratio
    value: float | None

    @property
    def status(self) -> str:
        """Return met, missed, not measured, or info (a ratio without a target)."""
        if self.value is None:
            return "not measured"
        if self.ratio.target is None:
            return "info"
        ok = self.value >= self.ratio.target if self.ratio.op == ">=" else self.value <= self.ratio.target
        return "met" if ok else "**missed**"


def judge(ratios: tuple[Ratio, ...], outcomes: dict[str, Outcome]) -> list[Verdict]:
    """Compute each ratio from the measured medians."""
    verdicts = []
    for ratio in ratios:
        top, bottom = outcomes.get(ratio.top), outcomes.get(ratio.bottom)
        value = None
        valid = top and bottom and not (top.failures or bottom.failures or top.failed or bottom.failed)
        if top and bottom and valid:
            a, b = top.median(ratio.metric), bottom.median(ratio.metric)
            value = a / b if a is not None and b else None
        verdicts.append(Verdict(ratio, value))
    return verdicts


def machine() -> dict[str, str]:
    """Describe this machine and the software under test."""
    cpuinfo = read_proc("/proc/cpuinfo")
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    memory = re.search(r"MemTotal:\s*(\d+) kB", read_proc("/proc/meminfo"))
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    return {
        "cpu": model.group(1).strip() if model else platform.processor() or "?",
        "cores": str(os.cpu_count()),
        "ram": f"{int(memory.group(1)) / 1024**2:.1f} GiB" if memory else "?",
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": ", ".join(versions),
        "load average at start": read_proc("/proc/loadavg").strip(),
    }


def read_proc(path: str) -> str:
    """Return a /proc file's text, or nothing where there is none."""
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def table(outcomes: list[Outcome]) -> str:
    """Return the per-configuration Markdown table."""
    lines = [
        "| configuration | what | route | conns | req/s | p50 ms | p99 ms | CPU ms/req | of it kernel"
        " | PG conns at rest | rounds |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for o in outcomes:
        m = o.measurement
        if o.unavailable is not None or o.failed is not None:
            why = (
                "not available in this build"
                if o.unavailable is not None
                else "failed (see the run's output)"
            )
            lines.append(f"| {m.name} | {m.about} | - | | {why} | | | | | | |")
            continue
        rps = o.median("rps")
        note = f" ({o.failures} failed requests: not valid)" if o.failures else ""
        cpu = o.median("cpu_ms")
        kernel = o.median("system_share")
        held = "-" if o.pg_connections is None else str(o.pg_connections)
        lines.append(
            f"| {m.name} | {m.about} | `{m.method} {o.route}` | {o.connections or '-'}"
            f" | {'-' if rps is None else f'{rps:.0f}'}{note}"
            f" | {_ms(o.median('p50_ms'))} | {_ms(o.median('p99_ms'))}"
            f" | {'-' if cpu is None else f'{cpu:.2f}'} | {'-' if kernel is None else f'{kernel:.0%}'}"
            f" | {held} | {len(o.samples)} |"
        )
    return "\n".join(lines)


def targets(verdicts: list[Verdict], smoke: bool = False) -> str:
    """Return the Markdown table of ratios and targets (a smoke run's verdicts are marked unjudged)."""
    lines = ["| ratio | value | target | status |", "|---|---:|---:|---|"]
    for v in verdicts:
        r = v.ratio
        target = f"{r.op} {r.target:.2f}" if r.target is not None else ""
        value = "-" if v.value is None else f"{v.value:.2f}"
        unjudged = smoke and r.target is not None and v.value is not None
        status = f"{v.status.strip('*')} (smoke run: not judged)" if unjudged else v.status
        lines.append(f"| {r.about} (`{r.top}` / `{r.bottom}`, {r.metric}) | {value} | {target} | {status} |")
    return "\n".join(lines)


def render(run: dict[str, Any], outcomes: list[Outcome], verdicts: list[Verdict], notes: str) -> str:
    """Return results.md."""
    kind = "SMOKE RUN: proves the harness works; not a measurement" if run["smoke"] else "measured run"
    about = "\n".join(f"- {k}: {v}" for k, v in run["machine"].items())
    settings = "\n".join(f"- {k}: {v}" for k, v in run["settings"].items())
    missed = [v for v in verdicts if v.status == "**missed**"]
    findings = FINDINGS.read_text().strip() if FINDINGS.exists() else "_none recorded_"
    return f"""# Benchmark results ({kind})

Generated by `uv run python benchmarks/run.py` on {run["date"]}. Each value is the median
over rounds; rounds of a group alternate between its configurations.

## Machine

{about}

## Run

{settings}

## Configurations

{table(outcomes)}

## Targets (issue 7)

{targets(verdicts, run["smoke"])}

Missed in this run{" (a smoke run: not judged)" if run["smoke"] else ""}: \
{", ".join(v.ratio.about for v in missed) or "none"}.

{notes}
## Profiles of missed targets

Recorded with `uv run python benchmarks/run.py --profile NAME` into `benchmarks/profiles/`;
the analysis below is kept by hand in `benchmarks/findings.md`.

{findings}
"""


def write(
    path: Path, run: dict[str, Any], outcomes: list[Outcome], verdicts: list[Verdict], notes: str
) -> None:
    """Write results.md and, beside it, results.json."""
    path.write_text(render(run, outcomes, verdicts, notes))
    raw = {
        **run,
        "configurations": [
            {"name": o.measurement.name, "route": o.route, "unavailable": o.unavailable, "failed": o.failed,
             "pg_connections_at_rest": o.pg_connections, "samples": [asdict(s) for s in o.samples]}
            for o in outcomes
        ],
        "ratios": [{"about": v.ratio.about, "value": v.value, "status": v.status} for v in verdicts],
    }  # fmt: skip
    path.with_suffix(".json").write_text(json.dumps(raw, indent=2) + "\n")


def update_readme(
    readme: Path, run: dict[str, Any], outcomes: list[Outcome], verdicts: list[Verdict]
) -> bool:
    """Replace the table between the README's benchmark markers; tell whether they were found."""
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        return False
    kind = "**Smoke run** (short, on a shared machine: not a measurement)" if run["smoke"] else "Last run"
    body = (
        f"{README_START}\n{kind}, {run['date']}, {run['machine']['cpu']} ({run['machine']['cores']} cores);"
        f" details in `benchmarks/results.md`.\n\n{table(outcomes)}\n\n{targets(verdicts, run['smoke'])}\n"
    )
    readme.write_text(text[:start] + body + text[end:])
    return True


def now() -> str:
    """Return the current UTC time for the report."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
