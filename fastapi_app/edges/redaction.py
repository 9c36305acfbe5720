"""Keep secrets out of log lines: secret-named keys are masked, secret-looking text is scrubbed."""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from functools import lru_cache
from typing import Any

from datalab.masking import MASK, is_secret_key

# Keys our own log calls use that contain a secret word but hold none.
_SAFE_KEYS = frozenset({"event", "logger", "level", "timestamp", "request_id", "exception"})
_PATTERNS = (
    # Authorization headers and bearer tokens anywhere in a text.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + MASK),
    # JSON Web Tokens: header.payload.signature, the header always starts with eyJ.
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),
    # Fernet ciphertexts (stored configs).
    (re.compile(r"gAAAAA[A-Za-z0-9_=-]{20,}"), MASK),
    # key=value, "key": "value" and 'key': 'value' where the key names a secret.
    (
        re.compile(
            r"(?i)((?:password|passwd|passphrase|pwd|secret|token|api_?key|credentials?|authorization|dsn)"
            r"[\w-]*[\"']?\s*[:=]\s*[\"']?)([^\s\"'&,;}\]]+)"
        ),
        r"\1" + MASK,
    ),
    # SQLAlchemy puts bound parameters into its error texts.
    (re.compile(r"\[parameters: [^\n]*"), "[parameters: hidden]"),
    # URLs with a password: scheme://user:password@host
    (re.compile(r"(\w+://[^:/\s@]+:)[^@\s/]+@"), r"\1" + MASK + "@"),
)


# One cheap look first: most log texts (paths, methods, routes) contain none of these.
_SUSPECT = (
    "bearer", "basic", "eyj", "gaaaaa", "pass", "pwd", "secret", "token", "key",
    "credential", "authori", "dsn", "[parameters:", "://",
)  # fmt: skip


def scrub(text: str) -> str:
    """Return `text` with every secret-looking part replaced by the mask."""
    lowered = text.lower()
    if not any(word in lowered for word in _SUSPECT):
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@lru_cache(maxsize=1024)
def _secret_key(key: str) -> bool:
    # Log calls use few distinct keys; the word split of each is done once.
    return key not in _SAFE_KEYS and is_secret_key(key)


def redact_value(key: str, value: Any) -> Any:
    """Mask `value` if `key` names a secret; scrub texts and recurse into containers otherwise."""
    if _secret_key(key):
        return MASK
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value("", v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return scrub(repr(value))


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Apply `redact_value` to every key of a structlog event (a processor)."""
    return {key: redact_value(key, value) for key, value in event_dict.items()}


def redactor(*, spare: frozenset[str] = frozenset()) -> Any:
    """Return the `redact` processor, skipping events of the loggers named in `spare`."""

    def redact_unless_spared(
        logger: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if event_dict.get("logger") in spare:
            return event_dict
        return redact(logger, method, event_dict)

    return redact_unless_spared
