"""Object storage behind one interface; the backend is chosen by the scheme of `STORAGE_URL`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from datalab.settings import Settings
from datalab.storage.base import (
    FINAL_PREFIX,
    RESULTS_PREFIX,
    TEMP_PREFIX,
    ObjectStore,
    StorageError,
    StoredObject,
    new_temp_key,
)
from datalab.storage.local import LocalStore

__all__ = [
    "FINAL_PREFIX",
    "RESULTS_PREFIX",
    "TEMP_PREFIX",
    "LocalStore",
    "ObjectStore",
    "StorageError",
    "StoredObject",
    "new_temp_key",
    "open_storage",
]


def _file_store(url: str, settings: Settings) -> ObjectStore:
    path = unquote(urlsplit(url).path)
    return LocalStore(Path(path))


def _s3_store(url: str, settings: Settings) -> ObjectStore:
    # Imported here so that the file backend never loads boto3.
    from datalab.storage.s3 import S3Store

    parts = urlsplit(url)
    if not parts.netloc:
        raise ValueError("STORAGE_URL must name a bucket: s3://bucket/prefix")
    key_id = settings.storage.aws_access_key_id
    secret = settings.storage.aws_secret_access_key
    return S3Store(
        parts.netloc,
        parts.path,
        endpoint_url=settings.storage.s3_endpoint_url,
        region=settings.storage.aws_region,
        access_key_id=key_id.get_secret_value() if key_id else None,
        secret_access_key=secret.get_secret_value() if secret else None,
    )


# One entry per backend: the URL scheme and the function that opens it.
BACKENDS: dict[str, Callable[[str, Settings], ObjectStore]] = {"file": _file_store, "s3": _s3_store}


def open_storage(settings: Settings) -> ObjectStore:
    """Open the object store STORAGE_URL names (a folder under the var directory by default)."""
    url = settings.object_storage_url
    scheme = urlsplit(url).scheme
    if scheme not in BACKENDS:
        raise ValueError(f"STORAGE_URL scheme {scheme!r} is not one of {sorted(BACKENDS)}")
    return BACKENDS[scheme](url, settings)
