"""Objects as files in one folder: the default, needing nothing beyond the data directory."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from datalab.storage.base import CHUNK_BYTES, StorageError, StoredObject, new_temp_key


class LocalStore:
    """Keys are relative paths under `root`; commit is an atomic rename on the same filesystem."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        # Keys are made by us, but a key that escapes the root must never be honoured.
        if not path.is_relative_to(self.root) or path == self.root:
            raise StorageError("Invalid object key")
        return path

    def put_temp(self, source: Path) -> str:
        """Move `source` under a new temporary key (a rename when on the same filesystem)."""
        key = new_temp_key()
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)
        return key

    def commit(self, temp_key: str, final_key: str) -> None:
        """Rename the temporary object to its final key."""
        target = self._path(final_key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._path(temp_key), target)

    def read_chunks(self, key: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        """Open the file now (so a missing one fails before any byte is sent), then yield its chunks."""
        try:
            handle = self._path(key).open("rb")
        except OSError:
            raise StorageError("The object is missing from storage") from None
        return _chunks(handle, chunk_bytes)

    def fetch(self, key: str, target: Path) -> None:
        """Copy the file to `target`."""
        shutil.copyfile(self._path(key), target)

    def open_seekable(self, key: str) -> BinaryIO:
        """Open the file for reading."""
        try:
            return self._path(key).open("rb")
        except OSError:
            raise StorageError("The object is missing from storage") from None

    def local_path(self, key: str) -> Path:
        """Return the file holding the object, so readers can skip a copy."""
        return self._path(key)

    def delete(self, key: str) -> None:
        """Remove the file if it is there."""
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str) -> Iterator[StoredObject]:
        """Yield the files whose key starts with `prefix`."""
        base = self.root / prefix.rstrip("/") if prefix.endswith("/") else self.root
        if not base.is_dir():
            return
        for path in base.rglob("*"):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and key.startswith(prefix):
                info = path.stat()
                yield StoredObject(key, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))

    def exists(self, key: str) -> bool:
        """Tell whether the file exists."""
        return self._path(key).is_file()


def _chunks(handle: BinaryIO, chunk_bytes: int) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(chunk_bytes):
            yield chunk
