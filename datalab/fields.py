"""Field types for request bodies, shared by both halves.

Each text type is one regular expression (plus lengths) that is both enforced here,
with Python's `re.search`, and published unchanged in the OpenAPI document. So what
the schema calls valid is exactly what the server accepts; API fuzzers such as
schemathesis rely on that. Patterns end in `$(?!\\n)` because Python's `$` would
also match before a final newline.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

MAX_CONFIG_DEPTH = 6
MAX_CONFIG_KEYS = 64
MAX_CONFIG_KEY_LENGTH = 100
MAX_CONFIG_ITEMS = 64
MAX_CONFIG_STRING = 4096
# Policy forbids NUL, so no stored hash was made from a password holding one.
UNUSABLE_PASSWORD = "\x00"  # noqa: S105 - a sentinel that can never match, not a secret

_LINE = r"[^\x00-\x1f\x7f]"  # any character but a control character
NAME_PATTERN = rf"^{_LINE}*[^\s\x00-\x1f\x7f]{_LINE}*$(?!\n)"
LINE_PATTERN = rf"^{_LINE}*$(?!\n)"
TEXT_PATTERN = r"^[^\x00]*$"
# Printable ASCII: 8 to 72 characters are 8 to 72 bytes of UTF-8, bcrypt's whole input, and the
# same keys type the same bytes on every keyboard (no Unicode normalisation to get wrong).
PASSWORD_PATTERN = r"^(?=.*[a-z])(?=.*[A-Z])(?=.*[0-9])[\x20-\x7e]{8,72}$(?!\n)"  # noqa: S105 - a rule, not a secret
PASSWORD_RULE = (
    "must be 8 to 72 printable ASCII characters with a lower-case letter, "  # noqa: S105 - a message
    "an upper-case letter and a digit"
)
# The HTML standard's "valid email address", what browsers check.
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
EMAIL_PATTERN = rf"^[a-zA-Z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_LABEL}(?:\.{_LABEL})*$(?!\n)"
LANGUAGE_PATTERN = r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,2}$(?!\n)"
ACTION_PATTERN = r"^[a-z_.]{1,64}$(?!\n)"
# https, a host, then anything printable and without spaces: what an <img src> can load safely.
AVATAR_URL_PATTERN = r"^https://[^\s\x00-\x1f\x7f/?#@]+(?:[/?#][^\s\x00-\x1f\x7f]*)?$(?!\n)"
MAX_PREFERENCES_BYTES = 16 * 1024


def text(
    pattern: str,
    reason: str,
    *,
    min_length: int = 0,
    max_length: int,
    normalize: Callable[[str], str] | None = None,
) -> Any:
    """Return a str type enforcing `pattern` and lengths, with the same rules in its JSON schema."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        _encodable(value)
        if not min_length <= len(value) <= max_length:
            raise ValueError(f"must be {min_length} to {max_length} characters long")
        if not compiled.search(value):
            raise ValueError(reason)
        return normalize(value) if normalize else value

    schema = {"type": "string", "pattern": pattern, "minLength": min_length, "maxLength": max_length}
    return Annotated[str, AfterValidator(check), WithJsonSchema(schema)]


def _encodable(value: str) -> None:
    # A lone surrogate (legal in JSON text, not in UTF-8) could be stored by neither database.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid unicode text") from None


def _unusable_if_unencodable(value: object) -> object:
    # A string no stored password can equal (say, a lone surrogate) becomes one that cannot
    # match any hash, so login answers 401 as for any other wrong password.
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return UNUSABLE_PASSWORD
    return value


@cache
def timezones() -> tuple[str, ...]:
    """Return the IANA time zone names this server knows, sorted."""
    return tuple(sorted(available_timezones() | {"UTC"}))


def _timezone(value: str) -> str:
    if value not in timezones():
        raise ValueError("must be an IANA time zone such as Europe/Paris")
    return value


def _config(value: dict[str, Any]) -> dict[str, Any]:
    _check_json(value, depth=0)
    return value


def _check_json(value: Any, depth: int) -> None:
    # The config itself is level 0; objects and lists may open levels 1 to MAX_CONFIG_DEPTH - 1.
    if isinstance(value, dict | list) and depth >= MAX_CONFIG_DEPTH:
        raise ValueError(f"must not nest objects or lists more than {MAX_CONFIG_DEPTH} levels deep")
    if isinstance(value, dict):
        if len(value) > MAX_CONFIG_KEYS:
            raise ValueError(f"objects must have at most {MAX_CONFIG_KEYS} keys")
        for key, item in value.items():
            if len(key) > MAX_CONFIG_KEY_LENGTH:
                raise ValueError(f"keys must be at most {MAX_CONFIG_KEY_LENGTH} characters")
            _check_string(key)
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        if len(value) > MAX_CONFIG_ITEMS:
            raise ValueError(f"lists must have at most {MAX_CONFIG_ITEMS} items")
        for item in value:
            _check_json(item, depth + 1)
    elif isinstance(value, str):
        if len(value) > MAX_CONFIG_STRING:
            raise ValueError(f"strings must be at most {MAX_CONFIG_STRING} characters")
        _check_string(value)
    elif isinstance(value, float) and not math.isfinite(value):
        # NaN and Infinity are not JSON: clients could not read them back.
        raise ValueError("must not contain NaN or Infinity")


def _check_string(value: str) -> None:
    _encodable(value)
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")


def _config_schema(depth: int) -> dict[str, Any]:
    """The JSON schema of a config value at `depth`, with the limits `_check_json` enforces."""
    scalars: list[dict[str, Any]] = [
        {"type": "string", "maxLength": MAX_CONFIG_STRING, "pattern": TEXT_PATTERN},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
    ]
    if depth >= MAX_CONFIG_DEPTH:
        return {"anyOf": scalars}
    inner = _config_schema(depth + 1)
    return {
        "anyOf": [
            *scalars,
            {"type": "array", "maxItems": MAX_CONFIG_ITEMS, "items": inner},
            {
                "type": "object",
                "maxProperties": MAX_CONFIG_KEYS,
                "propertyNames": {"maxLength": MAX_CONFIG_KEY_LENGTH, "pattern": TEXT_PATTERN},
                "additionalProperties": inner,
            },
        ]
    }


def _top_config_schema() -> dict[str, Any]:
    nested = _config_schema(1)
    return {
        "type": "object",
        "maxProperties": MAX_CONFIG_KEYS,
        "propertyNames": {"maxLength": MAX_CONFIG_KEY_LENGTH, "pattern": TEXT_PATTERN},
        "additionalProperties": nested,
        "description": "Connection settings; keys naming a secret are always answered as ********",
    }


def _integral(value: object) -> object:
    # JSON has one number type: 39.0 is the integer 39 to a JSON schema ("type": "integer"), so to us too.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def whole_number(low: int, high: int) -> Any:
    """Return an integer type of JSON bodies from `low` to `high`: 39 or 39.0, never 39.5 or true."""
    # The bounds come before the validator: after it, pydantic publishes them as "ge"/"le",
    # which JSON Schema does not know, and fuzzers then send 0 as a valid limit.
    return Annotated[int, Field(ge=low, le=high), BeforeValidator(_integral)]


def _preferences(value: dict[str, Any]) -> dict[str, Any]:
    _check_json(value, depth=0)
    if len(json.dumps(value, separators=(",", ":")).encode()) > MAX_PREFERENCES_BYTES:
        raise ValueError(f"must be at most {MAX_PREFERENCES_BYTES} bytes as compact JSON")
    return value


def _preferences_schema() -> dict[str, Any]:
    return {
        **_top_config_schema(),
        "description": f"Any JSON object the client keeps for itself, at most {MAX_PREFERENCES_BYTES} "
        f"bytes as compact JSON and {MAX_CONFIG_DEPTH} levels deep",
    }


def _lower(value: str) -> str:
    # Stored lower-cased: that is what makes emails unique case-insensitively.
    return value.lower()


def _login_form(value: str) -> str:
    # Any string is a valid login email (unknown ones get 401), so spaces a form added can go.
    return value.strip().lower()


Email = text(EMAIL_PATTERN, "must be a valid email address", min_length=3, max_length=254, normalize=_lower)
LoginEmail = text(TEXT_PATTERN, "must not contain NUL characters", max_length=254, normalize=_login_form)
LoginPassword = Annotated[
    str,
    BeforeValidator(_unusable_if_unencodable),
    WithJsonSchema({"type": "string", "maxLength": 4096}),
]
# Checked by the services (so the CLI gets the same rule); the schema states the same rule.
NewPassword = Annotated[
    str,
    WithJsonSchema({"type": "string", "pattern": PASSWORD_PATTERN, "minLength": 8, "maxLength": 72}),
]
PersonName = text(LINE_PATTERN, "must not contain control characters", max_length=100)
OrgName = text(LINE_PATTERN, "must not contain control characters", max_length=100)
ResourceName = text(
    NAME_PATTERN, "must not be blank or contain control characters", min_length=1, max_length=255
)
Tag = text(NAME_PATTERN, "must not be blank or contain control characters", min_length=1, max_length=50)
Provider = text(NAME_PATTERN, "must not be blank or contain control characters", min_length=1, max_length=100)
Description = text(TEXT_PATTERN, "must not contain NUL characters", max_length=2000)
SearchText = text(TEXT_PATTERN, "must not contain NUL characters", max_length=255)
Action = text(ACTION_PATTERN, "must be lower-case letters, dots and underscores", min_length=1, max_length=64)
Language = text(LANGUAGE_PATTERN, "must be a language tag such as en or pt-BR", min_length=2, max_length=16)
Timezone = Annotated[
    str, AfterValidator(_timezone), WithJsonSchema({"type": "string", "enum": list(timezones())})
]
Config = Annotated[dict[str, Any], AfterValidator(_config), WithJsonSchema(_top_config_schema())]
AvatarUrl = text(AVATAR_URL_PATTERN, "must be an https URL", min_length=9, max_length=2048)
Preferences = Annotated[dict[str, Any], AfterValidator(_preferences), WithJsonSchema(_preferences_schema())]
