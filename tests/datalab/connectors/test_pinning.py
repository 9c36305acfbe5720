"""DNS rebinding and hung servers: the checked address is the one connected to, and nothing hangs.

A resolver is swapped in for one made-up name only (every other lookup goes to the real one):
its first answer is the allowed test address, every later answer the cloud metadata address.
If any driver resolved the name again itself, it would reach the refused address.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from datalab.connectors import ConnectorError, Limits, open_connector
from tests.datalab.connectors.rest_server import RestServer

REBIND = "rebind.datalab.test"


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make REBIND answer 127.0.0.1 once, then 169.254.169.254; return the answers given."""
    real = socket.getaddrinfo
    answers: list[str] = []

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != REBIND:
            return real(host, port, *args, **kwargs)
        answers.append("127.0.0.1" if not answers else "169.254.169.254")
        return real(answers[-1], port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return answers


def test_rest_connects_to_the_checked_address(
    rebinding_dns: list[str], rest_server: RestServer, limits: Limits
) -> None:
    connector = open_connector("rest_api", {"base_url": f"http://{REBIND}:{rest_server.port}"}, limits)
    result = connector.query("/items?n=2", 10)
    connector.close()
    assert result.row_count == 2
    assert rebinding_dns == ["127.0.0.1"]
    # The server saw the name in the Host header: virtual hosting and TLS keep working.
    assert rest_server.seen[-1][1]["Host"] == f"{REBIND}:{rest_server.port}"


def test_postgresql_connects_to_the_checked_address(
    rebinding_dns: list[str], pg_source: dict[str, Any], limits: Limits
) -> None:
    """libpq gets hostaddr; it never resolves the name (its resolver would not even know it)."""
    connector = open_connector("postgresql", {**pg_source, "host": REBIND}, limits)
    result = connector.test()
    connector.close()
    assert result.success, result.message
    assert rebinding_dns == ["127.0.0.1"]


def test_mysql_connects_to_the_checked_address(
    rebinding_dns: list[str], mysql_source: dict[str, Any], limits: Limits
) -> None:
    connector = open_connector("mysql", {**mysql_source, "host": REBIND}, limits)
    result = connector.test()
    connector.close()
    assert result.success, result.message
    assert rebinding_dns == ["127.0.0.1"]


def test_name_with_one_refused_answer_is_refused(monkeypatch: pytest.MonkeyPatch, limits: Limits) -> None:
    """Every address a name resolves to is checked, not just the first."""
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != REBIND:
            return real(host, port, *args, **kwargs)
        return real("10.0.0.1", port, *args, **kwargs) + real("169.254.169.254", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    result = open_connector("rest_api", {"base_url": f"http://{REBIND}/"}, limits).test()
    assert (result.success, result.error_code) == (False, "HOST_REFUSED")


@pytest.fixture
def tarpit() -> Iterator[int]:
    """A TCP server that accepts connections and never says a word; its port."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.parametrize(
    ("source_type", "config"),
    [
        ("postgresql", {"database": "x", "username": "u", "password": "p"}),
        ("mysql", {"database": "x", "username": "u", "password": "p"}),
        ("rest_api", {}),
    ],
)
def test_hung_server_times_out(tarpit: int, limits: Limits, source_type: str, config: dict[str, Any]) -> None:
    """A server that accepts and then stays silent costs a bounded wait and a TIMEOUT, not a hang."""
    full = {**config, "host": "127.0.0.1", "port": tarpit, "base_url": f"http://127.0.0.1:{tarpit}/"}
    fast = replace(limits, connect_timeout_s=1.0, query_timeout_s=1.0)
    started = time.monotonic()
    result = open_connector(source_type, full, fast).test()
    elapsed = time.monotonic() - started
    assert (result.success, result.error_code) == (False, "TIMEOUT")
    assert elapsed < 5


def test_connector_error_carries_no_secret(pg_source: dict[str, Any], limits: Limits) -> None:
    config = {**pg_source, "username": "no_such_role", "password": "S3cret-Value-42"}
    result = open_connector("postgresql", config, limits).test()
    assert "S3cret-Value-42" not in repr(result)
    with pytest.raises(ConnectorError) as caught:
        open_connector("postgresql", config, limits).query("SELECT 1", 1)
    assert "S3cret-Value-42" not in repr(caught.value) + str(caught.value.__cause__)
