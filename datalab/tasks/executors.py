"""Executors: where a submitted task runs. A registry, as Airflow's LocalExecutor beside its CeleryExecutor.

`local` runs tasks on a bounded thread pool inside the server process (development, and tests
without a broker); `celery` sends them to workers through TASK_BROKER_URL. Both call the same
`run_task`, so the claim, fencing and cancel rules are the same everywhere.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from opentelemetry.trace import SpanKind
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from datalab.settings import Settings
from datalab.storage import ObjectStore
from datalab.tasks import state
from datalab.tasks.runner import RUN_SPAN, TaskContext, build_context, run_task
from datalab.tracing import inject, span
from shared_models import AnalysisTask, TaskStatus

log = logging.getLogger(__name__)


class Executor(Protocol):
    """Runs submitted tasks somewhere."""

    name: str

    def submit(self, task_id: int) -> None:
        """Hand task `task_id` (already committed as queued) over to be run."""
        ...

    def start(self) -> None:
        """Start (the local executor picks up tasks left queued by a previous run)."""
        ...

    def close(self) -> None:
        """Stop taking tasks and release resources."""
        ...


class LocalExecutor:
    """A bounded thread pool in this process, open between the app's start and stop."""

    name = "local"

    def __init__(self, context: TaskContext) -> None:
        self.context = context
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, task_id: int) -> None:
        """Queue the task on the pool (opened on first use)."""
        with submitting(task_id, self.name), self._lock:
            if self._pool is None:
                threads = self.context.settings.tasks.task_local_threads
                self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="task")
            # Run in a copy of this context: the task's span joins the submitting request's trace.
            self._pool.submit(contextvars.copy_context().run, self._run, task_id)

    def _run(self, task_id: int) -> None:
        try:
            with span(RUN_SPAN, kind=SpanKind.CONSUMER, attributes={"datalab.task_id": task_id}):
                outcome = run_task(self.context, task_id)
        except Exception:
            log.exception("task %s could not run", task_id)
            return
        if outcome is state.Claim.BUSY:
            # Another attempt holds a live lease; look again once it could have gone stale.
            timer = threading.Timer(self.context.settings.tasks.task_lease_s, self.submit, (task_id,))
            timer.daemon = True
            timer.start()

    def start(self) -> None:
        """Resubmit tasks a stopped server left queued or running (their leases decide who runs)."""
        waiting = AnalysisTask.status.in_([TaskStatus.QUEUED.value, TaskStatus.RUNNING.value])
        try:
            with self.context.sessions() as session:
                ids = session.scalars(select(AnalysisTask.id).where(waiting)).all()
        except SQLAlchemyError:
            # The server starts without its database too (health says so); those tasks wait for a restart.
            log.warning("could not look for tasks left queued", exc_info=True)
            return
        for task_id in ids:
            self.submit(task_id)

    def close(self) -> None:
        """Drop tasks not yet started (they stay queued for the next start); running ones finish."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


class CeleryExecutor:
    """Celery workers, reached through the broker."""

    name = "celery"

    def __init__(self, settings: Settings) -> None:
        from datalab.tasks.celery_app import make_celery  # noqa: PLC0415 - loads celery only when used

        self.settings = settings
        self.app = make_celery(settings)

    def submit(self, task_id: int) -> None:
        """Publish the task message (its Celery id names our task id)."""
        from datalab.tasks.celery_app import RUN_TASK  # noqa: PLC0415

        with submitting(task_id, self.name):
            self.app.send_task(
                RUN_TASK,
                args=[task_id],
                queue=self.settings.tasks.task_queue,
                task_id=f"analysis-{task_id}",
                headers=inject({}),  # the worker's span continues this trace (traceparent)
            )

    def start(self) -> None:
        """Nothing to start: workers are separate processes."""

    def close(self) -> None:
        """Release the broker connections."""
        self.app.close()


def submitting(task_id: int, executor: str) -> AbstractContextManager[object]:
    """The producer span of handing a task over (a no-op when tracing is off)."""
    attributes = {"datalab.task_id": task_id, "datalab.executor": executor}
    return span("task submit", kind=SpanKind.PRODUCER, attributes=attributes)


Builder = Callable[[Settings, sessionmaker[Session], ObjectStore], Executor]
EXECUTORS: dict[str, Builder] = {
    "local": lambda settings, sessions, store: LocalExecutor(build_context(settings, sessions, store)),
    "celery": lambda settings, _sessions, _store: CeleryExecutor(settings),
}


def executor_name(settings: Settings) -> str:
    """The executor the settings select: celery with a broker, local without."""
    return "celery" if settings.tasks.task_broker_url else "local"


def build_executor(settings: Settings, sessions: sessionmaker[Session], store: ObjectStore) -> Executor:
    """Build the executor the settings select."""
    return EXECUTORS[executor_name(settings)](settings, sessions, store)


@dataclass(frozen=True)
class Tasks:
    """What the API needs for tasks: the executor to submit to and the object store results are read from."""

    executor: Executor
    store: ObjectStore


def build_tasks(settings: Settings, sessions: sessionmaker[Session], store: ObjectStore) -> Tasks:
    """Build the executor the settings select, reading and writing results in `store`."""
    return Tasks(executor=build_executor(settings, sessions, store), store=store)
