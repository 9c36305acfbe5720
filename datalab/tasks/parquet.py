"""Rows to Parquet, batch by batch, and back out as pages or CSV.

Values go through the same JSON-safe rules as synchronous query answers (`json_value`):
decimals and dates become text, bytes base64. Each column's Arrow type is fixed by the first
batch that has a value in it (bool, int64, float64, else text); objects and lists are stored as
JSON text. Memory stays at one batch whatever the result's size.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from datalab.connectors.base import ConnectorError
from datalab.connectors.rows import json_value


def _type_of(values: list[Any]) -> pa.DataType | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    if all(isinstance(v, bool) for v in present):
        return pa.bool_()
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.int64()
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pa.float64()
    return pa.string()


def _cell(value: Any, kind: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_string(kind):
        return json.dumps(value) if isinstance(value, dict | list) else str(value)
    if pa.types.is_floating(kind) and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


class ParquetSink:
    """A Parquet file written one batch (one row group) at a time."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.path = path
        self.columns = columns
        self._types: list[pa.DataType | None] = [None] * len(columns)
        self._writer: pq.ParquetWriter | None = None
        self._schema = pa.schema([])
        self._pending: list[list[Any]] = []

    def write(self, rows: Sequence[Sequence[Any]]) -> None:
        """Add rows; the first batch with a value fixes each column's type."""
        values = [[json_value(v) for v in row] for row in rows]
        if self._writer is None:
            self._pending.extend(values)
            for i, kind in enumerate(self._types):
                if kind is None:
                    self._types[i] = _type_of([row[i] for row in values])
            if all(kind is not None for kind in self._types) or len(self._pending) >= 10_000:
                self._open_and_flush()
            return
        self._flush(values)

    def _open_and_flush(self) -> None:
        fields = [pa.field(n, kind or pa.string()) for n, kind in zip(self.columns, self._types, strict=True)]
        self._schema = pa.schema(fields)
        self._writer = pq.ParquetWriter(self.path, self._schema, compression="zstd")
        pending, self._pending = self._pending, []
        self._flush(pending)

    def _flush(self, values: list[list[Any]]) -> None:
        assert self._writer is not None
        schema = self._schema
        arrays = []
        for i, field in enumerate(schema):
            column = [_cell(row[i], field.type) for row in values]
            try:
                arrays.append(pa.array(column, type=field.type))
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                raise ConnectorError(
                    "QUERY_FAILED", f"Column {field.name!r} mixes value types the result cannot store."
                ) from None
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=schema))

    def size(self) -> int:
        """Bytes written so far (row groups are flushed as they are written)."""
        return self.path.stat().st_size if self.path.exists() else 0

    def close(self) -> None:
        """Finish the file (an empty result still gets a schema)."""
        if self._writer is None:
            self._open_and_flush()
        assert self._writer is not None
        self._writer.close()


def read_page(source: BinaryIO, offset: int, limit: int) -> tuple[list[str], list[dict[str, Any]]]:
    """Return the column names and rows [offset, offset+limit), reading only the row groups needed."""
    parquet = pq.ParquetFile(source)
    names = parquet.schema_arrow.names
    rows: list[dict[str, Any]] = []
    start = 0
    for group in range(parquet.num_row_groups):
        count = parquet.metadata.row_group(group).num_rows
        end = start + count
        if end > offset and start < offset + limit:
            table = parquet.read_row_group(group)
            lo = max(0, offset - start)
            hi = min(count, offset + limit - start)
            rows.extend(table.slice(lo, hi - lo).to_pylist())
        start = end
        if start >= offset + limit:
            break
    return names, rows


def csv_chunks(source: BinaryIO) -> Iterator[bytes]:
    """Yield the result as CSV with a header line, one row group at a time; close `source` at the end."""
    with source:
        parquet = pq.ParquetFile(source)
        header = True
        for group in range(parquet.num_row_groups):
            buffer = io.BytesIO()
            options = pacsv.WriteOptions(include_header=header)
            pacsv.write_csv(parquet.read_row_group(group), buffer, write_options=options)
            header = False
            yield buffer.getvalue()
        if header:
            names = parquet.schema_arrow.names
            yield (",".join(json.dumps(n) if "," in n else n for n in names) + "\n").encode()
