"""Dataset files of every format with the same three rows, broken ones, and a zip bomb."""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

import duckdb
from openpyxl import Workbook

ROWS = [(1, "ann", 1.5), (2, "bob", None), (3, "cy", 4.5)]
COLUMNS = ["id", "name", "score"]
FORMATS = ("csv", "tsv", "json", "ndjson", "parquet", "xlsx")


def _delimited(sep: str) -> bytes:
    lines = [sep.join(COLUMNS)]
    lines += [sep.join("" if v is None else str(v) for v in row) for row in ROWS]
    return ("\n".join(lines) + "\n").encode()


def _records() -> list[dict[str, object]]:
    return [dict(zip(COLUMNS, row, strict=True)) for row in ROWS]


def _parquet() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "rows.parquet"
        conn = duckdb.connect()
        values = ", ".join(f"({i}, '{n}', {'NULL' if s is None else s})" for i, n, s in ROWS)
        select = f"SELECT id, name, score::DOUBLE AS score FROM (VALUES {values}) t(id, name, score)"  # noqa: S608
        conn.execute(f"COPY ({select}) TO '{target}' (FORMAT parquet)")
        conn.close()
        return target.read_bytes()


def _xlsx() -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(COLUMNS)
    for row in ROWS:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def good_file(fmt: str) -> bytes:
    """Return a valid file of `fmt` holding ROWS."""
    if fmt in ("csv", "tsv"):
        return _delimited("," if fmt == "csv" else "\t")
    if fmt == "json":
        return json.dumps(_records()).encode()
    if fmt == "ndjson":
        return "".join(json.dumps(r) + "\n" for r in _records()).encode()
    if fmt == "parquet":
        return _parquet()
    return _xlsx()


def bad_file(fmt: str) -> bytes:
    """Return a file that claims to be `fmt` but is not a valid one."""
    if fmt in ("csv", "tsv"):
        return b"id,name\n1,\x00\x01\x02binary\n"
    if fmt == "json":
        return b'[{"id": 1}, {"id": '
    if fmt == "ndjson":
        return b'{"id": 1}\n{"id": \n'
    if fmt == "parquet":
        return b"PAR1" + b"not really parquet" * 10 + b"PAR1"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "a zip, but no workbook inside")
    return out.getvalue()


def zip_bomb(expanded_bytes: int = 64 * 1024 * 1024) -> bytes:
    """Return a small .xlsx-looking zip whose one member expands to `expanded_bytes` of zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as member:
            block = b"\0" * (1024 * 1024)
            for _ in range(expanded_bytes // len(block)):
                member.write(block)
    return out.getvalue()


def empty_workbook() -> bytes:
    """Return a real XLSX whose only sheet is empty (no header, no rows)."""
    out = io.BytesIO()
    Workbook().save(out)
    return out.getvalue()
