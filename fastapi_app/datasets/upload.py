"""Receiving a multipart upload as a stream: the file part goes to a spool file chunk by chunk.

Starlette's `request.form()` would parse the whole body into spooled files before the route
runs, with no total cap. Here python-multipart's push parser is fed from `request.stream()`,
the file's bytes are counted against DATASET_MAX_BYTES as they arrive (413 the moment they pass
it), hashed, and written to disk in batches on a worker thread; memory holds one batch at most.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path
from typing import IO

import anyio
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from datalab.datasets.errors import DatasetInvalid, UploadTooLarge
from datalab.datasets.ingest import Upload

# The routes that receive uploads this way; the body-size middleware leaves their bodies to them.
UPLOAD_PATHS = (re.compile(r"/api/v1/datasets/?"), re.compile(r"/api/v1/datasets/[0-9]+/versions/?"))
FIELDS = frozenset({"name", "description", "project_id", "format"})
MAX_FIELD_BYTES = 4096
# Bytes gathered before one hop to a worker thread writes and hashes them.
BATCH_BYTES = 1024 * 1024
# Room for the multipart envelope (boundaries, part headers, the small fields).
ENVELOPE_BYTES = 64 * 1024


class _Receiver:
    """python-multipart callbacks: one file part to the spool, a few small text fields in memory."""

    def __init__(self, spool: Path, max_bytes: int) -> None:
        self.spool = spool
        self.max_bytes = max_bytes
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.size = 0
        self.digest = hashlib.sha256()
        self.path: Path | None = None
        self.error: Exception | None = None
        self._file: IO[bytes] | None = None
        self._pending: list[bytes] = []
        self.pending_bytes = 0
        self._headers: dict[bytes, bytes] = {}
        self._header_field = b""
        self._header_value = b""
        self._part: str | None = None  # "file", a field name, or None while skipping
        self._value = bytearray()

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field_data,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}
        self._part = None
        self._value = bytearray()

    def _header_field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field = b""
        self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        if name == "file" and filename is not None:
            if self.filename is not None:
                self._fail(DatasetInvalid("Send exactly one file"))
                return
            self.filename = filename.decode("utf-8", "replace")[:255]
            self._part = "file"
        elif name in FIELDS and filename is None:
            self._part = name
        else:
            self._fail(DatasetInvalid(f"Unexpected form field {name[:40]!r}"))

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self.error is not None:
            return
        if self._part == "file":
            # Copied: the parser reuses its buffer.
            chunk = bytes(data[start:end])
            self.size += len(chunk)
            if self.size > self.max_bytes:
                self._fail(UploadTooLarge("The file is larger than DATASET_MAX_BYTES"))
                return
            self._pending.append(chunk)
            self.pending_bytes += len(chunk)
        elif self._part is not None:
            self._value += data[start:end]
            if len(self._value) > MAX_FIELD_BYTES:
                self._fail(DatasetInvalid(f"The field {self._part!r} is too long"))

    def _part_end(self) -> None:
        if self._part not in (None, "file"):
            try:
                self.fields[self._part] = self._value.decode("utf-8")
            except UnicodeDecodeError:
                self._fail(DatasetInvalid(f"The field {self._part!r} is not UTF-8 text"))
        self._part = None

    def _fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error

    def flush(self) -> None:
        """Write and hash the gathered chunks (on a worker thread)."""
        if self._file is None:
            self.spool.mkdir(parents=True, exist_ok=True)
            handle = tempfile.NamedTemporaryFile(prefix="upload-", dir=self.spool, delete=False)  # noqa: SIM115
            self._file = handle
            self.path = Path(handle.name)
        for chunk in self._pending:
            self.digest.update(chunk)
            self._file.write(chunk)
        self._pending = []
        self.pending_bytes = 0

    def close(self) -> None:
        """Close the spool file."""
        if self._file is not None:
            self._file.close()

    def discard(self) -> None:
        """Close and delete the spool file."""
        self.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


async def receive_upload(request: Request, spool: Path, max_bytes: int) -> Upload:
    """Stream the request's multipart body into a spool file; raise 413 or DATASET_INVALID."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + ENVELOPE_BYTES:
        raise UploadTooLarge("The file is larger than DATASET_MAX_BYTES")
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise DatasetInvalid("Send the dataset as multipart/form-data with a `file` part")
    receiver = _Receiver(spool, max_bytes)
    parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in request.stream():
            try:
                parser.write(chunk)
            except MultipartParseError:
                raise DatasetInvalid("The multipart body is malformed") from None
            if receiver.error is not None:
                raise receiver.error
            if receiver.pending_bytes >= BATCH_BYTES:
                await anyio.to_thread.run_sync(receiver.flush)
        parser.finalize()
        await anyio.to_thread.run_sync(receiver.flush)
        receiver.close()
    except BaseException:
        await anyio.to_thread.run_sync(receiver.discard)
        raise
    if receiver.filename is None or receiver.path is None:
        await anyio.to_thread.run_sync(receiver.discard)
        raise DatasetInvalid("The form has no `file` part")
    return Upload(
        path=receiver.path,
        filename=receiver.filename,
        size=receiver.size,
        sha256=receiver.digest.hexdigest(),
        fields=receiver.fields,
    )
