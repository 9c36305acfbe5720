"""Objects in an S3-compatible bucket, for deployments with several hosts.

Uploads go through boto3's managed transfer: a file above the multipart threshold is sent in
parts, read from disk part by part, so memory stays bounded by the part size and concurrency.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from datalab.storage.base import CHUNK_BYTES, StorageError, StoredObject, new_temp_key

_MiB = 1024 * 1024
# Parts of 16 MiB, four at a time: at most ~64 MiB in flight per upload.
_TRANSFER = TransferConfig(multipart_threshold=16 * _MiB, multipart_chunksize=16 * _MiB, max_concurrency=4)


class S3Store:
    """Keys live under `prefix` in `bucket`; commit is a server-side copy then a delete."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        *,
        endpoint_url: str | None,
        region: str | None,
        access_key_id: str | None,
        secret_access_key: str | None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10),
        )

    def _key(self, key: str) -> str:
        return self.prefix + key

    def put_temp(self, source: Path) -> str:
        """Upload `source` (multipart above 16 MiB) to a new temporary key, then delete the file."""
        key = new_temp_key()
        try:
            self.client.upload_file(str(source), self.bucket, self._key(key), Config=_TRANSFER)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"Upload to object storage failed: {type(exc).__name__}") from None
        finally:
            source.unlink(missing_ok=True)
        return key

    def commit(self, temp_key: str, final_key: str) -> None:
        """Copy the temporary object to its final key inside the bucket, then delete it."""
        source = {"Bucket": self.bucket, "Key": self._key(temp_key)}
        try:
            self.client.copy(source, self.bucket, self._key(final_key), Config=_TRANSFER)
            self.client.delete_object(Bucket=self.bucket, Key=self._key(temp_key))
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"Commit in object storage failed: {type(exc).__name__}") from None

    def read_chunks(self, key: str, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
        """Open the object now (so a failure comes before any byte is sent), then stream its body."""
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"Read from object storage failed: {type(exc).__name__}") from None
        return _chunks(body, chunk_bytes)

    def fetch(self, key: str, target: Path) -> None:
        """Download the object to `target` (in parts, for large objects)."""
        try:
            self.client.download_file(self.bucket, self._key(key), str(target), Config=_TRANSFER)
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"Download from object storage failed: {type(exc).__name__}") from None

    def open_seekable(self, key: str) -> BinaryIO:
        """Open the object for random access: each read is a ranged GET, buffered by 1 MiB."""
        try:
            size = int(self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"])
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"Read from object storage failed: {type(exc).__name__}") from None
        return io.BufferedReader(_RangedReader(self.client, self.bucket, self._key(key), size), CHUNK_BYTES)

    def delete(self, key: str) -> None:
        """Delete the object (S3 answers success for a missing key too)."""
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def list(self, prefix: str) -> Iterator[StoredObject]:
        """Yield every object under `prefix`, page by page."""
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix)
        )
        for page in pages:
            for item in page.get("Contents", []):
                key = str(item["Key"])[len(self.prefix) :]
                yield StoredObject(key, int(item["Size"]), item["LastModified"])

    def exists(self, key: str) -> bool:
        """Tell whether the object exists (a HEAD request)."""
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageError(f"Object storage failed: {type(exc).__name__}") from None
        return True


class _RangedReader(io.RawIOBase):
    """A seekable read-only view of one object, fetching only the byte ranges read."""

    def __init__(self, client: Any, bucket: str, key: str, size: int) -> None:
        self._client, self._bucket, self._key, self._size = client, bucket, key, size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        if self._position >= self._size or len(buffer) == 0:
            return 0
        last = min(self._position + len(buffer), self._size) - 1
        try:
            answer = self._client.get_object(
                Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-{last}"
            )
            data = answer["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"Read from object storage failed: {type(exc).__name__}") from None
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


def _chunks(body: Any, chunk_bytes: int) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(chunk_bytes)
    finally:
        body.close()
