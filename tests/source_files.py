"""The customers table as a file of every type DuckDB reads, and a malformed file of each.

Both the connector tests and the route tests write their data folder with `write_tabular_files`;
the types come from the registry (the "duckdb" dialect), so a new file type without a writer here
fails `test_registry.py` rather than going untested.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import duckdb
from openpyxl import Workbook

from datalab.connectors.registry import KINDS

COLUMNS = ("id", "email", "name")
ROWS = [(1, "ada@example.com", "Ada"), (2, "bob@example.com", "Bob"), (3, "cy@example.com", None)]
# Every source type read into DuckDB as the table `data`.
TABULAR = tuple(name for name, kind in KINDS.items() if kind.dialect == "duckdb")


def _csv(path: Path) -> None:
    lines = [",".join(COLUMNS)] + [",".join("" if v is None else str(v) for v in row) for row in ROWS]
    path.write_text("\n".join(lines) + "\n")


def _json(path: Path) -> None:
    path.write_text(json.dumps([dict(zip(COLUMNS, row, strict=True)) for row in ROWS]))


def _parquet(path: Path) -> None:
    conn = duckdb.connect(":memory:")
    try:
        conn.execute("CREATE TABLE t (id BIGINT, email VARCHAR, name VARCHAR)")
        conn.executemany("INSERT INTO t VALUES (?, ?, ?)", ROWS)
        conn.execute(f"COPY t TO '{path}' (FORMAT parquet)")
    finally:
        conn.close()


def _xlsx(path: Path) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(COLUMNS)
    for row in ROWS:
        sheet.append(row)
    book.save(path)


def _broken_xlsx(path: Path) -> None:
    # A real zip, but no workbook in it: past the magic bytes, refused by the archive check.
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")


WRITERS: dict[str, Callable[[Path], None]] = {"csv": _csv, "json": _json, "parquet": _parquet, "xlsx": _xlsx}
# A file of each type that its reader must refuse.
MALFORMED: dict[str, Callable[[Path], object]] = {
    "csv": lambda path: path.write_bytes(b"a,b\n\xff\xfe,\x80\n"),  # not UTF-8
    "json": lambda path: path.write_text("{not json"),
    "parquet": lambda path: path.write_bytes(b"PAR1" + b"\x00garbage" * 16 + b"PAR1"),
    "xlsx": _broken_xlsx,
}


def customers_file(kind: str) -> str:
    """The name of the customers file of `kind` in the data folder."""
    return f"customers.{kind}"


def broken_file(kind: str) -> str:
    """The name of the malformed file of `kind` in the data folder."""
    return f"broken.{kind}"


def write_tabular_files(data_dir: Path) -> None:
    """Write customers.<type> and broken.<type> for every file type read into DuckDB."""
    for kind in TABULAR:
        WRITERS[kind](data_dir / customers_file(kind))
        MALFORMED[kind](data_dir / broken_file(kind))
