"""Task kinds: what each one reads, and the row stream it stores. A registry, one entry per kind.

`query` runs a read-only statement on a data source or a dataset; `export` is the same query
whose download defaults to the format asked for; `profile` stores a dataset's column profile
(the dataset profile route's own computation), one row per column. A dataset is read as the
dataset routes read it: a private local copy of the pinned version, DuckDB sandboxed to it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from datalab.connectors.base import Limits
from datalab.connectors.configs import connection_config
from datalab.crypto import ConfigCipher
from datalab.datasets.xlsx import XlsxLimits
from datalab.errors import DomainError
from datalab.storage import ObjectStore
from shared_models import AnalysisTask, DatasetFormat, DatasetVersion, DataSource, SourceType, TaskKind

if TYPE_CHECKING:
    from datalab.tasks.streams import RowStream


@dataclass(frozen=True)
class Work:
    """What an attempt runs: its kind, statement and source (a data source config or a dataset version)."""

    kind: str
    query: str = ""
    source_type: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    version: DatasetVersion | None = None
    problem: DomainError | None = None


@dataclass(frozen=True)
class Reading:
    """What opening a stream needs besides the work: limits, the store, a spool and XLSX limits."""

    limits: Limits
    store: ObjectStore
    spool: Path
    xlsx: XlsxLimits


def load_work(session: Session, cipher: ConfigCipher, task_id: int) -> Work:
    """Read what task `task_id` runs; a source deleted since it was queued is SOURCE_GONE."""
    task = session.get_one(AnalysisTask, task_id)
    if task.dataset_id is not None:
        number = task.params.get("version")
        version = session.scalars(
            select(DatasetVersion).where(
                DatasetVersion.dataset_id == task.dataset_id, DatasetVersion.version == number
            )
        ).one_or_none()
        if version is not None:
            return Work(task.kind, task.query or "", version=version)
    elif task.data_source_id is not None:
        source = session.get(DataSource, task.data_source_id)
        if source is not None and source.is_active:
            config = connection_config(SourceType(source.type), cipher.decrypt(source.config_encrypted))
            return Work(task.kind, task.query or "", source_type=source.type, config=config)
    gone = DomainError("The task's data source or dataset no longer exists.", code="SOURCE_GONE")
    return Work(task.kind, problem=gone)


def _dataset_file(work: Work, reading: Reading, stack: ExitStack) -> tuple[DatasetFormat, Path]:
    from datalab.datasets.local_copy import local_copy  # noqa: PLC0415 - loads with the first task

    assert work.version is not None
    path = stack.enter_context(local_copy(reading.store, work.version, reading.spool, reading.xlsx))
    return DatasetFormat(work.version.format), path


def _query(work: Work, reading: Reading, stack: ExitStack) -> RowStream:
    from datalab.datasets.reading import DatasetConnector  # noqa: PLC0415
    from datalab.tasks.streams import STREAMS, DuckDBStream  # noqa: PLC0415

    if work.version is None:
        return STREAMS[work.source_type](work.config, reading.limits, work.query)
    fmt, path = _dataset_file(work, reading, stack)
    return DuckDBStream(DatasetConnector(fmt, path, reading.limits), reading.limits, work.query)


def _profile(work: Work, reading: Reading, stack: ExitStack) -> RowStream:
    from datalab.datasets.reading import DatasetConnector  # noqa: PLC0415
    from datalab.tasks.streams import ProfileStream  # noqa: PLC0415

    fmt, path = _dataset_file(work, reading, stack)
    return ProfileStream(DatasetConnector(fmt, path, reading.limits))


Opener = Callable[[Work, Reading, ExitStack], "RowStream"]
KINDS: dict[str, Opener] = {
    TaskKind.QUERY.value: _query,
    TaskKind.EXPORT.value: _query,
    TaskKind.PROFILE.value: _profile,
}


def open_stream(work: Work, reading: Reading, stack: ExitStack) -> RowStream:
    """Open the row stream of `work`; what it holds open (a dataset's local copy) is closed by `stack`."""
    if work.problem is not None:
        raise work.problem
    return KINDS[work.kind](work, reading, stack)
