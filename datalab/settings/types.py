"""Value types the settings share: comma-separated lists and CIDR lists."""

from __future__ import annotations

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
    for item in items:
        try:
            ip_network(item, strict=False)
        except ValueError:
            raise ValueError("every entry must be a network in CIDR form such as 10.0.0.0/8") from None
    return items


CommaList = Annotated[list[str], NoDecode, BeforeValidator(split_commas)]
NetworkList = Annotated[list[str], NoDecode, BeforeValidator(split_commas), AfterValidator(_networks)]
