"""The production server (`datalab serve --workers 2`) as a subprocess on a free 127.0.0.1 port, for tests.

Each new connection lands on one worker; `/health` names the worker's pid, so a request
sent right after it on the same keep-alive connection is known to be served by that worker.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.edge_apps import free_port

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 120  # a loaded CI machine imports slowly


@dataclass
class Answer:
    """One HTTP answer."""

    status: int
    headers: dict[str, str]
    body: Any


def call(
    connection: http.client.HTTPConnection, method: str, path: str, body: Any = None, token: str | None = None
) -> Answer:
    """Send one request on `connection` and read the whole answer."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = connection.getresponse()
    raw = response.read()
    content_type = response.getheader("content-type", "")
    parsed = json.loads(raw) if content_type.startswith("application/json") else raw.decode()
    return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, parsed)


@dataclass
class Server:
    """The running server: where it listens, and its log."""

    port: int
    log: Path

    def connect(self) -> tuple[http.client.HTTPConnection, int]:
        """Open a new connection and return it with the pid of the worker that took it."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        return connection, call(connection, "GET", "/health").body["pid"]

    def connection_to(self, pid: int, attempts: int = 100) -> http.client.HTTPConnection:
        """Open connections until one lands on worker `pid` (bounded)."""
        for _ in range(attempts):
            connection, served_by = self.connect()
            if served_by == pid:
                return connection
            connection.close()
        raise AssertionError(f"no connection reached worker {pid} in {attempts} attempts")


@contextmanager
def production_server(env: dict[str, str], folder: Path) -> Iterator[Server]:
    """Run the README's production command with 2 workers and `env`; stop its whole process group after."""
    port = free_port()
    log = folder / "server.log"
    command = [str(Path(sys.executable).parent / "datalab"), "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "2"]
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_until_ready(port, process, log)
        yield Server(port, log)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _wait_until_ready(port: int, process: subprocess.Popen[bytes], log: Path, workers: int = 2) -> None:
    """Wait until every worker answers `/health/ready`: one ready worker is not a ready server."""
    deadline = time.monotonic() + START_SECONDS
    seen: set[int] = set()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text()[-3000:]}")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            if call(connection, "GET", "/health/ready").status == 200:
                seen.add(call(connection, "GET", "/health").body["pid"])  # the same worker, same connection
                if len(seen) == workers:
                    return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.05 if seen else 0.2)
    raise AssertionError(
        f"{len(seen)} of {workers} workers were ready in {START_SECONDS} s: {log.read_text()[-3000:]}"
    )
