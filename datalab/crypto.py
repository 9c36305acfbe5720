"""Encryption of stored connection configs (Fernet, with key rotation through MultiFernet)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from datalab.errors import DomainError
from datalab.masking import mask_secrets


class ConfigUnreadable(DomainError):
    """A stored config that no configured key opens: the key was lost or the row was damaged."""

    status_code = 409
    code = "CONFIG_UNREADABLE"

    def __init__(self) -> None:
        super().__init__(
            "The stored config cannot be decrypted with the configured keys; "
            "an operator must restore the key it was encrypted with"
        )


class ConfigCipher:
    """Encrypt config dicts with the newest key; decrypt with any configured key."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def encrypt(self, config: dict[str, Any]) -> str:
        """Return the encrypted form of `config`."""
        return self._fernet.encrypt(json.dumps(config).encode()).decode("ascii")

    def decrypt(self, token: str) -> dict[str, Any]:
        """Return the config stored as `token`; raise ConfigUnreadable if no key opens it."""
        try:
            value = json.loads(self._fernet.decrypt(token.encode()))
        except (InvalidToken, ValueError):
            raise ConfigUnreadable from None
        if not isinstance(value, dict):
            raise ConfigUnreadable
        return value

    def masked(self, token: str) -> dict[str, Any] | None:
        """Return the config with its secrets masked, or None when it cannot be decrypted."""
        try:
            return mask_secrets(self.decrypt(token))  # type: ignore[no-any-return]
        except ConfigUnreadable:
            return None

    def rotate(self, token: str) -> str:
        """Return `token` encrypted again under the newest key; raise ConfigUnreadable if no key opens it."""
        try:
            return self._fernet.rotate(token.encode()).decode("ascii")
        except InvalidToken:
            raise ConfigUnreadable from None
