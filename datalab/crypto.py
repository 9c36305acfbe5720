"""Encryption of stored connection configs (Fernet, with key rotation through MultiFernet)."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
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


class MaskedForms:
    """A bounded LRU of masked configs by the SHA-256 of their ciphertext; plaintext is never kept.

    A list of 50 sources would otherwise decrypt 50 configs on every request. A ciphertext
    never changes meaning under one set of keys, and the cache belongs to one cipher (one set
    of keys), so a hit answers exactly what decrypting would, unreadable (None) included;
    new keys mean a new cipher and an empty cache. Entries are shared: callers must not mutate them.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[bytes, dict[str, Any] | None] = OrderedDict()
        self._lock = threading.Lock()  # Flask's threads share the cipher

    def get(self, digest: bytes) -> tuple[bool, dict[str, Any] | None]:
        """Return (found, masked config) for the ciphertext digest `digest`."""
        with self._lock:
            if digest not in self._entries:
                return False, None
            self._entries.move_to_end(digest)
            return True, self._entries[digest]

    def put(self, digest: bytes, masked: dict[str, Any] | None) -> None:
        """Remember `masked` for `digest`, dropping the least recently used entry when full."""
        with self._lock:
            self._entries[digest] = masked
            self._entries.move_to_end(digest)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


class ConfigCipher:
    """Encrypt config dicts with the newest key; decrypt with any configured key."""

    def __init__(self, keys: list[str], masked_cache_size: int = 4096) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        self._masked = MaskedForms(masked_cache_size)

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
        """Return the config with its secrets masked, or None when it cannot be decrypted (cached)."""
        digest = hashlib.sha256(token.encode()).digest()
        found, masked = self._masked.get(digest)
        if found:
            return masked
        try:
            masked = mask_secrets(self.decrypt(token))
        except ConfigUnreadable:
            masked = None
        self._masked.put(digest, masked)
        return masked

    def rotate(self, token: str) -> str:
        """Return `token` encrypted again under the newest key; raise ConfigUnreadable if no key opens it."""
        try:
            return self._fernet.rotate(token.encode()).decode("ascii")
        except InvalidToken:
            raise ConfigUnreadable from None
