"""Real servers for the gateway tests, on free 127.0.0.1 ports: upstreams, a remote legacy app, a gateway."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import httpx
import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp

from datalab.settings import Settings
from tests.edge_apps import edge_app, free_port

VENV_BIN = Path(sys.executable).parent
START_TIMEOUT = 30.0
_outputs: dict[int, IO[bytes]] = {}


def wait_for_port(
    port: int, process: subprocess.Popen[bytes] | None = None, timeout: float = START_TIMEOUT
) -> None:
    """Wait (at most `timeout` seconds) until something accepts connections on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{output_of(process)[-3000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:g}s")


@contextmanager
def upstream_process(*args: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run `tests.gateway_upstreams:app` under uvicorn in its own process; yield its URL and process."""
    port = free_port()
    command = [str(VENV_BIN / "uvicorn"), "tests.gateway_upstreams:app", "--port", str(port), *args]
    command += ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
    process = start(command, None)
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}", process
    finally:
        stop(process)


def start(command: list[str], env: dict[str, str] | None) -> subprocess.Popen[bytes]:
    """Start `command` with its output going to a temporary file (a pipe nobody reads would fill up)."""
    output = tempfile.TemporaryFile()  # closed by stop()
    process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
    _outputs[process.pid] = output
    return process


def output_of(process: subprocess.Popen[bytes]) -> str:
    """Return what `process` printed so far."""
    output = _outputs.get(process.pid)
    if output is None:
        return ""
    output.seek(0)
    return output.read().decode(errors="replace")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop `process` (SIGTERM, then SIGKILL after 10 s) and reap it."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    output = _outputs.pop(process.pid, None)
    if output is not None:
        output.close()


def settings_env(settings: Settings) -> dict[str, str]:
    """Return the environment giving a server process the same database, secrets and rules as `settings`."""
    return {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")},
        "ENV": "test",
        "VAR_DIR": str(settings.var_dir),
        "DATABASE_URL": settings.database.database_url,
        "JWT_SECRET_KEY": settings.security.jwt_secret,
        "DATA_ENCRYPTION_KEYS": ",".join(settings.security.fernet_keys),
        "BCRYPT_ROUNDS": str(settings.security.bcrypt_rounds),
        "MAX_BODY_BYTES": str(settings.edges.max_body_bytes),
        "DATA_DIR": str(settings.source_data_dir),
        "DATA_SOURCE_ALLOW_NETWORKS": ",".join(settings.connectors.data_source_allow_networks),
        "DATA_SOURCE_DENY_NETWORKS": ",".join(settings.connectors.data_source_deny_networks),
        "LOG_LEVEL": "WARNING",
    }


@contextmanager
def legacy_server(settings: Settings, **variables: str) -> Iterator[str]:
    """Run `datalab legacy-serve` on the test database, trusting 127.0.0.1 as its gateway; yield its URL.

    `variables` are more environment variables for it (OTEL_EXPORTER_OTLP_ENDPOINT...).
    """
    port = free_port()
    env = settings_env(settings) | {"TRUSTED_PROXIES": "127.0.0.1/32"} | variables
    command = [str(VENV_BIN / "datalab"), "legacy-serve", "--port", str(port), "--workers", "1"]
    process = start(command, env)
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


@contextmanager
def served(app: ASGIApp) -> Iterator[str]:
    """Serve `app` with uvicorn on a thread of this process; yield its URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class UpstreamControl:
    """Drives a `tests.gateway_upstreams` process through its /_ paths."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _call(self, path: str) -> dict[str, Any]:
        response = httpx.get(f"{self.url}{path}", timeout=10)
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    def reset(self) -> None:
        """Forget requests seen and stop failing."""
        self._call("/_reset")

    def seen(self, path: str) -> int:
        """Return how many requests for `path` the upstream got."""
        return int(self._call("/_stats")["seen"].get(path, 0))

    def stats(self) -> dict[str, Any]:
        """Return the counts and the bytes streamed so far each way."""
        return self._call("/_stats")

    def fail(self, count: int) -> None:
        """Make the next `count` requests answer 503."""
        self._call(f"/_fail?count={count}")

    def down(self) -> None:
        """Answer 503 to everything (health included) until `up()`."""
        self._call("/_down")

    def up(self) -> None:
        """Answer normally again."""
        self._call("/_up")


def service(name: str, *urls: str, **fields: Any) -> dict[str, Any]:
    """Return one SERVICES entry."""
    return {"name": name, "urls": list(urls), **fields}


@contextmanager
def gateway_app(settings: Settings, *services: dict[str, Any], **overrides: Any) -> Iterator[FastAPI]:
    """Yield a fresh app with `services` behind the gateway (rate limits off unless overridden)."""
    values = {"rate_limit_enabled": False, "services": json.dumps(list(services))} | overrides
    with edge_app(settings, **values) as app:
        yield app
