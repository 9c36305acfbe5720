"""Field types for request bodies: bounded, NUL-free, valid UTF-8, on both halves."""

from __future__ import annotations

import json
import math
from functools import cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BeforeValidator, StringConstraints

MAX_CONFIG_BYTES = 16_384
MAX_CONFIG_DEPTH = 6
# Policy forbids NUL, so no stored hash was made from a password holding one.
UNUSABLE_PASSWORD = "\x00"  # noqa: S105 - a sentinel that can never match, not a secret


def clean_text(value: str) -> str:
    """Refuse NUL bytes and unpaired surrogates, which no database stores faithfully."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid unicode text") from None
    return value


def _login_email(value: str) -> str:
    # Stored lower-cased: that is what makes emails unique case-insensitively.
    return clean_text(value).strip().lower()


def _email(value: str) -> str:
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"must be a valid email address ({exc})") from None
    return _login_email(checked.normalized)


def _unusable_if_unencodable(value: object) -> object:
    # A string no UTF-8 password can equal (say, a lone surrogate) becomes one that cannot
    # match any stored hash, so login answers 401 as for any other wrong password.
    if isinstance(value, str) and clean_text_problem(value):
        return UNUSABLE_PASSWORD
    return value


def clean_text_problem(value: str) -> bool:
    """Tell whether `value` holds a NUL or cannot be encoded as UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return "\x00" in value


def _timezone(value: str) -> str:
    if value not in _timezones():
        raise ValueError("must be an IANA time zone such as Europe/Paris")
    return value


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones() | {"UTC"})


def _config(value: dict[str, Any]) -> dict[str, Any]:
    _check_json(value, depth=0)
    if len(json.dumps(value).encode()) > MAX_CONFIG_BYTES:
        raise ValueError(f"must be at most {MAX_CONFIG_BYTES} bytes as JSON")
    return value


def _check_json(value: Any, depth: int) -> None:
    if depth > MAX_CONFIG_DEPTH:
        raise ValueError(f"must not nest deeper than {MAX_CONFIG_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            clean_text(key)
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)
    elif isinstance(value, str):
        clean_text(value)
    elif isinstance(value, float) and not math.isfinite(value):
        # NaN and Infinity are not JSON: clients could not read them back.
        raise ValueError("must not contain NaN or Infinity")


CleanStr = Annotated[str, AfterValidator(clean_text)]
Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_email)]
LoginEmail = Annotated[str, StringConstraints(max_length=254), AfterValidator(_login_email)]
LoginPassword = Annotated[str, BeforeValidator(_unusable_if_unencodable), StringConstraints(max_length=4096)]
# Constraints sit on the plain str, ahead of the validator, so they see the stripped value.
PersonName = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=100), AfterValidator(clean_text)
]
OrgName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), AfterValidator(clean_text)]
Timezone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_timezone)]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$", max_length=16)]
ResourceName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), AfterValidator(clean_text)
]
Description = Annotated[str, StringConstraints(max_length=2000), AfterValidator(clean_text)]
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), AfterValidator(clean_text)
]
Provider = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(clean_text)
]
Config = Annotated[dict[str, Any], AfterValidator(_config)]
