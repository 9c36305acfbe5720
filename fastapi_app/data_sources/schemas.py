"""Data sources as the v1 API shows them: configs always masked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from datalab.crypto import ConfigCipher
from datalab.masking import mask_secrets
from fastapi_app.pagination import Paginated
from shared_models import DataSource, SourceStatus, SourceType


class DataSourceRead(BaseModel):
    """A data source; every secret in `config` reads "********"."""

    id: int
    owner_id: int
    name: str
    type: SourceType
    status: SourceStatus
    description: str | None
    tags: list[str]
    is_active: bool
    config: dict[str, Any]
    last_test: datetime | None
    last_used: datetime | None
    usage_count: int
    error_message: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, source: DataSource, cipher: ConfigCipher) -> DataSourceRead:
        """Describe `source`, decrypting its config only to mask it."""
        return cls(
            id=source.id,
            owner_id=source.owner_id,
            name=source.name,
            type=SourceType(source.type),
            status=SourceStatus(source.status),
            description=source.description,
            tags=list(source.tags or []),
            is_active=source.is_active,
            config=mask_secrets(cipher.decrypt(source.config_encrypted)),
            last_test=source.last_test,
            last_used=source.last_used,
            usage_count=source.usage_count,
            error_message=source.error_message,
            created_at=source.created_at,
            updated_at=source.updated_at,
        )


class DataSourceList(Paginated[DataSourceRead]):
    """A slice of the data-source list."""
