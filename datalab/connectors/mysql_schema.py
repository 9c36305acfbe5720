"""Read a MySQL/MariaDB information_schema: tables and views with columns, indexes and constraints."""

from __future__ import annotations

from typing import Any

from datalab.connectors.base import Column, Table

_TABLES = """
SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME
"""

_COLUMNS = """
SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION
"""

_INDEXES = """
SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX
"""

_CONSTRAINTS = """
SELECT tc.TABLE_NAME, tc.CONSTRAINT_NAME, tc.CONSTRAINT_TYPE, k.COLUMN_NAME,
       k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME
FROM information_schema.TABLE_CONSTRAINTS tc
LEFT JOIN information_schema.KEY_COLUMN_USAGE k
  ON k.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND k.TABLE_NAME = tc.TABLE_NAME
 AND k.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
WHERE tc.TABLE_SCHEMA = DATABASE()
ORDER BY tc.TABLE_NAME, tc.CONSTRAINT_NAME, k.ORDINAL_POSITION
"""


def read_schema(cur: Any) -> list[Table]:
    """Describe every table and view of the connected database."""
    cur.execute(_TABLES)
    names = [str(row[0]) for row in cur.fetchall()]
    columns: dict[str, list[Column]] = {name: [] for name in names}
    cur.execute(_COLUMNS)
    for table, name, type_, nullable in cur.fetchall():
        columns.setdefault(table, []).append(Column(name, str(type_), nullable == "YES"))
    indexes: dict[str, dict[str, dict[str, Any]]] = {}
    cur.execute(_INDEXES)
    for table, index, non_unique, column in cur.fetchall():
        entry = indexes.setdefault(table, {}).setdefault(
            index,
            {"name": index, "columns": [], "unique": not non_unique, "primary": index == "PRIMARY"},
        )
        entry["columns"].append(column)
    constraints: dict[str, dict[str, dict[str, Any]]] = {}
    cur.execute(_CONSTRAINTS)
    for table, name, kind, column, ref_table, ref_column in cur.fetchall():
        entry = constraints.setdefault(table, {}).setdefault(
            name, {"name": name, "type": kind, "columns": [], "definition": None}
        )
        if column is not None:
            entry["columns"].append(column)
        if ref_table:
            entry.setdefault("references", {"table": ref_table, "columns": []})["columns"].append(ref_column)
    return [
        Table(
            name=name,
            columns=columns.get(name, []),
            indexes=list(indexes.get(name, {}).values()),
            constraints=list(constraints.get(name, {}).values()),
        )
        for name in names
    ]
