"""Where task results live: one Parquet object per task key, written in batches, read in pages.

A narrow interface (write under a key, open, delete) over a folder, so it can later be backed
by the shared object storage. An attempt writes to a private partial file and publishes it with
an atomic rename onto the task's key, so a retried or duplicated task leaves one object.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,100}$")


class ResultStore:
    """Task results as files under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"not a result key: {key!r}")
        return self.root / f"{key}.parquet"

    def partial(self, key: str, attempt: int) -> Path:
        """Return a fresh private file for one attempt at `key`; older partials of the key are removed."""
        self.root.mkdir(parents=True, exist_ok=True)
        for stale in self.root.glob(f"{self._path(key).stem}.*.partial"):
            stale.unlink(missing_ok=True)
        return self.root / f"{key}.{attempt}.{os.getpid()}.partial"

    def publish(self, key: str, partial: Path) -> int:
        """Move a finished partial file onto `key` (replacing any earlier one); return its size."""
        target = self._path(key)
        size = partial.stat().st_size
        os.replace(partial, target)
        return size

    def open(self, key: str) -> IO[bytes]:
        """Open the object under `key` for reading; FileNotFoundError when there is none."""
        return self._path(key).open("rb")

    def path(self, key: str) -> Path:
        """Return the local path of `key` (readers that seek, like Parquet's)."""
        return self._path(key)

    def chunks(self, key: str, size: int = 1024 * 1024) -> Iterator[bytes]:
        """Yield the object's bytes in chunks."""
        with self.open(key) as handle:
            while chunk := handle.read(size):
                yield chunk

    def delete(self, key: str) -> None:
        """Remove the object and any partial file of `key`."""
        self._path(key).unlink(missing_ok=True)
        for stale in self.root.glob(f"{self._path(key).stem}.*.partial"):
            stale.unlink(missing_ok=True)

    def keys(self) -> list[str]:
        """List the stored keys (for garbage collection)."""
        return sorted(p.stem for p in self.root.glob("*.parquet")) if self.root.exists() else []


def result_key(task_id: int) -> str:
    """The object key of a task's result: the task id, so every attempt writes the same key."""
    return f"task-{task_id}"
