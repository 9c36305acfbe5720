"""What operators see of tasks: Prometheus metrics read from the table, and the broker's health.

The metrics come from `analysis_tasks` at scrape time, so every server process answers the
same numbers whatever worker ran the task: tasks by state and kind, the queue depth (queued
rows, and the broker's own message count on Redis and AMQP), and a histogram of run times.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from datalab.settings import Settings
from shared_models import AnalysisTask, TaskStatus

BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
BROKER_TIMEOUT_S = 1.0


def broker_queue_depth(settings: Settings) -> int | None:
    """Messages waiting in the task queue, by a passive queue declare (Redis and AMQP); None when unknown."""
    if settings.tasks.task_broker_url is None:
        return None
    from kombu import Connection  # noqa: PLC0415 - only with a broker

    url = settings.tasks.task_broker_url.get_secret_value()
    options = {"socket_timeout": BROKER_TIMEOUT_S} if url.startswith(("redis://", "rediss://")) else {}
    try:
        with Connection(url, connect_timeout=BROKER_TIMEOUT_S, transport_options=options) as conn:
            conn.ensure_connection(max_retries=0, timeout=int(BROKER_TIMEOUT_S))
            channel: Any = conn.channel()  # the transport's channel: queue_declare is not on kombu's stub
            try:
                declared = channel.queue_declare(queue=settings.tasks.task_queue, passive=True)
            except conn.channel_errors:
                return 0  # no such queue yet: nothing is waiting in it
            finally:
                channel.close()
            return int(declared.message_count)
    except Exception:  # any transport error means "unknown", never a failed scrape
        return None


def broker_status(settings: Settings) -> dict[str, Any]:
    """Connect to the broker within a second: ok with latency, down with the error class, or unset."""
    if settings.tasks.task_broker_url is None:
        return {"status": "not_configured", "executor": "local"}
    from kombu import Connection  # noqa: PLC0415

    started = time.perf_counter()
    try:
        with Connection(
            settings.tasks.task_broker_url.get_secret_value(), connect_timeout=BROKER_TIMEOUT_S
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
    except Exception as exc:  # any transport error means "unreachable"; the class name says which
        return {"status": "down", "executor": "celery", "error": type(exc).__name__}
    return {
        "status": "ok",
        "executor": "celery",
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }


class TaskCollector(Collector):
    """Prometheus collector reading task counts and run times from the database at each scrape."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions

    def collect(self) -> Iterator[Metric]:
        """Yield tasks by state and kind, queue depth and the run-time histogram."""
        with self.sessions() as session:
            by_state = session.execute(
                select(AnalysisTask.status, AnalysisTask.kind, func.count()).group_by(
                    AnalysisTask.status, AnalysisTask.kind
                )
            ).all()
            runs = self._run_times(session)
        tasks = GaugeMetricFamily(
            "datalab_tasks", "Analysis tasks in the table, by state and kind.", labels=["state", "kind"]
        )
        for status, kind, count in by_state:
            tasks.add_metric([status, kind], count)
        yield tasks
        depth = GaugeMetricFamily(
            "datalab_task_queue_depth",
            "Tasks waiting to start: queued rows, and messages on the broker.",
            labels=["source"],
        )
        depth.add_metric(["table"], sum(c for s, _k, c in by_state if s == TaskStatus.QUEUED.value))
        broker = broker_queue_depth(self.settings)
        if broker is not None:
            depth.add_metric(["broker"], broker)
        yield depth
        histogram = HistogramMetricFamily(
            "datalab_task_run_seconds",
            "Run time of finished task attempts, by kind and final state.",
            labels=["kind", "state"],
        )
        for (kind, status), (buckets, total) in runs.items():
            histogram.add_metric([kind, status], buckets, total)
        yield histogram

    @staticmethod
    def _run_times(session: Session) -> dict[tuple[str, str], tuple[list[tuple[str, float]], float]]:
        seconds = AnalysisTask.run_seconds
        columns = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in BUCKETS]
        rows = session.execute(
            select(AnalysisTask.kind, AnalysisTask.status, *columns, func.count(), func.sum(seconds))
            .where(seconds.is_not(None))
            .group_by(AnalysisTask.kind, AnalysisTask.status)
        ).all()
        found: dict[tuple[str, str], tuple[list[tuple[str, float]], float]] = {}
        for row in rows:
            kind, status, *counts, total_count, total_seconds = row
            buckets = [(str(bound), float(count or 0)) for bound, count in zip(BUCKETS, counts, strict=True)]
            buckets.append(("+Inf", float(total_count)))
            found[(kind, status)] = (buckets, float(total_seconds or 0.0))
        return found
