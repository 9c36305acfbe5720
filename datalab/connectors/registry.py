"""Every data-source type as one entry: its config model, connector, SQL dialect, port and secrets' place.

Adding a type is one `SourceKind` here plus its connector module and tests; the enum the database
stores (`shared_models.SourceType`, whose values build the CHECK constraint) is held equal to
`KINDS` by a test, and every other per-type table (config models, dialects, default ports,
destination fields, task streams) is read from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from datalab.connectors.base import Connector, Limits
from datalab.connectors.config_models import FileConfig, MySQLConfig, PostgresConfig, RestConfig, SourceConfig

Opener = Callable[[dict[str, Any], Limits], Connector]
# The fields that say where a database's or a file's secrets are sent (see datalab/destinations.py).
DATABASE_PLACE = ("host", "port", "database")
FILE_PLACE = ("path",)


@dataclass(frozen=True)
class SourceKind:
    """One source type's parts; `opener` does no I/O and imports its driver on first use."""

    name: str
    config_model: type[SourceConfig]
    opener: Opener
    dialect: str | None
    default_port: int | None
    destination_fields: tuple[str, ...]
    is_file: bool


# Drivers are imported inside the openers so that importing the registry loads none of them.
def _postgresql(config: dict[str, Any], limits: Limits) -> Connector:
    from datalab.connectors.postgresql import PostgresConnector

    return PostgresConnector(config, limits)


def _mysql(config: dict[str, Any], limits: Limits) -> Connector:
    from datalab.connectors.mysql import MySQLConnector

    return MySQLConnector(config, limits)


def _sqlite(config: dict[str, Any], limits: Limits) -> Connector:
    from datalab.connectors.sqlite import SQLiteConnector

    return SQLiteConnector(config, limits)


def _rest_api(config: dict[str, Any], limits: Limits) -> Connector:
    from datalab.connectors.rest_api import RestApiConnector

    return RestApiConnector(config, limits)


def _tabular(kind: str) -> Opener:
    def opener(config: dict[str, Any], limits: Limits) -> Connector:
        from datalab.connectors.isolated import IsolatedTabular

        return IsolatedTabular(kind, config, limits)

    return opener


def _file(name: str) -> SourceKind:
    # A file read into DuckDB as the table `data` (tabular.py), in a bounded child (isolated.py).
    return SourceKind(name, FileConfig, _tabular(name), "duckdb", None, FILE_PLACE, is_file=True)


KINDS: dict[str, SourceKind] = {
    kind.name: kind
    for kind in (
        SourceKind(
            "postgresql", PostgresConfig, _postgresql, "postgresql", 5432, DATABASE_PLACE, is_file=False
        ),
        SourceKind("mysql", MySQLConfig, _mysql, "mysql", 3306, DATABASE_PLACE, is_file=False),
        SourceKind("sqlite", FileConfig, _sqlite, "sqlite", None, FILE_PLACE, is_file=True),
        _file("csv"),
        _file("json"),
        SourceKind("rest_api", RestConfig, _rest_api, None, None, ("base_url",), is_file=False),
        _file("parquet"),
        _file("xlsx"),
    )
}


def kind_of(source_type: str) -> SourceKind:
    """Return the registry entry of `source_type`, or raise ValueError for a type no connector has."""
    try:
        return KINDS[str(source_type)]
    except KeyError:
        raise ValueError(f"unknown data source type {source_type!r}") from None
