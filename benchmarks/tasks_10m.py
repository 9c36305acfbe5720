"""A 10-million-row query as a task on a Celery worker: watched, paged, downloaded, cancelled.

    uv run python benchmarks/tasks_10m.py [--rows 10000000]

Records the run time, the worker's peak resident memory (worker and pool process together,
sampled every 0.2 s from /proc), the result size, the time to page near the end and to
download CSV and Parquet, and how long a cancel of a second 10M task takes. Writes
benchmarks/tasks-10m.md. The test suite keeps a smaller version (120,000 rows).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.task_harness import Bench, installation, tree_rss_mb
from tests.tasks_support import FINAL, TASKS_URL, submit, wait_for

RESULTS = Path(__file__).with_name("tasks-10m.md")


def _query(rows: int) -> str:
    return f"SELECT g AS id, g % 1000 AS bucket, 'row ' || g AS label FROM generate_series(1, {rows}) AS g"  # noqa: S608 - our own number


def _download(bench: Bench, task_id: int, fmt: str) -> dict[str, float]:
    started = time.perf_counter()
    size = 0
    with bench.client.stream(
        "GET", f"{TASKS_URL}/{task_id}/download?format={fmt}", headers=bench.headers
    ) as answer:
        for chunk in answer.iter_bytes():
            size += len(chunk)
    return {"mb": round(size / 2**20, 1), "seconds": round(time.perf_counter() - started, 2)}


def main() -> None:
    """Run one 10M task to the end and cancel a second one; write the results."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    report: dict[str, Any] = {"rows": args.rows}
    with tempfile.TemporaryDirectory(prefix="datalab-10m-") as folder, installation(Path(folder)) as bench:
        worker = bench.worker("w10m")
        peak = [0.0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.2):
                peak[0] = max(peak[0], tree_rss_mb(worker.process.pid))

        report["idle_worker_rss_mb"] = round(tree_rss_mb(worker.process.pid), 1)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            task_id = submit(bench.client, bench.headers, bench.source_id, _query(args.rows))
            watched = []
            deadline = time.monotonic() + 1800
            while True:
                body = bench.client.get(f"{TASKS_URL}/{task_id}", headers=bench.headers).json()
                watched.append((body["status"], body["row_count"], body["progress"]))
                print("watch:", watched[-1])
                if body["status"] in FINAL or time.monotonic() > deadline:
                    break
                time.sleep(5)
            report["task"] = {
                k: body[k] for k in ("status", "row_count", "result_bytes", "started_at", "finished_at")
            }
            ((seconds,),) = bench.sql(f"SELECT run_seconds FROM analysis_tasks WHERE id = {int(task_id)}")  # noqa: S608
            report["run_seconds"] = round(float(seconds), 1)
            report["peak_worker_rss_mb"] = round(peak[0], 1)
            report["watch_samples"] = len(watched)
            started = time.perf_counter()
            page = bench.client.get(
                f"{TASKS_URL}/{task_id}/result?limit=10&offset={args.rows - 10}", headers=bench.headers
            ).json()
            report["page_near_end"] = {
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "last_id": page["data"][-1]["id"],
            }
            report["download_csv"] = _download(bench, task_id, "csv")
            report["download_parquet"] = _download(bench, task_id, "parquet")
            second = submit(bench.client, bench.headers, bench.source_id, _query(args.rows))
            wait_for(bench.client, bench.headers, second, {"running"}, timeout=120)
            while (
                bench.client.get(f"{TASKS_URL}/{second}", headers=bench.headers).json()["row_count"]
                < 1_000_000
            ):
                time.sleep(0.1)
            asked = time.perf_counter()
            bench.client.post(f"{TASKS_URL}/{second}/cancel", headers=bench.headers)
            cancelled = wait_for(bench.client, bench.headers, second, FINAL, timeout=60)
            report["cancel"] = {
                "status": cancelled["status"],
                "seconds": round(time.perf_counter() - asked, 2),
                "rows_when_stopped": cancelled["row_count"],
            }
        finally:
            stop.set()
            worker.stop()
    load = os.getloadavg()
    print(json.dumps(report, indent=2))
    RESULTS.write_text(
        "# A 10-million-row task\n\n"
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, once, on the shared 2-core machine (load average "
        f"{load[0]:.1f}); one `datalab worker --concurrency 1` on our own redis-server, PostgreSQL source "
        "and app database.\n\n"
        f"Query: `{_query(args.rows)}`\n\n```json\n{json.dumps(report, indent=2)}\n```\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
