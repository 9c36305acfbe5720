"""Per-type configs: what each type accepts, the field each refusal names, and a schema that agrees."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest

from datalab.connectors.configs import config_schema, connection_config, validate_config
from datalab.errors import InvalidInput
from shared_models import SourceType

PG = {"host": "db.internal", "database": "sales", "username": "reporter", "password": "pw"}
GOOD: list[tuple[SourceType, dict[str, Any]]] = [
    (SourceType.POSTGRESQL, PG),
    (SourceType.POSTGRESQL, {**PG, "port": 6432, "sslmode": "verify-full"}),
    (SourceType.POSTGRESQL, {**PG, "host": "10.0.0.5"}),
    (SourceType.POSTGRESQL, {**PG, "host": "::1"}),
    (SourceType.MYSQL, {**PG, "port": 3307, "sslmode": "require"}),
    (SourceType.SQLITE, {"path": "shop.db"}),
    (SourceType.CSV, {"path": "exports/2024 sales.csv"}),
    (SourceType.JSON, {"path": "a..b.json"}),
    (SourceType.REST_API, {"base_url": "https://api.example.com/v2"}),
    (
        SourceType.REST_API,
        {"base_url": "http://10.0.0.1:8080", "headers": {"X-Api-Key": "k"}, "timeout": 2.5},
    ),
]
BAD: list[tuple[SourceType, dict[str, Any], str]] = [
    (SourceType.POSTGRESQL, {**PG, "port": 0}, "config.port"),
    (SourceType.POSTGRESQL, {**PG, "port": 65_536}, "config.port"),
    (SourceType.POSTGRESQL, {**PG, "port": "5432"}, "config.port"),
    (SourceType.POSTGRESQL, {**PG, "host": "-oProxyCommand=x"}, "config.host"),
    (SourceType.POSTGRESQL, {**PG, "host": "db internal"}, "config.host"),
    (SourceType.POSTGRESQL, {**PG, "sslmode": "maybe"}, "config.sslmode"),
    (SourceType.POSTGRESQL, {**PG, "options": "-c x=y"}, "config.options"),
    (SourceType.POSTGRESQL, {"host": "db", "username": "u"}, "config.database"),
    (SourceType.POSTGRESQL, {**PG, "database": "a\nb"}, "config.database"),
    (SourceType.MYSQL, {**PG, "sslmode": "verify-full"}, "config.sslmode"),
    (SourceType.MYSQL, {**PG, "local_infile": True}, "config.local_infile"),
    (SourceType.SQLITE, {"path": "/var/lib/datalab.db"}, "config.path"),
    (SourceType.SQLITE, {"path": "../datalab.db"}, "config.path"),
    (SourceType.CSV, {"path": "a/../../b.csv"}, "config.path"),
    (SourceType.CSV, {"path": "a\\..\\b.csv"}, "config.path"),
    (SourceType.CSV, {"path": "~/b.csv"}, "config.path"),
    (SourceType.CSV, {"path": ""}, "config.path"),
    (SourceType.JSON, {}, "config.path"),
    (SourceType.REST_API, {"base_url": "file:///etc/passwd"}, "config.base_url"),
    (SourceType.REST_API, {"base_url": "gopher://example.com"}, "config.base_url"),
    (SourceType.REST_API, {"base_url": "https://user:pw@example.com"}, "config.base_url"),
    (SourceType.REST_API, {"base_url": "https://example.com?x=1"}, "config.base_url"),
    (SourceType.REST_API, {"base_url": "http://[::1]/"}, "config.base_url"),
    (SourceType.REST_API, {"base_url": "https://example.com:99999"}, "config.base_url"),
    (SourceType.REST_API, {"base_url": "https://example.com", "headers": {"Host": "a"}}, "config.headers"),
    (SourceType.REST_API, {"base_url": "https://example.com", "headers": {"A b": "a"}}, "config.headers"),
    (
        SourceType.REST_API,
        {"base_url": "https://example.com", "headers": {"A": "x\r\nB: y"}},
        "config.headers",
    ),
    (SourceType.REST_API, {"base_url": "https://example.com", "timeout": 0}, "config.timeout"),
    (SourceType.REST_API, {"base_url": "https://example.com", "timeout": 301}, "config.timeout"),
]


@pytest.mark.parametrize(("source_type", "config"), GOOD)
def test_good_config_kept_as_sent_and_schema_agrees(source_type: SourceType, config: dict[str, Any]) -> None:
    assert validate_config(source_type, config) == config
    assert jsonschema_rs.validator_for(config_schema(source_type)).is_valid(config)


@pytest.mark.parametrize(("source_type", "config", "field"), BAD)
def test_bad_config_names_the_field_and_schema_agrees(
    source_type: SourceType, config: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_config(source_type, config)
    assert caught.value.field.startswith(field)
    assert caught.value.message.startswith(f"{caught.value.field}: ")
    assert not jsonschema_rs.validator_for(config_schema(source_type)).is_valid(config)


def test_connection_config_fills_defaults() -> None:
    assert connection_config(SourceType.POSTGRESQL, PG) == {**PG, "port": 5432, "sslmode": "prefer"}
    assert connection_config(SourceType.MYSQL, PG) == {**PG, "port": 3306, "sslmode": "disable"}
    assert connection_config(SourceType.REST_API, {"base_url": "https://a.example"}) == {
        "base_url": "https://a.example",
        "headers": {},
    }
