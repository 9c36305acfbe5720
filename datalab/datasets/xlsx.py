"""XLSX: refused when it looks like a zip bomb, then its first sheet is written out as CSV.

openpyxl reads the whole shared-strings table even in read-only mode, so the archive is checked
(entry count, total and per-member uncompressed size, compression ratio, member names) before
openpyxl opens it. defusedxml, installed alongside, guards openpyxl's XML parsing.
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path, PurePosixPath
from typing import Any

from openpyxl import load_workbook

from datalab.datasets.errors import DatasetInvalid


@dataclass(frozen=True)
class XlsxLimits:
    """Bounds an XLSX upload must stay within."""

    max_entries: int
    max_uncompressed_bytes: int
    max_ratio: int


def check_archive(path: Path, limits: XlsxLimits) -> None:
    """Refuse a zip that is not a workbook or that would expand beyond the limits."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError):
        raise DatasetInvalid("The file is not an XLSX workbook (a broken zip archive)") from None
    if len(members) > limits.max_entries:
        raise DatasetInvalid("The workbook holds too many parts")
    total = 0
    for member in members:
        name = PurePosixPath(member.filename)
        if name.is_absolute() or ".." in name.parts:
            raise DatasetInvalid("The workbook holds a part with an unsafe name")
        total += member.file_size
        if member.file_size > limits.max_ratio * max(member.compress_size, 1) and member.file_size > 1024:
            raise DatasetInvalid("The workbook expands far beyond its size (a zip bomb)")
    if total > limits.max_uncompressed_bytes:
        raise DatasetInvalid("The workbook expands beyond the configured limit")
    if "xl/workbook.xml" not in {m.filename for m in members}:
        raise DatasetInvalid("The file is a zip archive but not an XLSX workbook")


def to_csv(path: Path, target: Path) -> None:
    """Write the workbook's first sheet to `target` as CSV (first row: the header)."""
    # A file object, not a path: openpyxl refuses paths without an .xlsx suffix (spool files have none).
    with path.open("rb") as handle:
        try:
            book = load_workbook(handle, read_only=True, data_only=True, keep_links=False)
        except Exception:  # noqa: BLE001 - openpyxl raises many kinds on a malformed workbook
            raise DatasetInvalid("The workbook cannot be read") from None
        try:
            if not book.worksheets:
                raise DatasetInvalid("The workbook has no sheet")
            rows = 0
            with target.open("w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                for row in book.worksheets[0].iter_rows(values_only=True):
                    writer.writerow([_cell(value) for value in row])
                    rows += 1
            if rows == 0:
                raise DatasetInvalid("The workbook's first sheet is empty")
        except DatasetInvalid:
            raise
        except Exception:  # noqa: BLE001
            raise DatasetInvalid("The workbook cannot be read") from None
        finally:
            book.close()


def _cell(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return "" if value is None else value
