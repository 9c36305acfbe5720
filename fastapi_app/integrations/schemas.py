"""Integrations as the v1 API shows them: configs always masked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from datalab.crypto import ConfigCipher
from datalab.masking import mask_secrets
from fastapi_app.pagination import Paginated
from shared_models import Integration


class IntegrationRead(BaseModel):
    """An integration; every secret in `config` reads "********"."""

    id: int
    owner_id: int
    name: str
    provider: str
    is_active: bool
    config: dict[str, Any] | None = Field(
        description="Secrets read ********; null in a list when no configured key can decrypt it"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, integration: Integration, cipher: ConfigCipher, *, listed: bool = False) -> IntegrationRead:
        """Describe `integration`, decrypting its config only to mask it."""
        return cls(
            id=integration.id,
            owner_id=integration.owner_id,
            name=integration.name,
            provider=integration.provider,
            is_active=integration.is_active,
            # Alone, an unreadable config is a 409 (ConfigUnreadable); in a list it reads null.
            config=cipher.masked(integration.config_encrypted)
            if listed
            else mask_secrets(cipher.decrypt(integration.config_encrypted)),
            created_at=integration.created_at,
            updated_at=integration.updated_at,
        )


class IntegrationList(Paginated[IntegrationRead]):
    """A slice of the integration list."""
