"""Where task results live: one Parquet object per finished attempt in the object storage.

An attempt writes its Parquet batch by batch to a private local spool file, then uploads it
(multipart for large files, read from disk part by part) and commits it under its own key,
`results/task-<id>/<attempt>.parquet`. Only the attempt whose fenced `succeed` wins is named by
the task's one `analysis_results` row; a fenced-out attempt deletes its object, and an object
no row names is removed by `datalab storage gc`. So a task delivered twice leaves one result.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from datalab.storage import RESULTS_PREFIX, ObjectStore
from shared_models import AnalysisResult


def result_key(task_id: int, attempt: int) -> str:
    """The object key of one attempt's result, under the task's own prefix."""
    return f"{RESULTS_PREFIX}task-{task_id}/{attempt}.parquet"


def spool_file(spool: Path, task_id: int, attempt: int) -> Path:
    """Return a fresh local file for one attempt to write its Parquet to."""
    spool.mkdir(parents=True, exist_ok=True)
    return spool / f"task-{task_id}.{attempt}.{uuid.uuid4().hex}.parquet"


def publish(store: ObjectStore, partial: Path, key: str) -> int:
    """Upload the finished local file and commit it at `key`; return its size (the file is consumed)."""
    size = partial.stat().st_size
    store.commit(store.put_temp(partial), key)
    return size


def referenced_keys(session: Session) -> set[str]:
    """Return the object key of every task's result (a deleted task's row, and so its key, is gone)."""
    return set(session.scalars(select(AnalysisResult.object_key)))
