"""An XLSX source's first sheet as a temporary CSV, checked like a dataset upload before it is opened."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from datalab.connectors.base import ConnectorError

# Most parts a workbook may hold and the largest compression ratio of any part, as for uploads.
MAX_ENTRIES = 10_000
MAX_RATIO = 100


@contextmanager
def readable_copy(kind: str, path: Path, max_bytes: int) -> Iterator[Path]:
    """Yield the file DuckDB reads for `path`: itself, or for xlsx a CSV of its first sheet, removed after."""
    if kind != "xlsx":
        yield path
        return
    # Imported here: openpyxl is needed only by xlsx sources, in the child that reads them.
    from datalab.datasets.errors import DatasetInvalid
    from datalab.datasets.xlsx import XlsxLimits, check_archive, to_csv

    # The expanded workbook counts against the same limit as any file a source may load.
    limits = XlsxLimits(max_entries=MAX_ENTRIES, max_uncompressed_bytes=max_bytes, max_ratio=MAX_RATIO)
    with tempfile.TemporaryDirectory(prefix="datalab-xlsx-") as folder:
        target = Path(folder) / "sheet.csv"
        try:
            check_archive(path, limits)
            to_csv(path, target)
        except DatasetInvalid as exc:
            # The dataset checks' messages name what is wrong, never the server's path.
            raise ConnectorError("BAD_RESPONSE", exc.message) from None
        yield target
