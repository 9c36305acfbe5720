"""Shared result shaping: the row and byte caps, JSON-safe values, unique column names."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import json
import math
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from datalab.connectors.base import ConnectorError, Limits, QueryResult, SchemaInfo, Table


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


def json_size(value: Any) -> int:
    """Bytes `value` takes in the answer, written as FastAPI writes it (compact, UTF-8)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return len(text) if text.isascii() else len(text.encode())


class Rows:
    """The rows of an answer, collected until the row cap or the byte cap; says which one cut.

    Rows are measured as they are added, in the bytes the answer will hold, so the answer never
    holds more than `max_bytes` of rows. What the driver holds is bounded too (see `collect`).
    """

    def __init__(self, names: Sequence[str], cap: int, max_bytes: int) -> None:
        self.columns = unique_names(names)
        self.cap = cap
        self.max_bytes = max_bytes
        self.rows: list[dict[str, Any]] = []
        self.size = 2  # the list's brackets
        self.largest = 1
        self.truncated: str | None = None

    @property
    def full(self) -> bool:
        """Tell whether the answer is complete: a cap was reached."""
        return self.truncated is not None

    def batch(self) -> int:
        """How many rows to fetch next: as many as could still fit, judged by the largest row yet."""
        room = (self.max_bytes - self.size) // self.largest
        return max(1, min(self.cap + 1 - len(self.rows), room, 1000))

    def add(self, values: Sequence[Any]) -> bool:
        """Add one fetched row; False (and the answer is complete) when it does not fit."""
        if len(self.rows) >= self.cap:
            self.truncated = "rows"
            return False
        row = dict(zip(self.columns, (json_value(v) for v in values), strict=True))
        size = json_size(row) + 1  # and its comma
        if self.size + size > self.max_bytes:
            self.truncated = "bytes"
            return False
        self.rows.append(row)
        self.size += size
        self.largest = max(self.largest, size)
        return True

    def cut_by_bytes(self) -> None:
        """Mark the answer cut by the byte cap (a row was too big to fetch at all)."""
        self.truncated = "bytes"

    def extend(self, fetched: Sequence[Sequence[Any]]) -> bool:
        """Add fetched rows in order; False once the answer is complete."""
        return all(self.add(row) for row in fetched)

    def result(self, started: float) -> QueryResult:
        """The QueryResult of the rows collected."""
        return QueryResult(
            columns=self.columns,
            rows=self.rows,
            row_count=len(self.rows),
            execution_time_ms=elapsed_ms(started),
            has_more=self.truncated is not None,
            truncated=self.truncated,
        )


def collect(rows: Rows, fetchmany: Callable[[int], Sequence[Sequence[Any]]], *, sized: bool = False) -> Rows:
    """Fetch in batches until the source has no more or a cap is reached.

    With `sized`, each fetched row ends with its size as the bounded wrapper computed it
    (bounded.py), and a row past the byte cap ends the answer without being added; such rows
    come in batches sized by the room left. Other sources are fetched a row at a time, so the
    driver never holds a batch of large rows that the cap would cut anyway.
    """
    while not rows.full:
        wanted = rows.batch() if sized else 1
        fetched = fetchmany(wanted)
        kept, past_cap = _within(fetched, rows.max_bytes) if sized else (fetched, False)
        if not rows.extend(kept):
            break
        if past_cap:
            rows.cut_by_bytes()
            break
        if len(fetched) < wanted:
            break
    return rows


def _within(fetched: Sequence[Sequence[Any]], max_bytes: int) -> tuple[list[Sequence[Any]], bool]:
    kept: list[Sequence[Any]] = []
    for row in fetched:
        size = row[-1]
        if size is None or int(size) > max_bytes:
            return kept, True
        kept.append(row[:-1])
    return kept, False


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started` (a perf_counter reading)."""
    return round((time.perf_counter() - started) * 1000, 2)


def capped_schema(info: SchemaInfo, max_bytes: int) -> SchemaInfo:
    """The schema's tables in order while they fit in `max_bytes` of JSON; `truncated` says if cut."""
    kept: list[Table] = []
    size = 2
    for table in info.tables:
        size += json_size(dataclasses.asdict(table)) + 1
        if size > max_bytes:
            return SchemaInfo(tables=kept, truncated="bytes")
        kept.append(table)
    return info
