"""Encryption of stored connection configs (Fernet, with key rotation through MultiFernet)."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


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
        """Return the config stored as `token`; raise ValueError if no key opens it."""
        try:
            value: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise ValueError("stored config cannot be decrypted with the configured keys") from exc
        return value
