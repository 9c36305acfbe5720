"""Ratios against the issue's targets, and the tables written to results.md and the README."""

from __future__ import annotations

from pathlib import Path

from benchmarks.configs import RATIOS, Ratio, measurement, names
from benchmarks.load import Sample
from benchmarks.results import README_END, README_START, Outcome, judge, table, targets, update_readme


def _sample(rps: float, p99_ms: float, bad_status: int = 0) -> Sample:
    return Sample(requests=int(rps * 10), seconds=10, p50_ms=p99_ms / 2, p99_ms=p99_ms, max_ms=p99_ms,
                  errors=0, bad_status=bad_status)  # fmt: skip


def _outcome(name: str, *samples: Sample) -> Outcome:
    return Outcome(measurement(name), route="/api/data-sources?per_page=50", samples=list(samples))


THROUGHPUT = Ratio("t", "combined", "flask-alone", "rps", ">=", 0.9)
LATENCY = Ratio("l", "combined", "flask-alone", "p99_ms", "<=", 1.2)


def test_ratio_meeting_and_missing_its_target() -> None:
    outcomes = {
        "combined": _outcome("combined", _sample(95, 12)),
        "flask-alone": _outcome("flask-alone", _sample(100, 9)),
    }
    throughput, latency = judge((THROUGHPUT, LATENCY), outcomes)
    assert (throughput.value, throughput.status) == (0.95, "met")
    assert round(latency.value or 0, 2) == 1.33
    assert latency.status == "**missed**"


def test_ratio_uses_the_median_of_rounds() -> None:
    outcomes = {
        "combined": _outcome("combined", _sample(10, 1), _sample(90, 1), _sample(1000, 1)),
        "flask-alone": _outcome("flask-alone", _sample(100, 1)),
    }
    assert judge((THROUGHPUT,), outcomes)[0].value == 0.9


def test_failed_requests_or_a_missing_side_leave_a_ratio_unmeasured() -> None:
    failed = {
        "combined": _outcome("combined", _sample(95, 12, bad_status=4)),
        "flask-alone": _outcome("flask-alone", _sample(100, 9)),
    }
    alone = {"flask-alone": _outcome("flask-alone", _sample(100, 9))}
    assert judge((THROUGHPUT,), failed)[0].status == "not measured"
    assert judge((THROUGHPUT,), alone)[0].status == "not measured"


def test_a_round_without_requests_counts_as_failed() -> None:
    assert _outcome("login-12", _sample(0, 0)).failures == 1


def test_table_says_what_this_build_cannot_serve() -> None:
    missing = Outcome(measurement("migrated"), unavailable="X-Served-By is 'legacy_flask'")
    text = table([missing, _outcome("combined", _sample(95, 12))])
    assert "| migrated |" in text
    assert "not available in this build" in text
    assert "| 95 | 6.0 | 12.0 | - | - | - | 1 |" in text


def test_table_shows_cpu_per_request_and_connections_at_rest() -> None:
    measured = _outcome(
        "v1",
        Sample(1000, 10, 1.0, 2.0, 3.0, 0, 0, cpu_s=2.5, system_s=0.5),
        Sample(1000, 10, 1, 2, 3, 0, 0),
    )
    measured.pg_connections, measured.connections = 3, 64
    # 2.5 CPU seconds over 1000 requests, a fifth in the kernel; a round without a CPU reading does not count.
    assert "| 64 | 100 | 1.0 | 2.0 | 2.50 | 20% | 3 | 2 |" in table([measured])


def test_every_ratio_compares_declared_configurations() -> None:
    declared = set(names())
    assert len(declared) == len(names())
    for ratio in RATIOS:
        assert {ratio.top, ratio.bottom} <= declared


def test_update_readme_replaces_only_the_marked_table(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{README_START}\nold table\n{README_END}\n\n## Next\n")
    run = {"smoke": True, "date": "today", "machine": {"cpu": "CPU", "cores": "2"}}
    assert update_readme(readme, run, [_outcome("combined", _sample(95, 12))], [])
    text = readme.read_text()
    assert "old table" not in text
    assert "**Smoke run**" in text
    assert text.startswith("# Title\n\n")
    assert text.endswith(f"{README_END}\n\n## Next\n")


def test_update_readme_without_markers_changes_nothing(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n")
    assert not update_readme(readme, {"smoke": False, "date": "", "machine": {}}, [], [])
    assert readme.read_text() == "# Title\n"


def test_smoke_run_verdicts_are_marked_not_judged() -> None:
    outcomes = {
        "combined": _outcome("combined", _sample(50, 12)),
        "flask-alone": _outcome("flask-alone", _sample(100, 9)),
    }
    text = targets(judge((THROUGHPUT,), outcomes), smoke=True)
    assert "| 0.50 | >= 0.90 | missed (smoke run: not judged) |" in text


def test_a_configuration_whose_load_broke_off_is_reported_failed_and_not_compared() -> None:
    broken = _outcome("combined", _sample(95, 12))
    broken.failed = "wrk exited 1: connection refused"
    outcomes = {"combined": broken, "flask-alone": _outcome("flask-alone", _sample(100, 9))}
    assert "failed (see the run's output)" in table([broken])
    assert judge((THROUGHPUT,), outcomes)[0].status == "not measured"
