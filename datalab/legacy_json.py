"""The legacy JSON shapes of users, data sources, integrations and audit entries (both implementations)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Row

from datalab.crypto import ConfigCipher
from datalab.masking import mask_secrets
from datalab.services.pages import Page
from shared_models import AuditLog, DataSource, Integration, User

T = TypeVar("T")


def iso(moment: datetime | None) -> str | None:
    """Format a timestamp as the contract's ISO 8601 UTC string, or None."""
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


def user_json(user: User) -> dict[str, Any]:
    """Return the contract's user object; never the password hash."""
    return {
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role,
        "is_active": user.is_active,
        "department": user.department,
        "organization": user.organization,
        "timezone": user.timezone,
        "language": user.language,
        "last_login": iso(user.last_login),
        "created_at": iso(user.created_at),
    }


def data_source_json(
    source: DataSource | Row[Any], cipher: ConfigCipher, *, listed: bool = False
) -> dict[str, Any]:
    """Return the contract's data source object with every secret masked.

    A config no key opens is a 409 for the source alone; in a list it reads null instead,
    so one damaged row does not hide the others.
    """
    return {
        "id": source.id,
        "owner_id": source.owner_id,
        "name": source.name,
        "type": source.type,
        "status": source.status,
        "description": source.description,
        "tags": list(source.tags or []),
        "is_active": source.is_active,
        "config": _config(cipher, source.config_encrypted, listed),
        "last_test": iso(source.last_test),
        "last_used": iso(source.last_used),
        "usage_count": source.usage_count,
        "error_message": source.error_message,
        "created_at": iso(source.created_at),
        "updated_at": iso(source.updated_at),
    }


def integration_json(
    integration: Integration, cipher: ConfigCipher, *, listed: bool = False
) -> dict[str, Any]:
    """Return the contract's integration object with every secret masked (null in a list if unreadable)."""
    return {
        "id": integration.id,
        "owner_id": integration.owner_id,
        "name": integration.name,
        "provider": integration.provider,
        "is_active": integration.is_active,
        "config": _config(cipher, integration.config_encrypted, listed),
        "created_at": iso(integration.created_at),
    }


def _config(cipher: ConfigCipher, token: str, listed: bool) -> dict[str, Any] | None:
    if listed:
        return cipher.masked(token)
    return mask_secrets(cipher.decrypt(token))  # type: ignore[no-any-return]


def audit_json(entry: AuditLog) -> dict[str, Any]:
    """Return the contract's audit log entry."""
    return {
        "id": entry.id,
        "user_id": entry.user_id,
        "action": entry.action,
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        "details": entry.details,
        "ip_address": entry.ip_address,
        "request_id": entry.request_id,
        "created_at": iso(entry.created_at),
    }


def page_json(key: str, page: Page[T], item: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """Return a list answer: the items under `key`, with total, page and per_page."""
    return {
        key: [item(row) for row in page.items],
        "total": page.total,
        "page": page.offset // page.limit + 1,
        "per_page": page.limit,
    }
