"""A query wrapped so that the database measures each row before sending it (the byte cap).

A driver materialises a whole row when it fetches it, so a row must be judged before it
leaves the database: `SELECT repeat('x', 100000000)` would otherwise cost the server its size
in memory (twice, as driver buffer and Python string) before any Python check could refuse it.
The wrapper renames the statement's columns `c1..cn` (the names come from a LIMIT 0 describe
of the same statement), measures each row as the database's own text of the row, and sends a
row's values only while the size stays within the cap; past it the row comes back as NULLs
and its size, so the connector stops there having held nothing big.
"""

from __future__ import annotations

# PostgreSQL: a running total, so a batch of rows can never hold more than the cap together.
# ROWS UNBOUNDED PRECEDING keeps the window streaming (no read-ahead of the whole result).
POSTGRES_SIZE = "sum(octet_length(datalab_q::text)) OVER (ROWS UNBOUNDED PRECEDING)"
# DuckDB: each row on its own; a window would make DuckDB gather the whole result first.
DUCKDB_SIZE = "strlen(CAST(datalab_q AS VARCHAR))"


def describe_sql(statement: str) -> str:
    """The statement as a subquery that returns its columns and no rows."""
    # Newlines, so a trailing `-- comment` in the statement cannot swallow the wrapper.
    return f"SELECT * FROM (\n{statement}\n) AS datalab_q LIMIT 0"  # noqa: S608 - checked by sql_guard


def bounded_sql(statement: str, width: int, max_bytes: int, size: str) -> str:
    """The statement's `width` columns, NULL once the row's `size` passes `max_bytes`, then the size."""
    aliases = ", ".join(f"c{i}" for i in range(1, width + 1))
    within = f"datalab_s.datalab_size <= {int(max_bytes)}"
    values = ", ".join(f"CASE WHEN {within} THEN datalab_s.c{i} END" for i in range(1, width + 1))
    return (
        f"SELECT {values}, datalab_s.datalab_size FROM ("  # noqa: S608 - checked by sql_guard
        f"SELECT datalab_q.*, {size} AS datalab_size FROM (\n{statement}\n) AS datalab_q({aliases})"
        ") AS datalab_s"
    )
