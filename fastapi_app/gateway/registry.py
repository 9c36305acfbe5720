"""The service registry: which service owns which /api/v1 prefix, at which URLs, with which limits.

Read from `SERVICES` (JSON) or the TOML file `SERVICES_FILE`. A bad entry stops start-up
with one line naming it; a URL is never echoed, since it may carry credentials.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from datalab.settings import Settings

V1 = "/api/v1"
# The platform's plan: each of these services owns the prefix named here unless its entry says otherwise.
DEFAULT_PREFIXES = {
    "analysis": "/analysis",
    "ai": "/ai",
    "visualization": "/visualizations",
    "compute": "/compute",
}
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_PREFIX = re.compile(r"(/[a-z0-9][a-z0-9._-]*)+")


class GatewayConfigError(ValueError):
    """A registry entry that cannot be served; the message names it."""


class ServiceConfig(BaseModel):
    """One service behind the gateway."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    urls: tuple[str, ...] = Field(min_length=1, max_length=64)
    prefix: str | None = None  # under /api/v1; the plan's default for the known names
    timeout: float | None = Field(None, gt=0, le=3_600)
    retries: int | None = Field(None, ge=0, le=10)
    health_path: str = "/health"

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError("name must be lower-case letters, digits, '-' or '_' (up to 40)")
        return value

    @field_validator("urls")
    @classmethod
    def _http_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, url in enumerate(value):
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
                raise ValueError(f"urls[{index}] is not an http(s) URL without query or fragment")
            if parts.username or parts.password:
                raise ValueError(f"urls[{index}] carries credentials; services authenticate by the token")
        return tuple(url.rstrip("/") for url in value)

    @field_validator("prefix")
    @classmethod
    def _path_prefix(cls, value: str | None) -> str | None:
        if value is not None and not _PREFIX.fullmatch(value):
            raise ValueError("prefix must be a path such as /analysis (lower case, no trailing slash)")
        return value

    @field_validator("health_path")
    @classmethod
    def _health_path(cls, value: str) -> str:
        if not value.startswith("/") or "//" in value or any(c in value for c in "?# "):
            raise ValueError("health_path must be a path such as /health")
        return value

    def full_prefix(self) -> str:
        """Return the path this service owns, such as /api/v1/analysis."""
        prefix = self.prefix or DEFAULT_PREFIXES.get(self.name)
        if prefix is None:
            raise GatewayConfigError(f"service {self.name!r}: no prefix given and none planned for that name")
        return V1 + prefix


def load_services(settings: Settings, v1_paths: Iterable[str] = ()) -> list[ServiceConfig]:
    """Read and check the registry; raise GatewayConfigError naming the first bad entry."""
    entries = _raw_entries(settings)
    services: list[ServiceConfig] = []
    for index, entry in enumerate(entries):
        label = entry.get("name") if isinstance(entry, dict) and isinstance(entry.get("name"), str) else index
        try:
            services.append(ServiceConfig.model_validate(entry))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"]) or "entry"
            message = error["msg"].removeprefix("Value error, ")
            raise GatewayConfigError(f"service {label!r}: {where}: {message}") from None
    _check_overlaps(services, list(v1_paths))
    return services


def _raw_entries(settings: Settings) -> list[Any]:
    if settings.gateway.services_file is not None:
        try:
            document = tomllib.loads(settings.gateway.services_file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise GatewayConfigError(f"SERVICES_FILE cannot be read: {type(exc).__name__}") from None
        entries = document.get("services", [])
    elif settings.gateway.services.strip():
        try:
            entries = json.loads(settings.gateway.services)
        except json.JSONDecodeError as exc:
            raise GatewayConfigError(
                f"SERVICES is not JSON (line {exc.lineno}, column {exc.colno})"
            ) from None
    else:
        return []
    if not isinstance(entries, list):
        raise GatewayConfigError("SERVICES must be a list of service objects")
    return entries


def _check_overlaps(services: list[ServiceConfig], v1_paths: list[str]) -> None:
    owned: dict[str, str] = {}
    for service in services:
        prefix = service.full_prefix()
        if service.name in owned.values():
            raise GatewayConfigError(f"service {service.name!r}: the name is used twice")
        for other_prefix, other in owned.items():
            if _nested(prefix, other_prefix):
                raise GatewayConfigError(f"service {service.name!r}: prefix {prefix} overlaps {other!r}")
        route = next((path for path in v1_paths if _nested(prefix, path)), None)
        if route is not None:
            raise GatewayConfigError(f"service {service.name!r}: prefix {prefix} collides with route {route}")
        owned[prefix] = service.name


def _nested(prefix: str, path: str) -> bool:
    return path == prefix or path.startswith(prefix + "/") or prefix.startswith(path.rstrip("/") + "/")
