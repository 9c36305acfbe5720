"""Masking of secrets in configs, for responses and audit details alike."""

from __future__ import annotations

import re
from typing import Any

MASK = "********"
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "pwd",
        "secret",
        "token",
        "key",
        "apikey",
        "credential",
        "credentials",
        "authorization",
        "private",
        "cookie",
        "dsn",
    }
)
_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def is_secret_key(key: str) -> bool:
    """Tell whether a config key names a secret: one of its words is a secret word."""
    words = {w.lower() for w in _WORD.findall(key)}
    singulars = {w[:-1] for w in words if w.endswith("s")}
    return bool((words | singulars) & SECRET_WORDS)


def mask_secrets(value: Any) -> Any:
    """Return a copy of `value` with every secret-named key's value replaced by the mask."""
    if isinstance(value, dict):
        return {k: MASK if is_secret_key(k) else mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value


def merge_masked(stored: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
    """Apply `incoming` over `stored`, keeping the stored secret wherever the mask was sent back."""
    return {
        key: _merge_value(stored[key], value) if key in stored else value for key, value in incoming.items()
    }


def _merge_value(old: Any, new: Any) -> Any:
    if new == MASK:
        return old
    if isinstance(new, dict) and isinstance(old, dict):
        return merge_masked(old, new)
    if isinstance(new, list) and isinstance(old, list) and len(new) == len(old):
        # A config read back and sent unchanged keeps the secrets inside its lists too.
        return [_merge_value(o, n) for o, n in zip(old, new, strict=True)]
    return new
