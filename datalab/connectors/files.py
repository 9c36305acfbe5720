"""The file jail: a file source's `path` must resolve to a regular file inside the data directory."""

from __future__ import annotations

import os
from pathlib import Path

from datalab.connectors.base import ConnectorError, Limits


def _refuse(message: str) -> ConnectorError:
    return ConnectorError("PATH_REFUSED", message)


def resolve_source_file(path: str, limits: Limits) -> Path:
    """Return the real path of `path` inside `limits.data_dir`, or raise PATH_REFUSED."""
    if not path or "\x00" in path:
        raise _refuse("The path is empty or invalid.")
    relative = Path(path)
    # Refused before touching the disk, so the answer says nothing about files outside the jail.
    if relative.is_absolute() or relative.drive or ".." in relative.parts:
        raise _refuse("The path must be relative to the data directory, without '..'.")
    try:
        root = Path(os.path.realpath(limits.data_dir, strict=True))
    except OSError:
        raise _refuse("The data directory does not exist on the server.") from None
    try:
        # strict: a dangling or looping symlink is an error, not a guess.
        real = Path(os.path.realpath(root / relative, strict=True))
    except OSError:
        raise ConnectorError(
            "NO_SUCH_DATABASE",
            f"No file {path!r} in the data directory ({root}, the DATA_DIR setting); put the file there.",
        ) from None
    if not real.is_relative_to(root) or real == root:
        raise _refuse("The path leads outside the data directory.")
    for own in limits.own_files:
        if _same_file(real, own):
            raise _refuse("The path names the application's own database.")
    if not real.is_file():
        raise _refuse("The path is not a regular file.")
    return real


def _same_file(real: Path, own: Path) -> bool:
    try:
        return real == Path(os.path.realpath(own)) or os.path.samefile(real, own)
    except OSError:
        return False
