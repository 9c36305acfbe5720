"""CPU per request of the list route with tracing off, on at a 10% sample and on at 100%, in one run.

uv run python -m benchmarks.tracing_overhead   (PostgreSQL at 127.0.0.1:5432; scratch database)

As benchmarks/run.py measures the list route (GET /api/v1/data-sources?limit=50, the caller
owning 50 sources, production settings, LOG_LEVEL=WARNING), but in process: three apps, one
per setting, are called through ASGI directly inside their lifespans, in alternating rounds so
each sees the same machine noise. CPU is the whole process's (`time.process_time`, every
thread), and each round ends with a flush of its exporter, so the cost of serialising and
sending the spans is charged to the variant that made them. The spans go over OTLP/HTTP to a
sink in another process that reads and discards them.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import MutableMapping
from contextlib import AsyncExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.fernet import Fernet
from fastapi import FastAPI
from sqlalchemy.orm import Session

from benchmarks import seed
from datalab.services import sessions
from datalab.settings import Settings
from fastapi_app.main import create_app
from shared_models import User

DATABASE = "datalab_bench_tracing"
ROUNDS, REQUESTS, WARM_UP = 7, 300, 100
PATH, QUERY = "/api/v1/data-sources", b"limit=50"
VARIANTS = {"off": None, "on, 10% sampled": 0.1, "on, 100% sampled": 1.0}


def _sink(port: int) -> None:
    """Serve an OTLP/HTTP endpoint that accepts and drops every export (run in its own process)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def _scope(token: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "root_path": "",
        "query_string": QUERY,
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("203.0.113.7", 5000),
        "server": ("testserver", 80),
    }


async def _cpu_per_request_us(app: FastAPI, token: str, requests: int) -> float:
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    start = time.process_time()
    for _ in range(requests):
        await app(_scope(token), receive, send)
    if app.state.tracing is not None:
        app.state.tracing.flush()  # export now: this variant pays for its own spans
    spent = time.process_time() - start
    assert set(statuses) == {200}, statuses
    return spent / requests * 1e6


async def _measure(apps: dict[str, FastAPI], token: str) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {name: [] for name in apps}
    async with AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        for app in apps.values():
            await _cpu_per_request_us(app, token, WARM_UP)
        for _ in range(ROUNDS):
            for name, app in apps.items():
                found[name].append(await _cpu_per_request_us(app, token, REQUESTS))
    return found


def _apps(base: Settings, endpoint: str) -> dict[str, FastAPI]:
    traced = {"otel_exporter_otlp_endpoint": endpoint, "otel_traces_sampler": "parentbased_traceidratio"}
    return {
        name: create_app(
            base if ratio is None else base.model_copy(update={**traced, "otel_traces_sampler_arg": ratio})
        )
        for name, ratio in VARIANTS.items()
    }


def _token(app: FastAPI, settings: Settings, user_id: int) -> str:
    with Session(app.state.engine) as session:
        pair = sessions.sign_in(session, settings, session.get_one(User, user_id))
        session.commit()
    return pair.access.token


def main() -> None:
    """Seed the scratch database, start the sink, and print each variant's CPU per request."""
    if sys.argv[1:2] == ["--sink"]:
        _sink(int(sys.argv[2]))
        return
    base = Settings(
        _env_file=None,
        env="production",
        database_url=seed.database_url(DATABASE),
        jwt_secret_key=secrets.token_urlsafe(48),
        encryption_keys=Fernet.generate_key().decode(),
        log_level="WARNING",
        rate_limit_enabled=False,
        allowed_hosts="testserver",
    )
    seed.create_database(DATABASE)
    port = 4318 + secrets.randbelow(1000)
    sink = subprocess.Popen([sys.executable, "-m", "benchmarks.tracing_overhead", "--sink", str(port)])  # noqa: S603
    apps: dict[str, FastAPI] = {}
    try:
        data = seed.seed(base, DATABASE)
        data.analyse()
        data.connection.close()
        apps = _apps(base, f"http://127.0.0.1:{port}")
        found = asyncio.run(_measure(apps, _token(apps["off"], base, data.user_id)))
    finally:
        sink.terminate()
        sink.wait(timeout=10)
        for app in apps.values():
            app.state.engine.dispose()
        seed.drop_database(DATABASE)
    off = statistics.median(found["off"])
    print(f"GET {PATH}?{QUERY.decode()}: CPU per request, median of {ROUNDS} rounds of {REQUESTS}")
    for name, samples in found.items():
        median = statistics.median(samples)
        spread = f"{min(samples):.0f}-{max(samples):.0f}"
        print(f"  tracing {name:<18} {median:7.0f} us  (rounds {spread})  {100 * (median / off - 1):+5.1f}%")


if __name__ == "__main__":
    main()
