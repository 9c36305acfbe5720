"""Read a SQLite schema through its read-only pragmas."""

from __future__ import annotations

import sqlite3
from typing import Any

from datalab.connectors.base import Column, Table

READ_PRAGMAS = frozenset({"table_info", "table_xinfo", "index_list", "index_info", "foreign_key_list"})


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def read_schema(conn: sqlite3.Connection) -> list[Table]:
    """Describe every table and view except SQLite's own."""
    objects = conn.execute(
        "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
        "AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    return [_table(conn, str(name)) for name, _type in objects]


def _table(conn: sqlite3.Connection, name: str) -> Table:
    info = conn.execute(f"PRAGMA table_info({_quoted(name)})").fetchall()
    columns = [Column(str(c[1]), str(c[2]) or "ANY", not c[3] and not c[5]) for c in info]
    constraints: list[dict[str, Any]] = []
    primary = [str(c[1]) for c in sorted(info, key=lambda c: c[5]) if c[5]]
    if primary:
        constraints.append({"name": None, "type": "PRIMARY KEY", "columns": primary, "definition": None})
    foreign: dict[int, dict[str, Any]] = {}
    for fk in conn.execute(f"PRAGMA foreign_key_list({_quoted(name)})").fetchall():
        entry = foreign.setdefault(
            fk[0],
            {
                "name": None,
                "type": "FOREIGN KEY",
                "columns": [],
                "definition": None,
                "references": {"table": fk[2], "columns": []},
            },
        )
        entry["columns"].append(fk[3])
        entry["references"]["columns"].append(fk[4])
    constraints.extend(foreign.values())
    indexes: list[dict[str, Any]] = []
    for _seq, index, unique, origin, _partial in conn.execute(f"PRAGMA index_list({_quoted(name)})"):
        cols = [str(c[2]) for c in conn.execute(f"PRAGMA index_info({_quoted(str(index))})").fetchall()]
        indexes.append({"name": index, "columns": cols, "unique": bool(unique), "primary": origin == "pk"})
        if origin == "u":
            constraints.append({"name": index, "type": "UNIQUE", "columns": cols, "definition": None})
    return Table(name=name, columns=columns, indexes=indexes, constraints=constraints)
