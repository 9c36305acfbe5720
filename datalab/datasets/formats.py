"""The dataset formats: one entry each, with the file names that declare it and how DuckDB reads it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePath

from datalab.datasets.errors import DatasetInvalid
from shared_models import DatasetFormat

PARQUET_MAGIC = b"PAR1"
ZIP_MAGIC = b"PK\x03\x04"
# Text formats are sniffed on their first bytes: no NUL, valid UTF-8, not a known binary magic.
# DuckDB's CSV reader otherwise reads in 30 MiB blocks; 4 MiB keeps a whole-file scan near 20 MB of RSS.
CSV_BUFFER = "buffer_size=4194304"
SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True)
class FormatSpec:
    """How one format is declared, recognised and read."""

    extensions: tuple[str, ...]
    # A DuckDB table function over `{path}` (a quoted literal); XLSX is read as the CSV made from it.
    reader: str
    media_type: str


FORMATS: dict[DatasetFormat, FormatSpec] = {
    DatasetFormat.CSV: FormatSpec((".csv",), "read_csv({path}, header=true, " + CSV_BUFFER + ")", "text/csv"),
    DatasetFormat.TSV: FormatSpec(
        (".tsv", ".tab"),
        "read_csv({path}, delim='\t', header=true, " + CSV_BUFFER + ")",
        "text/tab-separated-values",
    ),
    DatasetFormat.JSON: FormatSpec((".json",), "read_json({path}, format='array')", "application/json"),
    DatasetFormat.NDJSON: FormatSpec(
        (".ndjson", ".jsonl"), "read_json({path}, format='newline_delimited')", "application/x-ndjson"
    ),
    DatasetFormat.PARQUET: FormatSpec(
        (".parquet",), "read_parquet({path})", "application/vnd.apache.parquet"
    ),
    DatasetFormat.XLSX: FormatSpec(
        (".xlsx",),
        "read_csv({path}, header=true, " + CSV_BUFFER + ")",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
}


def declared_format(filename: str, declared: str | None) -> DatasetFormat:
    """Return the format the client declared (the `format` field, else the file's extension)."""
    if declared:
        try:
            return DatasetFormat(declared.lower())
        except ValueError:
            raise DatasetInvalid(f"Unknown format {declared[:20]!r}; use one of {_names()}") from None
    suffix = PurePath(filename).suffix.lower()
    for fmt, spec in FORMATS.items():
        if suffix in spec.extensions:
            return fmt
    raise DatasetInvalid(f"Cannot tell the format from the file name; use one of {_names()}")


def reader_sql(fmt: DatasetFormat, path: Path) -> str:
    """Return the DuckDB table function that reads `path` as `fmt`."""
    literal = "'" + str(path).replace("'", "''") + "'"
    return FORMATS[fmt].reader.format(path=literal)


def check_magic(fmt: DatasetFormat, path: Path) -> None:
    """Refuse a file whose first and last bytes do not fit `fmt`, before any parser sees it."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
        handle.seek(max(size - 4, 0))
        tail = handle.read(4)
    if size == 0:
        raise DatasetInvalid("The file is empty")
    if fmt == DatasetFormat.PARQUET:
        if size < 12 or head[:4] != PARQUET_MAGIC or tail != PARQUET_MAGIC:
            raise DatasetInvalid("The file is not Parquet (no PAR1 magic at both ends)")
    elif fmt == DatasetFormat.XLSX:
        if head[:4] != ZIP_MAGIC:
            raise DatasetInvalid("The file is not an XLSX workbook (not a zip archive)")
    else:
        _check_text(fmt, head, cut=size > SNIFF_BYTES)


def _check_text(fmt: DatasetFormat, head: bytes, *, cut: bool) -> None:
    if b"\x00" in head or head[:4] in (PARQUET_MAGIC, ZIP_MAGIC):
        raise DatasetInvalid(f"The file is binary, not {fmt.value.upper()} text")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the sniff window is fine; anything else is not UTF-8.
        if not (cut and exc.start >= len(head) - 3):
            raise DatasetInvalid(f"The file is not UTF-8 {fmt.value.upper()} text") from None
        text = head[: exc.start].decode("utf-8")
    first = text.lstrip("\ufeff \t\r\n")[:1]
    if fmt == DatasetFormat.JSON and first != "[":
        raise DatasetInvalid("A JSON dataset must be an array of objects")
    if fmt == DatasetFormat.NDJSON and first != "{":
        raise DatasetInvalid("An NDJSON dataset must hold one JSON object per line")


def _names() -> str:
    return ", ".join(f.value for f in DatasetFormat)
