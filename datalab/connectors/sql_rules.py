"""What a read-only query may call and read, per dialect: the data behind the SQL guard.

Functions are an allow-list (`sql_functions/<dialect>.txt`), plus what the operator adds in
QUERY_EXTRA_FUNCTIONS, minus a hard refusal list no setting lifts (`sql_functions/refused.txt`).

Relations: user tables cannot be listed in advance, so every relation outside the system
schemas is left to the database's own grants; inside the system schemas (where the server keeps
its configuration, sessions and credentials) only the catalog views listed here may be read.
DuckDB sources hold one table, `data`, so there it is a plain allow-list.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from functools import cache
from importlib import resources

DIALECTS = ("postgresql", "mysql", "sqlite", "duckdb")

# Function nodes sqlglot builds from syntax rather than from a name the user typed (CAST,
# EXTRACT, CURRENT_DATE, ARRAY[...]) or wraps around a call it rewrote (YEAR(x) reads
# x through TsOrDsToDate): allowed by sqlglot class name, in every dialect. Each is a value
# operation; the typed names that lead to them are sqlglot's fixed parser keys.
SYNTAX_FUNCTIONS = frozenset(
    {
        "Array",
        "Case",
        "Cast",
        "TryCast",
        "Ceil",
        "Floor",
        "Coalesce",
        "Concat",
        "CurrentDate",
        "CurrentTime",
        "CurrentTimestamp",
        "Exists",
        "Extract",
        "GroupConcat",
        "If",
        "JSONArrayAgg",
        "JSONObject",
        "JSONArray",
        "Max",
        "Min",
        "Struct",
        "StartsWith",
        "Normalize",
        "Substring",
        "Trim",
        "StrPosition",
        "TsOrDsToDate",
        "TsOrDsToTimestamp",
        "Unnest",
    }
)

# Catalog relations that describe the user's own tables; every other system relation is refused.
_SYSTEM_SCHEMAS = {
    "postgresql": frozenset({"pg_catalog", "information_schema", "pg_toast"}),
    "mysql": frozenset({"mysql", "information_schema", "performance_schema", "sys"}),
    "sqlite": frozenset(),
    "duckdb": frozenset({"information_schema", "pg_catalog", "system", "temp"}),
}
_INFORMATION_SCHEMA = frozenset(
    {
        "tables",
        "columns",
        "views",
        "schemata",
        "table_constraints",
        "key_column_usage",
        "referential_constraints",
        "check_constraints",
        "constraint_column_usage",
        "statistics",
    }
)
_CATALOG_RELATIONS = {
    "postgresql": {
        "information_schema": _INFORMATION_SCHEMA,
        "pg_catalog": frozenset(
            {
                "pg_tables",
                "pg_views",
                "pg_matviews",
                "pg_indexes",
                "pg_sequences",
                "pg_class",
                "pg_namespace",
                "pg_attribute",
                "pg_type",
                "pg_constraint",
                "pg_index",
                "pg_description",
                "pg_enum",
                "pg_am",
                "pg_inherits",
            }
        ),
    },
    "mysql": {"information_schema": _INFORMATION_SCHEMA},
    "sqlite": {},
    "duckdb": {"information_schema": frozenset({"tables", "columns", "schemata"})},
}
_DUCKDB_TABLES = frozenset({"data"})
_SQLITE_CATALOG = frozenset(
    {"sqlite_master", "sqlite_schema", "sqlite_temp_master", "sqlite_temp_schema", "sqlite_sequence"}
)


def _read_list(name: str) -> list[str]:
    text = resources.files("datalab.connectors").joinpath("sql_functions", name).read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@cache
def _allowed(dialect: str) -> frozenset[str]:
    return frozenset(_read_list(f"{dialect}.txt"))


@cache
def _refused_patterns() -> tuple[str, ...]:
    return tuple(_read_list("refused.txt"))


def hard_refused(name: str) -> bool:
    """Say whether `name` (folded) is a function no setting may allow."""
    return any(fnmatchcase(name, pattern) for pattern in _refused_patterns())


def function_allowed(name: str, dialect: str, extra: Iterable[str] = ()) -> bool:
    """Say whether the function `name` (as the server sees it) may be called in `dialect`."""
    if hard_refused(name.lower()):
        return False
    return name in _allowed(dialect) or name in set(extra)


def relation_refusal(schema: str | None, name: str, dialect: str) -> str | None:
    """Say which relation is refused (`schema.name`, names as the server sees them), or None."""
    label = f"{schema}.{name}" if schema else name
    catalog = _CATALOG_RELATIONS[dialect]
    if dialect == "duckdb":
        if schema in (None, "main") and name in _DUCKDB_TABLES:
            return None
        return None if schema is not None and name in catalog.get(schema, frozenset()) else label
    if dialect == "sqlite":
        # Eponymous virtual tables: pragma_* read settings and file paths, sqlite_dbpage raw pages.
        special = name.lower().startswith(("pragma_", "sqlite_", "dbstat"))
        return label if special and name.lower() not in _SQLITE_CATALOG else None
    if dialect == "postgresql" and schema is None and name.lower().startswith("pg_"):
        # pg_catalog comes first on every search path: an unqualified pg_* name is a catalog one.
        schema = "pg_catalog"
    if schema is None or schema.lower() not in _SYSTEM_SCHEMAS[dialect]:
        return None
    if dialect == "mysql":
        # MySQL compares catalog names case-insensitively.
        return None if name.lower() in catalog.get(schema.lower(), frozenset()) else label
    return None if name in catalog.get(schema, frozenset()) else label
