"""Data-source connectors both halves use: one interface, six source types, guarded.

`open_connector` does no I/O; `test()`, `schema()` and `query()` block, so callers run them off
the event loop with a timeout.
"""

from __future__ import annotations

from typing import Any

from datalab.connectors.base import (
    Column,
    Connector,
    ConnectorError,
    Limits,
    QueryResult,
    SchemaInfo,
    Table,
    TestResult,
)

SOURCE_TYPES = ("postgresql", "mysql", "sqlite", "csv", "json", "rest_api")

__all__ = [
    "SOURCE_TYPES",
    "Column",
    "Connector",
    "ConnectorError",
    "Limits",
    "QueryResult",
    "SchemaInfo",
    "Table",
    "TestResult",
    "open_connector",
]


def open_connector(source_type: str, config: dict[str, Any], limits: Limits) -> Connector:
    """Return the connector for `source_type`, not yet connected; config is validated and decrypted."""
    # Imported here so that importing the package does not load every driver.
    if source_type == "postgresql":
        from datalab.connectors.postgresql import PostgresConnector

        return PostgresConnector(config, limits)
    if source_type == "mysql":
        from datalab.connectors.mysql import MySQLConnector

        return MySQLConnector(config, limits)
    if source_type == "sqlite":
        from datalab.connectors.sqlite import SQLiteConnector

        return SQLiteConnector(config, limits)
    if source_type in ("csv", "json"):
        from datalab.connectors.isolated import IsolatedTabular

        return IsolatedTabular(source_type, config, limits)
    if source_type == "rest_api":
        from datalab.connectors.rest_api import RestApiConnector

        return RestApiConnector(config, limits)
    raise ValueError(f"unknown data source type {source_type!r}")
