"""Data-source connectors both halves use: one interface, one registry of source types, guarded.

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
from datalab.connectors.registry import KINDS, kind_of

SOURCE_TYPES = tuple(KINDS)

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
    return kind_of(source_type).opener(config, limits)
