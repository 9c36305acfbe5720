"""Where a config's secrets go: a masked secret is kept only while its destination stays the same.

Otherwise an editor could point a source at a server of their own, send the mask back and
have the connector hand them the stored password or token.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from datalab.connectors.configs import connection_config
from datalab.connectors.registry import kind_of
from datalab.errors import InvalidInput
from datalab.masking import SEND_AGAIN, Path, field_name

Destination = tuple[Any, ...]
# In a free-form config (an integration's), keys that name a place.
_PLACE_KEY = re.compile(
    r"(?i)^(?:host|hostname|server|port|database|db|dbname|path|endpoint|webhook|url|uri)$"
    r"|(?:url|uri|host|endpoint)$"
)
_HOST_KEY = re.compile(r"(?i)host|server")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def source_destination(source_type: str, config: dict[str, Any]) -> Destination | None:
    """Return where a source's secrets go (defaults filled in), or None if the config does not say."""
    try:
        full = connection_config(source_type, config)
    except InvalidInput:
        return None
    # Not the type itself: the same server under another type (postgresql, mysql) is the same place.
    return tuple(_place(name, full.get(name)) for name in kind_of(source_type).destination_fields)


def config_destination(config: dict[str, Any]) -> Destination:
    """Return every place-naming value of a free-form config, with its path."""
    found: list[tuple[str, Any]] = []
    _collect(config, (), found)
    return tuple(sorted(found, key=lambda item: item[0]))


def keep_only_at_same_destination(
    kept: list[Path], before: Destination | None, after: Destination | None
) -> None:
    """Refuse kept (masked) secrets when the destination changed or cannot be told."""
    if kept and (before is None or before != after):
        raise InvalidInput(field_name(kept[0]), SEND_AGAIN, code="SECRET_REQUIRED")


def _collect(value: Any, path: Path, found: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if _PLACE_KEY.search(str(key)) and not isinstance(item, dict | list):
                found.append((field_name((*path, key)), _place(str(key), item)))
            else:
                _collect(item, (*path, key), found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _collect(item, (*path, index), found)


def _place(key: str, value: Any) -> Any:
    # Compared as a client connects: scheme, host and port of a URL (not its path), hosts without case.
    if not isinstance(value, str):
        return value
    if "://" not in value:
        return value.lower().rstrip(".") if _HOST_KEY.search(key) else value
    try:
        parts = urlsplit(value.strip())
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return value
    return (parts.scheme.lower(), (parts.hostname or "").rstrip("."), port)
