"""The object-storage interface datasets are kept behind, whatever the backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

# Objects under this prefix are uploads not yet committed; `storage gc` removes old ones.
TEMP_PREFIX = "tmp/"
# Committed objects live under this prefix, one key per dataset version.
FINAL_PREFIX = "datasets/"
# Analysis task results, one object per task attempt that finished (datalab.tasks.results).
RESULTS_PREFIX = "results/"
CHUNK_BYTES = 1024 * 1024


class StorageError(Exception):
    """The backend refused or failed; the message names no credential."""


@dataclass(frozen=True)
class StoredObject:
    """One object as a listing sees it."""

    key: str
    size: int
    modified: datetime


def new_temp_key() -> str:
    """Return a fresh, unguessable temporary key."""
    return f"{TEMP_PREFIX}{uuid.uuid4().hex}"


class ObjectStore(Protocol):
    """A flat namespace of immutable objects: write to a temporary key, then commit it."""

    def put_temp(self, source: Path) -> str:
        """Move or upload the local file `source` to a new temporary key and return that key.

        The local file is consumed: it is gone (or may be deleted) afterwards.
        """
        ...

    def commit(self, temp_key: str, final_key: str) -> None:
        """Make `temp_key`'s object visible at `final_key` and drop the temporary one."""
        ...

    def read_chunks(self, key: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        """Yield the object's bytes in chunks, never all at once."""
        ...

    def fetch(self, key: str, target: Path) -> None:
        """Copy the object to the local file `target`."""
        ...

    def open_seekable(self, key: str) -> BinaryIO:
        """Open the object for random access (a Parquet reader's footer, then its row groups)."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error."""
        ...

    def list(self, prefix: str) -> Iterator[StoredObject]:
        """Yield every object whose key starts with `prefix`."""
        ...

    def exists(self, key: str) -> bool:
        """Tell whether an object is stored at `key`."""
        ...
