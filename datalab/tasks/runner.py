"""Running one task: claim it, stream its rows into Parquet, publish the result once.

The same code runs on the in-process executor and in Celery workers. While the rows flow, a
watcher thread renews the lease every `WATCH_S` and checks for a cancel request; on one it
interrupts the statement at the source (libpq cancel, KILL QUERY, interrupt()).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from datalab.connectors.base import ConnectorError, Limits
from datalab.connectors.configs import connection_config
from datalab.connectors.service import limits_from
from datalab.crypto import ConfigCipher
from datalab.errors import DomainError
from datalab.settings import Settings
from datalab.tasks import state
from datalab.tasks.results import ResultStore, result_key

if TYPE_CHECKING:
    from datalab.tasks.parquet import ParquetSink
    from datalab.tasks.streams import RowStream
from shared_models import AnalysisTask, DataSource, SourceType

log = logging.getLogger(__name__)
BATCH_ROWS = 10_000
# How often a running task renews its lease and looks for a cancel request (cancel latency).
WATCH_S = 0.5
RUN_SPAN = "task run"  # the span of running a task, on either executor


@dataclass(frozen=True)
class TaskContext:
    """What running a task needs, built once per process."""

    settings: Settings
    sessions: sessionmaker[Session]
    cipher: ConfigCipher
    store: ResultStore

    @property
    def limits(self) -> Limits:
        """Connector limits with the task's time limit and row cap instead of the request's."""
        return dataclasses.replace(
            limits_from(self.settings),
            query_timeout_s=self.settings.tasks.task_time_limit_s,
            max_rows=self.settings.tasks.task_max_rows,
        )


def worker_name() -> str:
    """Name this process as the worker of an attempt: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run_task(context: TaskContext, task_id: int) -> state.Claim:
    """Run task `task_id` if this delivery may; return what the claim found (BUSY: try later)."""
    settings = context.settings
    with context.sessions.begin() as session:
        claim = state.claim(
            session,
            task_id,
            worker=worker_name(),
            lease_s=settings.tasks.task_lease_s,
            max_attempts=settings.tasks.task_max_attempts,
        )
        # Read what to run in the claim's transaction: one connection checkout per task start.
        work = _work_of(session, context.cipher, task_id) if claim.outcome is state.Claim.CLAIMED else None
    if claim.outcome is not state.Claim.CLAIMED or work is None:
        return claim.outcome
    _Attempt(context, task_id, claim.attempt, work).run()
    return state.Claim.CLAIMED


@dataclass(frozen=True)
class _Work:
    """What an attempt runs: the statement and its source's type and decrypted config."""

    query: str
    source_type: str
    config: dict[str, object]
    problem: DomainError | None = None


def _work_of(session: Session, cipher: ConfigCipher, task_id: int) -> _Work:
    task = session.get_one(AnalysisTask, task_id)
    source = session.get(DataSource, task.data_source_id) if task.data_source_id else None
    if source is None or not source.is_active:
        gone = DomainError("The task's data source no longer exists.", code="SOURCE_GONE")
        return _Work("", "", {}, problem=gone)
    config = connection_config(SourceType(source.type), cipher.decrypt(source.config_encrypted))
    return _Work(task.query or "", source.type, config)


class _Attempt:
    """One claimed attempt at a task."""

    def __init__(self, context: TaskContext, task_id: int, attempt: int, work: _Work) -> None:
        self.context, self.task_id, self.attempt, self.work = context, task_id, attempt, work
        self.rows = 0
        self.stream: RowStream | None = None
        self.cancelled = threading.Event()
        self.done = threading.Event()
        self.started = time.monotonic()

    def run(self) -> None:
        # Drivers load with the first task, not with the app (start-up time of every server process).
        from datalab.tasks.streams import Interrupted  # noqa: PLC0415

        store, key = self.context.store, result_key(self.task_id)
        partial = store.partial(key, self.attempt)
        watcher = threading.Thread(target=self._watch, name=f"task-{self.task_id}-watch", daemon=True)
        watcher.start()
        try:
            columns, truncated = self._write(partial)
            if self.cancelled.is_set():
                raise Interrupted
            size = store.publish(key, partial)
            with self.context.sessions.begin() as session:
                state.succeed(
                    session,
                    self.task_id,
                    self.attempt,
                    object_key=key,
                    columns=columns,
                    rows=self.rows,
                    size=size,
                    truncated=truncated,
                    ran_s=self._ran(),
                )
        except Interrupted:
            self._end(lambda s: state.cancelled(s, self.task_id, self.attempt, ran_s=self._ran()))
        except (ConnectorError, DomainError) as exc:
            code, message = exc.code, exc.message
            self._end(
                lambda s: state.fail(
                    s, self.task_id, self.attempt, code=code, message=message, ran_s=self._ran()
                )
            )
        except Exception:
            log.exception("task %s failed", self.task_id)
            self._end(
                lambda s: state.fail(
                    s, self.task_id, self.attempt, code="TASK_FAILED", message="The task failed unexpectedly."
                )
            )
        finally:
            self.done.set()
            partial.unlink(missing_ok=True)

    def _ran(self) -> float:
        return time.monotonic() - self.started

    def _end(self, write: Callable[[Session], object]) -> None:
        with self.context.sessions.begin() as session:
            write(session)

    def _write(self, partial: Path) -> tuple[list[str], str | None]:
        settings = self.context.settings
        if self.work.problem is not None:
            raise self.work.problem
        from datalab.tasks.parquet import ParquetSink  # noqa: PLC0415
        from datalab.tasks.streams import STREAMS  # noqa: PLC0415

        opener = STREAMS[self.work.source_type]
        self.stream = stream = opener(self.work.config, self.context.limits, self.work.query)
        if self.cancelled.is_set():
            stream.interrupt()
        truncated: str | None = None
        sink: ParquetSink | None = None
        try:
            for batch in stream.batches(BATCH_ROWS):
                if sink is None:
                    sink = ParquetSink(partial, stream.columns)
                room = settings.tasks.task_max_rows - self.rows
                sink.write(batch[:room])
                self.rows += min(len(batch), room)
                if self.rows >= settings.tasks.task_max_rows:
                    truncated = "rows"
                elif sink.size() >= settings.tasks.task_max_bytes:
                    truncated = "bytes"
                if truncated or self.cancelled.is_set():
                    break
            if sink is None:
                sink = ParquetSink(partial, stream.columns)
            sink.close()
        finally:
            stream.close()
        return sink.columns, truncated

    def _watch(self) -> None:
        while not self.done.wait(WATCH_S):
            try:
                with self.context.sessions.begin() as session:
                    progress = min(0.99, self.rows / self.context.settings.tasks.task_max_rows)
                    owned = state.heartbeat(
                        session, self.task_id, self.attempt, rows=self.rows, progress=progress
                    )
                    wanted = state.cancel_requested(session, self.task_id)
            except Exception:  # a database hiccup must not kill the watcher; the next round retries
                log.warning("task %s heartbeat failed", self.task_id, exc_info=True)
                continue
            if (wanted or not owned) and not self.cancelled.is_set():
                self.cancelled.set()
                stream = self.stream
                if stream is not None:
                    try:
                        stream.interrupt()
                    except Exception:
                        log.warning("task %s: interrupt failed", self.task_id, exc_info=True)


def build_context(settings: Settings, sessions: sessionmaker[Session]) -> TaskContext:
    """Build the task context for `settings` on an existing session factory."""
    return TaskContext(
        settings=settings,
        sessions=sessions,
        cipher=ConfigCipher(settings.security.fernet_keys),
        store=ResultStore(settings.results_dir),
    )
