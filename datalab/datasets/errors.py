"""Errors of the dataset routes, each with its status and stable code."""

from __future__ import annotations

from datalab.errors import DomainError


class DatasetInvalid(DomainError):
    """The file does not match its declared format, cannot be parsed, or breaks a safety limit."""

    status_code = 422
    code = "DATASET_INVALID"


class UploadTooLarge(DomainError):
    """The upload is larger than DATASET_MAX_BYTES."""

    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class StorageUnavailable(DomainError):
    """The object store failed; nothing was kept."""

    status_code = 503
    code = "STORAGE_UNAVAILABLE"
