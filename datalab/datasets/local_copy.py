"""A private local copy of one dataset version, for DuckDB to read, removed afterwards."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from datalab.datasets.errors import StorageUnavailable
from datalab.datasets.reading import readable_file
from datalab.datasets.xlsx import XlsxLimits
from datalab.storage import LocalStore, ObjectStore, StorageError
from shared_models import DatasetFormat, DatasetVersion


@contextmanager
def local_copy(store: ObjectStore, version: DatasetVersion, spool: Path, xlsx: XlsxLimits) -> Iterator[Path]:
    """Yield a readable file of `version` alone in a fresh folder (DuckDB's whole sandbox)."""
    spool.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="read-", dir=spool))
    fmt = DatasetFormat(version.format)
    target = folder / f"data.{fmt.value}"
    try:
        try:
            if isinstance(store, LocalStore):
                _link_or_copy(store.local_path(version.storage_key), target)
            else:
                store.fetch(version.storage_key, target)
        except (StorageError, OSError):
            raise StorageUnavailable("The dataset could not be read from storage") from None
        yield readable_file(fmt, target, xlsx)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _link_or_copy(source: Path, target: Path) -> None:
    # Objects are immutable, so a hard link is a safe zero-cost copy on the same filesystem.
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
