"""DuckDB over one dataset file, sandboxed to the private folder holding it.

The same connector class as CSV/JSON data sources (`TabularConnector`: the read-only SQL guard,
row caps, time limit and answer shape), except that the table `data` is a view over the file
rather than an in-memory copy, so a dataset larger than DuckDB's memory limit can still be read.
DuckDB may read only the folder the file sits in (`allowed_directories`), nothing else, and the
configuration is locked before any caller's SQL runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from datalab.connectors.base import ConnectorError, Limits
from datalab.connectors.tabular import _LOCKED_CONFIG, TabularConnector, _duckdb_error
from datalab.datasets.errors import DatasetInvalid
from datalab.datasets.formats import check_magic, reader_sql
from datalab.datasets.xlsx import XlsxLimits, check_archive, to_csv
from shared_models import DatasetFormat

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "U")


@dataclass(frozen=True)
class Shape:
    """What a dataset file holds: its row count and columns ({name, type})."""

    row_count: int
    columns: list[dict[str, str]]


def sandboxed(folder: Path) -> duckdb.DuckDBPyConnection:
    """Open an in-memory DuckDB that may read files in `folder` only, with nothing to download."""
    conn = duckdb.connect(":memory:", config=dict(_LOCKED_CONFIG))
    conn.execute("SET enable_progress_bar = false")
    conn.execute("SET allowed_directories = $dirs", {"dirs": [str(folder.resolve()) + "/"]})
    conn.execute("SET enable_external_access = false")
    return conn


def readable_file(fmt: DatasetFormat, path: Path, xlsx: XlsxLimits) -> Path:
    """Return the file DuckDB reads for `path`: itself, or for XLSX the CSV made beside it."""
    if fmt != DatasetFormat.XLSX:
        return path
    check_archive(path, xlsx)
    converted = path.with_name(path.name + ".csv")
    to_csv(path, converted)
    return converted


def inspect(fmt: DatasetFormat, path: Path, xlsx: XlsxLimits) -> Shape:
    """Check that `path` really is `fmt` and return its shape; anything else is DatasetInvalid."""
    check_magic(fmt, path)
    source = readable_file(fmt, path, xlsx)
    conn = sandboxed(source.parent)
    try:
        reader = reader_sql(fmt, source)
        described = conn.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()  # noqa: S608 - our own path
        counted = conn.execute(f"SELECT count(*) FROM {reader}").fetchone()  # noqa: S608
    except duckdb.Error:
        # DuckDB's message names the server's path; say only what is wrong.
        raise DatasetInvalid(f"The file cannot be parsed as {fmt.value.upper()}") from None
    finally:
        conn.close()
    columns = [{"name": str(row[0]), "type": str(row[1])} for row in described]
    if not columns:
        raise DatasetInvalid("The file has no columns")
    return Shape(row_count=int(counted[0]) if counted else 0, columns=columns)


class DatasetConnector(TabularConnector):
    """One dataset file as the table `data`: schema, query and profile, guarded like a file source."""

    def __init__(self, fmt: DatasetFormat, path: Path, limits: Limits) -> None:
        super().__init__(fmt.value, {"path": path.name}, limits)
        self._fmt = fmt
        self._file = path

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self._conn is not None:
            return self._conn
        conn = sandboxed(self._file.parent)
        try:
            reader = reader_sql(self._fmt, self._file)
            conn.execute(f"CREATE VIEW data AS SELECT * FROM {reader}")  # noqa: S608 - our own path
            conn.execute("SET lock_configuration = true")
        except duckdb.Error:
            conn.close()
            raise ConnectorError("BAD_RESPONSE", "The dataset could not be read.") from None
        self._conn = conn
        return conn

    def profile(self) -> list[dict[str, Any]]:
        """Per column: type, nulls, a distinct estimate, min, max, and the mean of numbers."""
        conn = self._connect()
        columns = self.schema().tables[0].columns
        parts: list[str] = ["count(*)"]
        for column in columns:
            name = '"' + column.name.replace('"', '""') + '"'
            mean = f"avg({name})" if column.type.upper().startswith(_NUMERIC) else "NULL"
            parts += [
                f"count(*) - count({name})",
                f"approx_count_distinct({name})",
                f"min({name})::VARCHAR",
                f"max({name})::VARCHAR",
                mean,
            ]
        try:
            with self._clock(conn):
                row = conn.execute(f"SELECT {', '.join(parts)} FROM data").fetchone()  # noqa: S608
        except duckdb.Error as exc:
            raise _duckdb_error(exc) from None
        assert row is not None, "an aggregate always returns one row"
        profiles = []
        for index, column in enumerate(columns):
            nulls, distinct, low, high, mean_value = row[1 + index * 5 : 6 + index * 5]
            profiles.append(
                {
                    "name": column.name,
                    "type": column.type,
                    "nulls": int(nulls),
                    "distinct": int(distinct),
                    "min": low,
                    "max": high,
                    "mean": float(mean_value) if mean_value is not None else None,
                }
            )
        return profiles
