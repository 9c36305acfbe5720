"""Shared result shaping: the row cap, JSON-safe values, unique column names."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
import time
import uuid
from collections.abc import Sequence
from typing import Any

from datalab.connectors.base import ConnectorError, Limits, QueryResult


def row_cap(limit: int, limits: Limits) -> int:
    """The rows a query may return: the requested limit, at least 1, at most the configured cap."""
    return max(1, min(limit, limits.max_rows))


def unique_names(names: Sequence[str]) -> list[str]:
    """Column names made unique (`a`, `a_2`), so no value is lost when rows become objects."""
    seen: set[str] = set()
    result: list[str] = []
    for name in names:
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name}_{n}"
        seen.add(candidate)
        result.append(candidate)
    return result


MAX_DEPTH = 64


def json_value(value: Any, depth: int = 0) -> Any:
    """A value both APIs can serialize: exact decimals as strings, times in ISO 8601, bytes in base64."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict | list | tuple | set) and depth >= MAX_DEPTH:
        # Serializers recurse too; a bounded depth keeps a hostile value from exhausting the stack.
        raise ConnectorError("BAD_RESPONSE", f"A value nests deeper than {MAX_DEPTH} levels.")
    if isinstance(value, dict):
        return {str(k): json_value(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_value(v, depth + 1) for v in value]
    return str(value)


def query_result(
    names: Sequence[str], fetched: Sequence[Sequence[Any]], cap: int, started: float
) -> QueryResult:
    """Build a QueryResult from up to cap+1 fetched rows; the extra row only sets has_more."""
    columns = unique_names(names)
    rows = [dict(zip(columns, (json_value(v) for v in row), strict=True)) for row in fetched[:cap]]
    return QueryResult(
        columns=columns,
        rows=rows,
        row_count=len(rows),
        execution_time_ms=round((time.perf_counter() - started) * 1000, 2),
        has_more=len(fetched) > cap,
    )


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started` (a perf_counter reading)."""
    return round((time.perf_counter() - started) * 1000, 2)
