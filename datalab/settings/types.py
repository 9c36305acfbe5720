"""Value types the settings share: comma-separated lists and CIDR lists."""

from __future__ import annotations

import json
from ipaddress import ip_network
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator
from pydantic_settings import NoDecode


def split_commas(value: object) -> object:
    """Split "a, b, c" into items; lists pass through."""
    # Lists are written in the environment as "a, b, c"; JSON would be easy to get wrong in a shell.
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _networks(items: list[str]) -> list[str]:
    for position, item in enumerate(items, start=1):
        try:
            ip_network(item, strict=False)
        except ValueError:
            # The position, never the value: settings errors do not echo what was set.
            raise ValueError(
                f"entry {position} is not an IP address or a network in CIDR form such as 10.0.0.0/8"
            ) from None
    return items


def _json_object(value: object) -> object:
    # Parsed here rather than by pydantic-settings, so a broken one is reported with the others
    # and says where it breaks, never what it holds.
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})"
        ) from None


CommaList = Annotated[list[str], NoDecode, BeforeValidator(split_commas)]
NetworkList = Annotated[list[str], NoDecode, BeforeValidator(split_commas), AfterValidator(_networks)]
JsonObject = Annotated[dict[str, str], NoDecode, BeforeValidator(_json_object)]
