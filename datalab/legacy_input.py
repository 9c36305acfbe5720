"""Reading legacy /api requests, shared by the Flask views and their FastAPI ports.

Both implementations of a route must refuse the same input with the same words, so
the parsing lives here once: JSON bodies, `page`/`per_page` and the `type` filter.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from datalab.errors import DomainError, InvalidInput
from datalab.inputs import DataSourceCreate, DataSourceUpdate
from datalab.services.pages import MAX_ID, MAX_LIMIT, MAX_PAGE, PageRequest
from shared_models import SourceType

# The contract names six source types; those added since (parquet, xlsx) are /api/v1's alone.
LEGACY_SOURCE_TYPES = (
    SourceType.POSTGRESQL,
    SourceType.MYSQL,
    SourceType.SQLITE,
    SourceType.CSV,
    SourceType.JSON,
    SourceType.REST_API,
)
_NAMED = (
    ", ".join(f"'{t.value}'" for t in LEGACY_SOURCE_TYPES[:-1]) + f" or '{LEGACY_SOURCE_TYPES[-1].value}'"
)


def _legacy_type(value: object) -> object:
    # Worded as pydantic words an unknown enum value, so the answer is what it was with six types.
    if value is not None and value not in LEGACY_SOURCE_TYPES:
        raise PydanticCustomError("enum", f"Input should be {_NAMED}")
    return value


LegacySourceType = Annotated[SourceType, BeforeValidator(_legacy_type)]


class LegacyDataSourceCreate(DataSourceCreate):
    """A new data source, as the legacy contract allows it."""

    type: LegacySourceType = Field(strict=False)


class LegacyDataSourceUpdate(DataSourceUpdate):
    """Changes to a data source, as the legacy contract allows them."""

    type: Annotated[SourceType | None, BeforeValidator(_legacy_type)] = Field(None, strict=False)


NOT_AN_OBJECT = "Request body must be a JSON object"
QueryArg = Callable[[str], str | None]
MAX_ACTION_LENGTH = 64


def json_object(raw: bytes) -> dict[str, Any]:
    """Return the request body as a JSON object, or raise the contract's 400."""
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        # RecursionError: nesting deep enough to exhaust the parser, well within the size limit.
        raise DomainError(NOT_AN_OBJECT, code="BODY_NOT_OBJECT") from None
    if not isinstance(body, dict):
        raise DomainError(NOT_AN_OBJECT, code="BODY_NOT_OBJECT")
    return body


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def page_request(arg: QueryArg) -> PageRequest:
    """Read `page` and `per_page` with `arg` (the first value of a query argument, or None)."""
    return PageRequest.numbered(
        page=int_arg(arg, "page", 1, high=MAX_PAGE) or 1,
        per_page=int_arg(arg, "per_page", 20, high=MAX_LIMIT) or 20,
    )


def int_arg(arg: QueryArg, name: str, default: int | None, *, high: int) -> int | None:
    """Read a whole-number query argument between 1 and `high`."""
    raw = arg(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= high:
        raise InvalidInput(name, f"must be a whole number from 1 to {high}")
    return int(raw)


def source_type_filter(arg: QueryArg) -> SourceType | None:
    """Read the optional `type` filter of the data source list."""
    raw = arg("type")
    if raw is None:
        return None
    if raw not in LEGACY_SOURCE_TYPES:
        raise InvalidInput("type", f"must be one of {', '.join(t.value for t in LEGACY_SOURCE_TYPES)}")
    return SourceType(raw)


@dataclass(frozen=True)
class AuditLogQuery:
    """The audit log list's page and filters."""

    page: PageRequest
    user_id: int | None
    action: str | None


def audit_log_query(arg: QueryArg) -> AuditLogQuery:
    """Read `action`, then `page`/`per_page`, then `user_id`: the order the contract reports errors in."""
    action = arg("action")
    if action is not None and (len(action) > MAX_ACTION_LENGTH or "\x00" in action):
        raise InvalidInput("action", f"must be at most {MAX_ACTION_LENGTH} characters")
    page = page_request(arg)
    return AuditLogQuery(page=page, user_id=int_arg(arg, "user_id", None, high=MAX_ID), action=action)
