"""Task throughput with 1 and 2 workers, and submit-to-start latency on an idle queue (Redis).

    uv run python benchmarks/tasks.py [--tasks 200] [--samples 30]

N workers (one process each) start; when all are ready, 200 small query tasks are queued at
once (rows in one statement, messages straight to the broker) and the run time is measured
from the first task's start to the last one's finish, read from the task rows. Then, with the
workers idle, tasks are submitted one at a time through the API and the time
from the row's creation (the API request) to its claim by a worker is sampled. Targets: 2
workers >= 1.6x one worker; submit-to-start p50 <= 50 ms. Writes benchmarks/tasks-results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.task_harness import Bench, installation
from datalab.tasks.celery_app import RUN_TASK, make_celery
from tests.tasks_support import FINAL, submit, wait_for

QUERY = "SELECT g AS n, 'row ' || g AS label FROM generate_series(1, 100) AS g"
RESULTS = Path(__file__).with_name("tasks-results.md")


def _drain(bench: Bench, count: int, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while True:
        ((left,),) = bench.sql("SELECT count(*) FROM analysis_tasks WHERE status IN ('queued', 'running')")
        if left == 0:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"{left} of {count} tasks still unfinished after {timeout} s")
        time.sleep(0.2)


def throughput(bench: Bench, workers: int, count: int) -> dict[str, Any]:
    """Start `workers` workers, then queue `count` tasks at once; return tasks per second."""
    bench.sql("DELETE FROM analysis_tasks")
    started = [bench.worker(f"w{workers}-{i}") for i in range(workers)]
    try:
        # Rows in one statement and messages straight to the broker: the workers, not the
        # submitting client, must be the bottleneck. (Worker start-up is slow on a loaded machine,
        # so they are all ready before the first task exists.)
        ((owner,),) = bench.sql("SELECT id FROM user_account")
        rows = bench.sql(
            "INSERT INTO analysis_tasks (owner_id, kind, status, data_source_id, query, params, progress,"
            " attempts, created_at) SELECT :owner, 'query', 'queued', :source, :query, '{}', 0, 0, now()"
            " FROM generate_series(1, :count) RETURNING id",
            owner=owner,
            source=bench.source_id,
            query=QUERY,
            count=count,
        )
        sender = make_celery(bench.settings)
        for (task_id,) in rows:
            sender.send_task(
                RUN_TASK, args=[task_id], queue=bench.settings.tasks.task_queue, task_id=f"analysis-{task_id}"
            )
        sender.close()
        _drain(bench, count)
    finally:
        for worker in started:
            worker.stop()
    ((span, ok),) = bench.sql(
        "SELECT extract(epoch FROM max(finished_at) - min(started_at)),"
        " count(*) FILTER (WHERE status = 'succeeded') FROM analysis_tasks"
    )
    seconds = float(span)
    # Tasks per pool process, and when each began relative to the first start: shows a late starter.
    per_process = bench.sql(
        "SELECT worker, count(*), round(extract(epoch FROM min(started_at) - (SELECT min(started_at)"
        " FROM analysis_tasks))::numeric, 2) FROM analysis_tasks GROUP BY worker ORDER BY worker"
    )
    return {
        "workers": workers,
        "tasks": count,
        "succeeded": int(ok),
        "seconds": round(seconds, 2),
        "per_s": round(count / seconds, 1),
        "per_process": [[str(w), int(n), float(first)] for w, n, first in per_process],
    }


def latency(bench: Bench, samples: int) -> dict[str, float]:
    """Submit tasks one at a time to an idle worker; return submit-to-start percentiles in ms."""
    bench.sql("DELETE FROM analysis_tasks")
    worker = bench.worker("latency")
    try:
        for _ in range(samples):
            task_id = submit(bench.client, bench.headers, bench.source_id, "SELECT 1 AS one")
            wait_for(bench.client, bench.headers, task_id, FINAL)
            time.sleep(0.1)  # idle again before the next one
    finally:
        worker.stop()
    rows = bench.sql("SELECT extract(epoch FROM started_at - created_at) * 1000 FROM analysis_tasks")
    values = sorted(float(r[0]) for r in rows)
    return {
        "samples": len(values),
        "p50_ms": round(statistics.median(values), 1),
        "p95_ms": round(values[int(0.95 * (len(values) - 1))], 1),
        "max_ms": round(values[-1], 1),
    }


def main() -> None:
    """Run the three measurements once and write the results file."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="datalab-task-bench-") as folder,
        installation(Path(folder)) as bench,
    ):
        one = throughput(bench, 1, args.tasks)
        print("1 worker:", one)
        two = throughput(bench, 2, args.tasks)
        print("2 workers:", two)
        idle = latency(bench, args.samples)
        print("submit to start:", idle)
    ratio = round(two["per_s"] / one["per_s"], 2)
    load = os.getloadavg()
    lines = [
        "# Task benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} cores, shared; "
        f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}); broker: our own redis-server;"
        " app database: PostgreSQL.",
        "One run only: the machine is shared with other engineers' test runs, so the numbers are noisy.",
        "",
        "| measure | value | target | status |",
        "|---|---:|---:|---|",
        f"| 1 worker: {one['tasks']} tasks | {one['per_s']} tasks/s ({one['seconds']} s) | | |",
        f"| 2 workers: {two['tasks']} tasks | {two['per_s']} tasks/s ({two['seconds']} s) | | |",
        f"| 2 workers vs 1 | {ratio}x | >= 1.6x | {'met' if ratio >= 1.6 else '**missed**'} |",
        f"| submit to start, idle queue (p50 / p95 / max, {idle['samples']} samples) | "
        f"{idle['p50_ms']} / {idle['p95_ms']} / {idle['max_ms']} ms | p50 <= 50 ms | "
        f"{'met' if idle['p50_ms'] <= 50 else '**missed**'} |",
        "",
        f"Query per task: `{QUERY}` on a PostgreSQL source; each worker is `datalab worker --concurrency 1`.",
        "",
        "```json",
        json.dumps({"one": one, "two": two, "latency": idle}, indent=2),
        "```",
        "",
    ]
    RESULTS.write_text("\n".join(lines))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
