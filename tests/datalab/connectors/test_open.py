"""open_connector: one entry point, no I/O until the connector is used."""

from __future__ import annotations

import time
from typing import Any

import pytest

from datalab.connectors import SOURCE_TYPES, Limits, open_connector

# Each would fail (refused host, missing file, no server) if opening did any I/O.
UNUSABLE: dict[str, dict[str, Any]] = {
    "postgresql": {
        "host": "169.254.169.254",
        "port": 5432,
        "database": "x",
        "username": "u",
        "password": "p",
    },
    "mysql": {"host": "169.254.169.254", "port": 3306, "database": "x", "username": "u", "password": "p"},
    "sqlite": {"path": "../../etc/passwd"},
    "csv": {"path": "missing.csv"},
    "json": {"path": "/etc/passwd"},
    "rest_api": {"base_url": "http://169.254.169.254/", "headers": {}, "timeout": 5},
}


@pytest.mark.parametrize("source_type", SOURCE_TYPES)
def test_opening_does_no_io(source_type: str) -> None:
    open_connector(source_type, UNUSABLE[source_type], Limits()).close()  # driver imported once, lazily
    started = time.monotonic()
    connector = open_connector(source_type, UNUSABLE[source_type], Limits())
    connector.close()
    connector.close()  # safe twice
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize("source_type", SOURCE_TYPES)
def test_failure_is_reported_by_test_not_raised(source_type: str) -> None:
    connector = open_connector(source_type, UNUSABLE[source_type], Limits())
    result = connector.test()
    connector.close()
    assert not result.success
    assert result.error_code in {"HOST_REFUSED", "PATH_REFUSED", "NO_SUCH_DATABASE"}
    assert result.message


def test_unknown_type_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown data source type"):
        open_connector("oracle", {}, Limits())
