"""Running one configuration's server: start it pinned, wait until it answers, check it, stop it."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from benchmarks.configs import Measurement, Route, Server
from benchmarks.seed import PASSWORD, USER_EMAIL

ROOT = Path(__file__).resolve().parent.parent
READY_PATH = "/api/health"  # both the Flask app alone and the combined app answer it


class Unavailable(RuntimeError):
    """This build cannot serve the configuration as declared (the reason says why)."""


def free_port() -> int:
    """Return a port that is free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Running:
    """A started server: its process, address, log, and the bench user's token."""

    server: Server
    process: subprocess.Popen[bytes]
    base: str
    log: IO[bytes]
    token: str = ""
    routes: dict[str, Route] = field(default_factory=dict)

    def stop(self) -> None:
        """Stop the server, wait for it, and delete its log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)

    def log_tail(self) -> str:
        """Return the end of what the server wrote."""
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-1500:]


def start(server: Server, env: Mapping[str, str], cpu: int, timeout_s: float = 60) -> Running:
    """Start `server` with `env` on a free port pinned to `cpu`; return once it answers."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix=f"bench-{server.name}-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(  # noqa: S603 - a fixed command of our own
        server.command(port, cpu),
        cwd=ROOT,
        env={**os.environ, **env, **server.env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    running = Running(server, process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = running.log_tail()
            running.stop()
            raise Unavailable(f"{server.name} exited on start:\n{tail}")
        try:
            if httpx.get(running.base + READY_PATH, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        running.stop()
        raise Unavailable(f"{server.name} did not answer {READY_PATH} within {timeout_s:.0f} s")
    running.token = login(running.base, USER_EMAIL)
    return running


def login(base: str, email: str) -> str:
    """Sign in as `email` and return the access token."""
    response = httpx.post(f"{base}/api/auth/login", json=login_body(email), timeout=30)
    if response.status_code != 200:
        raise Unavailable(f"login as {email} answered {response.status_code}: {response.text[:200]}")
    return str(response.json()["access_token"])


def login_body(email: str) -> dict[str, str]:
    """Return the JSON body of a login as `email`."""
    return {"email": email, "password": PASSWORD}


def resolve(running: Running, measurement: Measurement) -> Route:
    """Return the first of the measurement's routes this server answers as declared.

    A route answers as declared when it gives 200, the expected body, and, on the
    combined stack, `X-Served-By` naming the half the configuration claims.
    """
    problems = []
    for route in measurement.routes:
        problem = check(running, measurement, route)
        if problem is None:
            running.routes[measurement.name] = route
            return route
        problems.append(f"{route.path}: {problem}")
    raise Unavailable("; ".join(problems))


def check(running: Running, measurement: Measurement, route: Route) -> str | None:
    """Send the measured request once; return what is wrong with the answer, or None."""
    url = running.base + route.path
    if measurement.login_email:
        response = httpx.post(url, json=login_body(measurement.login_email), timeout=30)
    else:
        headers = {"Authorization": f"Bearer {running.token}"}
        response = httpx.request(measurement.method, url, headers=headers, timeout=30)
    if response.status_code != 200:
        return f"answered {response.status_code}"
    served_by = response.headers.get("x-served-by")
    if running.server.names_server and served_by != route.served_by:
        return f"X-Served-By is {served_by!r}, not {route.served_by!r}"
    if not running.server.names_server and served_by is not None:
        return f"X-Served-By {served_by!r} from a server that should not add it"
    if measurement.items_key is not None:
        items = response.json().get(measurement.items_key)
        if not isinstance(items, list) or len(items) != 50:
            return f"expected the caller's 50 rows under {measurement.items_key!r}"
    return None
