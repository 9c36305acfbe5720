"""open_connector: one entry point, no I/O until the connector is used."""

from __future__ import annotations

import sys
import threading
from typing import Any

import pytest

from datalab.connectors import SOURCE_TYPES, Limits, open_connector
from datalab.connectors.registry import KINDS

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


def unusable(source_type: str) -> dict[str, Any]:
    """The config above, or for any other file type a file that is not there."""
    if source_type in UNUSABLE or not KINDS[source_type].is_file:
        return UNUSABLE[source_type]
    return {"path": f"missing.{source_type}"}


# Python's audit events for reaching a file, a name server or a network peer.
IO_EVENTS = frozenset(
    {"open", "os.listdir", "os.scandir", "sqlite3.connect", "socket.__new__", "socket.connect",
     "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"}
)  # fmt: skip
_recording: dict[int, list[str]] = {}


def _record_io(event: str, _args: tuple[Any, ...]) -> None:
    # Only the recording thread's events: other tests' servers may run in other threads.
    events = _recording.get(threading.get_ident())
    if events is not None and event in IO_EVENTS:
        events.append(event)


sys.addaudithook(_record_io)  # hooks cannot be removed; this one records only while a test asks


@pytest.mark.parametrize("source_type", SOURCE_TYPES)
def test_opening_does_no_io(source_type: str) -> None:
    open_connector(source_type, unusable(source_type), Limits()).close()  # driver imported once, lazily
    events = _recording.setdefault(threading.get_ident(), [])
    try:
        connector = open_connector(source_type, unusable(source_type), Limits())
        connector.close()
        connector.close()  # safe twice
    finally:
        del _recording[threading.get_ident()]
    assert events == []


@pytest.mark.parametrize("source_type", SOURCE_TYPES)
def test_failure_is_reported_by_test_not_raised(source_type: str) -> None:
    connector = open_connector(source_type, unusable(source_type), Limits())
    result = connector.test()
    connector.close()
    assert not result.success
    assert result.error_code in {"HOST_REFUSED", "PATH_REFUSED", "NO_SUCH_DATABASE"}
    assert result.message


def test_unknown_type_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown data source type"):
        open_connector("oracle", {}, Limits())
