"""Running one task: claim it, stream its rows into Parquet, publish the result once.

The rows go batch by batch into a local spool file, which is then uploaded to the object
storage under the attempt's key (datalab.tasks.results); the fenced `succeed` decides which
attempt's object the task's one result row names.

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
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from datalab.connectors.base import ConnectorError, Limits
from datalab.connectors.service import limits_from
from datalab.crypto import ConfigCipher
from datalab.datasets.ingest import xlsx_limits
from datalab.errors import DomainError
from datalab.settings import Settings
from datalab.storage import ObjectStore, StorageError, open_storage
from datalab.tasks import state
from datalab.tasks.kinds import Reading, Work, load_work, open_stream
from datalab.tasks.results import publish, result_key, spool_file

if TYPE_CHECKING:
    from datalab.tasks.parquet import ParquetSink
    from datalab.tasks.streams import RowStream

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
    store: ObjectStore

    @property
    def limits(self) -> Limits:
        """Connector limits with the task's time limit and row cap instead of the request's."""
        return dataclasses.replace(
            limits_from(self.settings),
            query_timeout_s=self.settings.tasks.task_time_limit_s,
            max_rows=self.settings.tasks.task_max_rows,
        )

    def reading(self) -> Reading:
        """What opening a task's row stream needs."""
        settings = self.settings
        return Reading(self.limits, self.store, settings.results_dir, xlsx_limits(settings))


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
        work = load_work(session, context.cipher, task_id) if claim.outcome is state.Claim.CLAIMED else None
    if claim.outcome is not state.Claim.CLAIMED or work is None:
        return claim.outcome
    _Attempt(context, task_id, claim.attempt, work).run()
    return state.Claim.CLAIMED


class _Attempt:
    """One claimed attempt at a task."""

    def __init__(self, context: TaskContext, task_id: int, attempt: int, work: Work) -> None:
        self.context, self.task_id, self.attempt, self.work = context, task_id, attempt, work
        self.rows = 0
        self.stream: RowStream | None = None
        self.cancelled = threading.Event()
        self.done = threading.Event()
        self.started = time.monotonic()

    def run(self) -> None:
        # Drivers load with the first task, not with the app (start-up time of every server process).
        from datalab.tasks.streams import Interrupted  # noqa: PLC0415

        store, key = self.context.store, result_key(self.task_id, self.attempt)
        partial = spool_file(self.context.settings.results_dir, self.task_id, self.attempt)
        watcher = threading.Thread(target=self._watch, name=f"task-{self.task_id}-watch", daemon=True)
        watcher.start()
        try:
            columns, truncated = self._write(partial)
            if self.cancelled.is_set():
                raise Interrupted
            size = publish(store, partial, key)
            with self.context.sessions.begin() as session:
                won = state.succeed(
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
            if not won:
                # Another attempt took the task over; its object is the result, not this one.
                store.delete(key)
        except Interrupted:
            self._end(lambda s: state.cancelled(s, self.task_id, self.attempt, ran_s=self._ran()))
        except StorageError:
            self._fail("STORAGE_UNAVAILABLE", "The result could not be written to the object storage.")
        except (ConnectorError, DomainError) as exc:
            self._fail(exc.code, exc.message)
        except Exception:
            log.exception("task %s failed", self.task_id)
            self._fail("TASK_FAILED", "The task failed unexpectedly.")
        finally:
            self.done.set()
            partial.unlink(missing_ok=True)

    def _ran(self) -> float:
        return time.monotonic() - self.started

    def _end(self, write: Callable[[Session], object]) -> None:
        with self.context.sessions.begin() as session:
            write(session)

    def _fail(self, code: str, message: str) -> None:
        self._end(
            lambda s: state.fail(s, self.task_id, self.attempt, code=code, message=message, ran_s=self._ran())
        )

    def _write(self, partial: Path) -> tuple[list[str], str | None]:
        settings = self.context.settings
        with ExitStack() as stack:
            self.stream = stream = open_stream(self.work, self.context.reading(), stack)
            stack.callback(stream.close)
            return self._copy(stream, partial, settings)

    def _copy(self, stream: RowStream, partial: Path, settings: Settings) -> tuple[list[str], str | None]:
        from datalab.tasks.parquet import ParquetSink  # noqa: PLC0415

        if self.cancelled.is_set():
            stream.interrupt()
        truncated: str | None = None
        sink: ParquetSink | None = None
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


def build_context(
    settings: Settings, sessions: sessionmaker[Session], store: ObjectStore | None = None
) -> TaskContext:
    """Build the task context for `settings` on an existing session factory (and object store)."""
    return TaskContext(
        settings=settings,
        sessions=sessions,
        cipher=ConfigCipher(settings.security.fernet_keys),
        store=store or open_storage(settings),
    )
