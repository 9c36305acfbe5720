"""The Celery application: the task that runs analysis tasks, and beat's maintenance.

Delivery settings (docs/tasks.md): acknowledged late and rejected (requeued) when the worker
process dies, one message reserved per process, so a killed worker loses nothing; the task
row's claim and fencing make a second delivery harmless. No result backend: state is in our
tables. On Redis the visibility timeout exceeds the time limit, so a long task is not handed
out again while it runs (and if it were, the live lease would send the copy back to wait).
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_shutdown
from sqlalchemy.exc import SQLAlchemyError

from datalab.db import make_engine, make_sessionmaker
from datalab.settings import Settings
from datalab.tasks import state
from datalab.tasks.maintenance import run_maintenance
from datalab.tasks.runner import RUN_SPAN, TaskContext, build_context, run_task
from datalab.tracing import TRACE_HEADERS, bind_process_tracer, continued, start_tracing

RUN_TASK = "datalab.run_analysis_task"
MAINTENANCE = "datalab.maintenance"
# Margin between the query's own time limit and Celery's hard kill of the process.
HARD_LIMIT_MARGIN_S = 120.0
DATABASE_RETRY_S = 5.0
_contexts: dict[int, TaskContext] = {}


def _context(settings: Settings) -> TaskContext:
    # One engine per worker process, made after the fork (pools must not cross a fork); the
    # tracer provider too (its export thread would not survive one).
    pid = os.getpid()
    if pid not in _contexts:
        _contexts.clear()
        engine = make_engine(settings)
        tracing = start_tracing(settings.tracing)
        if tracing is not None:
            tracing.instrument(engine)
            bind_process_tracer(tracing.tracer)
            worker_process_shutdown.connect(lambda **_: tracing.close(), weak=False)
        _contexts[pid] = build_context(settings, make_sessionmaker(engine))
    return _contexts[pid]


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery settings derived from ours."""
    assert settings.tasks.task_broker_url is not None
    visibility = settings.tasks.task_visibility_timeout_s or settings.tasks.task_time_limit_s + 600
    return {
        "broker_url": settings.tasks.task_broker_url.get_secret_value(),
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"visibility_timeout": visibility, **settings.tasks.task_broker_options},
        "task_default_queue": settings.tasks.task_queue,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        # Celery 6's default: a late-acked task whose broker connection dropped is redelivered anyway.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_time_limit": settings.tasks.task_time_limit_s + HARD_LIMIT_MARGIN_S,
        "task_publish_retry_policy": {"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
        "worker_hijack_root_logger": False,
        "beat_schedule": {
            "maintenance": {
                "task": MAINTENANCE,
                "schedule": settings.tasks.task_maintenance_interval_s,
                # A stalled worker must not run a backlog of maintenance runs later.
                "options": {
                    "expires": settings.tasks.task_maintenance_interval_s,
                    "queue": settings.tasks.task_queue,
                },
            }
        },
    }


def make_celery(settings: Settings) -> Celery:
    """Build the Celery app for `settings`, with the analysis and maintenance tasks registered."""
    app = Celery("datalab", set_as_current=False)
    app.conf.update(celery_config(settings))

    @app.task(name=RUN_TASK, bind=True, max_retries=None, acks_late=True)
    def run_analysis_task(self: Task[Any, Any], task_id: int) -> str:
        context = _context(settings)
        # The submitting request's trace, from the message headers (datalab.tasks.executors).
        carrier = {name: str(self.request.get(name)) for name in TRACE_HEADERS if self.request.get(name)}
        try:
            with continued(carrier, RUN_SPAN, attributes={"datalab.task_id": task_id}):
                outcome = run_task(context, task_id)
        except SQLAlchemyError as exc:
            # The database is unreachable: the row cannot be claimed or settled, so keep the message.
            raise self.retry(countdown=DATABASE_RETRY_S, exc=exc) from None
        if outcome is state.Claim.BUSY:
            # Another attempt holds a live lease: come back when it could have gone stale.
            raise self.retry(countdown=settings.tasks.task_lease_s)
        return str(outcome.value)

    @app.task(name=MAINTENANCE)
    def maintenance() -> dict[str, int]:
        return run_maintenance(settings, _context(settings).sessions)

    return app
