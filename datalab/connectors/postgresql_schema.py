"""Read a PostgreSQL catalog: tables and views with columns, indexes and constraints."""

from __future__ import annotations

from typing import Any

from datalab.connectors.base import Column, Table

_COLUMNS = """
SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
ORDER BY n.nspname, c.relname, a.attnum
"""

_INDEXES = """
SELECT n.nspname, t.relname, i.relname, x.indisunique, x.indisprimary,
       ARRAY(SELECT pg_get_indexdef(x.indexrelid, k + 1, true)
             FROM generate_subscripts(x.indkey, 1) AS k ORDER BY k)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
ORDER BY n.nspname, t.relname, i.relname
"""

_CONSTRAINTS = """
SELECT n.nspname, t.relname, c.conname, c.contype,
       ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY AS k(num, ord)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num ORDER BY k.ord),
       pg_get_constraintdef(c.oid, true)
FROM pg_constraint c
JOIN pg_class t ON t.oid = c.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
ORDER BY n.nspname, t.relname, c.conname
"""

CONSTRAINT_TYPES = {"p": "PRIMARY KEY", "f": "FOREIGN KEY", "u": "UNIQUE", "c": "CHECK", "x": "EXCLUDE"}


def read_schema(cur: Any) -> list[Table]:
    """Describe every user table and view the connected role can see."""
    cur.execute(_COLUMNS)
    columns: dict[tuple[str, str], list[Column]] = {}
    for schema, table, name, type_, nullable in cur.fetchall():
        columns.setdefault((schema, table), []).append(Column(name, type_, bool(nullable)))
    indexes: dict[tuple[str, str], list[dict[str, Any]]] = {}
    cur.execute(_INDEXES)
    for schema, table, name, unique, primary, cols in cur.fetchall():
        entry = {"name": name, "columns": list(cols), "unique": unique, "primary": primary}
        indexes.setdefault((schema, table), []).append(entry)
    constraints: dict[tuple[str, str], list[dict[str, Any]]] = {}
    cur.execute(_CONSTRAINTS)
    for schema, table, name, kind, cols, definition in cur.fetchall():
        entry = {
            "name": name,
            "type": CONSTRAINT_TYPES.get(kind, kind),
            "columns": list(cols),
            "definition": definition,
        }
        constraints.setdefault((schema, table), []).append(entry)
    return [
        Table(
            name=table,
            schema=schema,
            columns=cols,
            indexes=indexes.get((schema, table), []),
            constraints=constraints.get((schema, table), []),
        )
        for (schema, table), cols in columns.items()
    ]
